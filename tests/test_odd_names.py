"""Names from operators and from clusters never break a page or a command: a cluster name is a DNS
label, checked at every way in; any namespace name (a hostile dump's `a/b` included) gets a working URL."""

import pytest
import yaml
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from inventory.importing import import_dump
from inventory.models import Cluster
from tests.cases.runner import CASES, TAKEN_AT, assemble
from tests.factories import dashboard_admin

pytestmark = pytest.mark.django_db

BAD_CLUSTER_NAMES = ["prod.eu", "a/b", "Prod", "-x", "x-", "", "a" * 64, "ns with space", "<b>x</b>"]
ODD_NAMESPACES = ["a/b", "c~2Fd", "q?x#y%z", "über"]


@pytest.mark.parametrize("name", BAD_CLUSTER_NAMES)
def test_a_bad_cluster_name_is_refused_by_the_model(name):
    with pytest.raises(ValidationError, match="invalid cluster name"):
        Cluster.objects.create(name=name, source=Cluster.Source.OFFLINE)
    with pytest.raises(ValidationError) as refused:
        Cluster(name=name, source=Cluster.Source.OFFLINE).full_clean()
    assert "name" in refused.value.message_dict  # the admin's form shows it on the field
    assert not Cluster.objects.exists()


@pytest.mark.parametrize("name", ["prod.eu", "Prod"])
def test_commands_refuse_a_bad_cluster_name_with_a_clear_error(name, tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("{}")
    with pytest.raises(CommandError, match="invalid cluster name"):
        call_command("add_cluster", name, "--kubeconfig", str(kubeconfig))
    with pytest.raises(CommandError, match="invalid cluster name"):
        call_command("snapshot", "--cluster", name, "--from-dump", str(CASES / "base"))
    assert not Cluster.objects.exists()


def test_a_valid_name_is_kept():
    assert Cluster.objects.create(name="prod-eu-1", source=Cluster.Source.OFFLINE).name == "prod-eu-1"


def _dump_with_odd_namespaces(tmp_path):
    dump = assemble(CASES / "base", tmp_path, {})
    listing = dump / "kubernetes" / "namespaces.yaml"
    namespaces = yaml.safe_load(listing.read_text())
    for index, name in enumerate(ODD_NAMESPACES):
        namespaces["items"].append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {
                    "name": name,
                    "uid": f"0dd00000-0000-4000-8000-{index:012d}",
                    "creationTimestamp": "2026-01-01T00:00:00Z",
                },
            }
        )
    listing.write_text(yaml.safe_dump(namespaces))
    return dump


def test_odd_namespace_names_get_working_pages(client, tmp_path):
    assert import_dump("odd", _dump_with_odd_namespaces(tmp_path), taken_at=TAKEN_AT).is_visible
    client.force_login(dashboard_admin())
    listing = client.get("/clusters/odd/")
    assert listing.status_code == 200
    html = listing.content.decode()
    for name in ODD_NAMESPACES:
        url = reverse("namespace", args=["odd", name])
        assert url.count("/") == 5, url  # the name stays one path segment
        assert f'href="{url}"' in html
        page = client.get(url)
        assert page.status_code == 200, (name, url)
        assert page.context["namespace"] == name
    assert client.get("/clusters/odd/namespaces/a~2Fc/").status_code == 404


def test_a_cluster_stored_under_an_old_invalid_name_still_has_pages(client, tmp_path):
    """Names stored before the check existed (written past `save`) must not turn pages into 500s."""
    assert import_dump("legacy", assemble(CASES / "base", tmp_path, {}), taken_at=TAKEN_AT).is_visible
    Cluster.objects.filter(name="legacy").update(name="prod.eu")
    client.force_login(dashboard_admin())
    overview = client.get("/")
    assert overview.status_code == 200 and 'href="/clusters/prod.eu/"' in overview.content.decode()
    assert client.get("/clusters/prod.eu/").status_code == 200
