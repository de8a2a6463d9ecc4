"""An access-control object the array did not answer for is unknown, never "admits no one"."""

import pytest

from arrays.volume_access import VOLUME_ACCESS, records_as_of
from inventory.importing import import_dump
from tests.cases.runner import CASES, TAKEN_AT, assemble, configure_cluster
from tests.factories import dashboard_admin

pytestmark = pytest.mark.django_db


def test_an_unread_export_policy_is_unknown_on_the_record_and_the_page(tmp_path, client):
    cluster = configure_cluster("dead", {})
    snapshot = import_dump(cluster.name, assemble(CASES / "exports" / "dead-array", tmp_path, {}), TAKEN_AT)
    assert snapshot.status == "partial" and any("export-policies" in key for key in snapshot.unread)
    joined = [r for r in records_as_of(snapshot)[VOLUME_ACCESS].values() if r["object"]]
    assert joined and all(r["unknown"] and r["admitted"] == [] for r in joined)
    assert all(g["unread"] for r in joined for g in r["gates"] if g["kind"] == "export-policy")
    client.force_login(dashboard_admin())
    html = client.get(f"/clusters/dead/namespaces/{joined[0]['namespaces'][0]}/").content.decode()
    assert "who it admits is unknown" in html and "admits no one" not in html
