"""The admin site shows what snapshots recorded (snapshots, inventory, findings with their events and
suppressions) read-only, JSON readable and escaped; it goes only with its cluster."""

import re
from collections import Counter
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.db.models.deletion import Collector
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.text import capfirst

from exposure.findings import suppress
from exposure.models import Finding, FindingEvent, Suppression
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.snapshotting import queue_snapshot, run_snapshot
from tenancy.models import Grant
from tests.factories import collection, obj, pod

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def recorded():
    """A cluster with a snapshot (a hostile label and warning in it) and a finding with history."""
    cluster = Cluster.objects.create(name="prod", source=Cluster.Source.OFFLINE, tenant_label="team")
    objects = [
        obj("Namespace", "team-a", metadata={"labels": {"team": HOSTILE}}),
        pod(
            "web-1",
            "team-a",
            containers=[{"name": "app", "image": "x", "securityContext": {"privileged": True}}],
        ),
    ]
    snapshot = run_snapshot(queue_snapshot(cluster), lambda: collection(objects))
    snapshot.warnings = [f"odd file {HOSTILE}"]
    snapshot.save()
    finding = Finding.objects.get(cluster=cluster, rule="privileged-container")
    return cluster, snapshot, finding


@pytest.fixture
def superuser(client):
    user = User.objects.create_superuser("root", "root@example.com", "pw-root-1")
    client.force_login(user)
    return user


def _models(recorded):
    cluster, snapshot, finding = recorded
    namespace = InventoryObject.objects.get(cluster=cluster, kind="Namespace")
    return [
        ("inventory/snapshot", snapshot.pk),
        ("exposure/finding", finding.pk),
        ("inventory/inventoryobject", namespace.pk),
    ]


def test_history_is_viewed_never_added_changed_or_deleted(client, recorded, superuser):
    inventory = InventoryObject.objects.count()
    for path, pk in _models(recorded):
        listing = client.get(f"/admin/{path}/")
        assert listing.status_code == 200, path
        assert f'href="/admin/{path}/add/"' not in listing.content.decode()
        assert 'value="delete_selected"' not in listing.content.decode(), path
        view = client.get(f"/admin/{path}/{pk}/change/")
        assert view.status_code == 200 and 'name="_save"' not in view.content.decode(), path
        assert client.get(f"/admin/{path}/add/").status_code == 403, path
        assert client.post(f"/admin/{path}/{pk}/change/", {}).status_code == 403, path
        assert client.get(f"/admin/{path}/{pk}/delete/").status_code == 403, path
        assert client.post(f"/admin/{path}/{pk}/delete/", {"post": "yes"}).status_code == 403, path
        changelist = client.post(f"/admin/{path}/", {"action": "delete_selected", "_selected_action": [pk]})
        assert changelist.status_code in (200, 302), path
    cluster, snapshot, finding = recorded
    assert Snapshot.objects.filter(pk=snapshot.pk).exists() and Finding.objects.filter(pk=finding.pk).exists()
    assert InventoryObject.objects.filter(cluster=cluster).count() == inventory


def test_json_is_shown_indented_and_escaped(client, recorded, superuser):
    cluster, snapshot, finding = recorded
    page = client.get(f"/admin/inventory/snapshot/{snapshot.pk}/change/").content.decode()
    assert HOSTILE not in page and "odd file &lt;script&gt;" in page
    counts = re.search(r"<pre>(\{\n.*?\n\})</pre>", page, re.S).group(1)
    assert "\n  &quot;Namespace&quot;: 1,\n" in counts, "indented, one key a line"
    page = client.get(f"/admin/inventory/inventoryobject/{_models(recorded)[2][1]}/change/").content.decode()
    assert HOSTILE not in page and "&quot;team&quot;: &quot;&lt;script&gt;" in page
    page = client.get(f"/admin/exposure/finding/{finding.pk}/change/").content.decode()
    assert "<pre>[\n  &quot;team-a&quot;\n]</pre>" in page  # its namespaces
    assert f'href="/findings/{finding.pk}/"' in page, "suppress and lift on the finding's page"


def test_a_findings_suppressions_and_events_are_read_only_there(client, recorded, superuser):
    from datetime import timedelta

    from django.utils import timezone

    _, _, finding = recorded
    suppress(finding, f"accepted {HOSTILE}", timezone.now() + timedelta(days=7), superuser)
    page = client.get(f"/admin/exposure/finding/{finding.pk}/change/").content.decode()
    assert "accepted &lt;script&gt;" in page and HOSTILE not in page
    assert 'name="suppressions-0-reason"' not in page and 'name="suppressions-0-lifted_at"' not in page
    assert "suppressed" in page and "opened" in page, "the finding's events"
    # Nothing a form could post changes it.
    client.post(f"/admin/exposure/finding/{finding.pk}/change/", {"suppressions-0-lifted_at": "2026-01-01"})
    assert Suppression.objects.get(finding=finding).lifted_at is None
    assert FindingEvent.objects.filter(finding=finding).count() == 2


def test_deleting_a_cluster_takes_its_history(client, recorded, superuser):
    cluster, snapshot, finding = recorded
    confirm = client.get(f"/admin/inventory/cluster/{cluster.pk}/delete/")
    assert confirm.status_code == 200 and "permission to delete" not in confirm.content.decode()
    assert client.post(f"/admin/inventory/cluster/{cluster.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Cluster.objects.exists() and not Snapshot.objects.exists() and not Finding.objects.exists()
    assert not InventoryObject.objects.exists()


@pytest.mark.postgres_too
def test_the_delete_confirmation_counts_what_the_deletion_takes_without_loading_rows(
    client, recorded, superuser
):
    """Each model that goes with the cluster, grandchildren of its findings included, counted by one
    COUNT each (Django's collector loads every finding to reach their events: seconds at scale)."""
    cluster, _, finding = recorded
    suppress(finding, "accepted", timezone.now() + timedelta(days=7), superuser)
    Grant.objects.create(user=superuser, cluster=cluster, namespace="team-a")
    collector = Collector(using="default", origin=[cluster])
    collector.collect([cluster])
    taken = Counter({model: len(rows) for model, rows in collector.data.items()})
    for queryset in collector.fast_deletes:
        taken[queryset.model] += queryset.count()
    with CaptureQueriesContext(connection) as queries:
        page = client.get(f"/admin/inventory/cluster/{cluster.pk}/delete/").content.decode()
    shown = dict(re.findall(r"<li>([A-Z][\w ]+): ([\d,]+)</li>", page))
    expected = {capfirst(model._meta.verbose_name_plural): f"{n:,}" for model, n in taken.items() if n}
    assert shown == expected and {"Finding events", "Suppressions", "Grants"} <= set(shown)
    history = ("exposure_", "inventory_snapshot", "inventory_inventoryobject", "tenancy_")
    loaded = [q["sql"] for q in queries if any(t in q["sql"] for t in history) and "COUNT(*)" not in q["sql"]]
    assert not loaded, "no row of the history is loaded"


def test_the_snapshot_list_says_what_was_not_read_and_what_failed(client, recorded, superuser):
    cluster, snapshot, _ = recorded
    snapshot.unread = {"NetworkPolicy": "403"}
    snapshot.facts = {
        **snapshot.facts,
        "analysis": {**snapshot.facts["analysis"], "failed": {"host-network": "x"}},
    }
    snapshot.save()
    page = client.get("/admin/inventory/snapshot/").content.decode()
    assert "rules failed: host-network" in page
    assert re.search(r'<td class="field-not_read">1</td>', page)
    assert f'<td class="field-objects">{sum(snapshot.counts.values())}</td>' in page
