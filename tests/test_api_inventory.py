"""clusters/, snapshots (request one: 202, then poll), namespaces/, a namespace, its paths/,
volumes/, arrays/, backends/, rules/, timeline/, and `as_of`: scoped as the pages are."""

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.urls import reverse

from exposure.catalog import catalog
from exposure.rules import ALL_RULES
from inventory.importing import import_dump
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.tasks import snapshot_now
from tests.api_support import *  # noqa: F403 (its fixtures)
from tests.api_support import error_of
from tests.cases.runner import CASES, TAKEN_AT, assemble
from tests.factories import collection, obj, pod

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]
LATER = TAKEN_AT + timedelta(days=1)


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.API_THROTTLE_RATE = None


@pytest.fixture
def second_snapshot(clusters, tmp_path) -> Snapshot:
    """prod a day later, with a namespace more (alpha-new, tenant alpha)."""
    dump = assemble(CASES / "web" / "hostile-share", tmp_path / "later", {})
    listing = dump / "kubernetes" / "namespaces.yaml"
    namespaces = yaml.safe_load(listing.read_text())
    model = next(n for n in namespaces["items"] if n["metadata"]["name"] == "alpha-web")
    added = yaml.safe_load(yaml.safe_dump(model))
    added["metadata"].update(name="alpha-new", uid="a1b2c3d4-0000-4000-8000-000000000001")
    added["metadata"]["labels"]["kubernetes.io/metadata.name"] = "alpha-new"
    namespaces["items"].append(added)
    listing.write_text(yaml.safe_dump(namespaces))
    snapshot = import_dump("prod", Path(dump), taken_at=LATER)
    assert snapshot.is_visible and snapshot.seq == 2
    return snapshot


def names(rows, cluster="prod") -> list[str]:
    return [r["name"] for r in rows if r["cluster"] == cluster]


def test_clusters_carry_the_counts_tools_need(clusters, admin_api, alice_api):
    rows = admin_api.every("clusters/")
    assert [c["name"] for c in rows] == ["prod", "shared"]
    prod = admin_api.get("clusters/prod/")[1]
    assert prod == rows[0]
    assert prod["latest_snapshot"]["status"] == "complete" and prod["running_snapshot"] is None
    open_findings = admin_api.every("findings/", cluster="prod")
    assert sum(prod["open_findings"].values()) == len(open_findings) > 0
    assert prod["namespace_count"] == len(names(admin_api.every("namespaces/", cluster="prod")))
    assert sum(prod["grades"].values()) == prod["namespace_count"] and prod["grade"] is not None
    hers = alice_api.get("clusters/prod/")[1]
    assert hers["namespace_count"] == 2 and hers["grade"] is None
    assert sum(hers["open_findings"].values()) == len(alice_api.every("findings/", cluster="prod"))
    Cluster.objects.create(name="elsewhere", source="offline")
    assert alice_api.get("clusters/elsewhere/")[0] == 404
    assert [c["name"] for c in alice_api.every("clusters/")] == ["prod", "shared"]


def test_namespaces_list_detail_and_paths_as_the_pages_scope_them(clusters, admin_api, alice_api):
    everyone = admin_api.every("namespaces/")
    assert {r["cluster"] for r in everyone} == {"prod", "shared"}
    assert [(r["cluster"], r["name"]) for r in everyone] == sorted(
        (r["cluster"], r["name"]) for r in everyone
    )
    hers = alice_api.every("namespaces/")
    assert {(r["cluster"], r["name"]) for r in hers} == {
        ("prod", "alpha-web"),
        ("prod", "alpha-db"),
        ("shared", "alpha-db"),
        ("shared", "alpha-web"),
    } & {(r["cluster"], r["name"]) for r in everyone}
    assert all(r["tenant"] == "alpha" for r in hers)
    paged = admin_api.every("namespaces/", page_size="2")
    assert paged == everyone, "pages of two read the same list"
    web = alice_api.get("namespaces/prod/alpha-web/")[1]
    assert web["grade"] == "D" and web["open_violations"]["high"] == 1 and web["pvcs"] == 1
    assert web["paths_url"].endswith("/api/v1/namespaces/prod/alpha-web/paths/")
    paths = alice_api.every("namespaces/prod/alpha-web/paths/")
    assert paths and "beta" not in str(paths) and "another tenant" in str(paths)
    assert "beta-app" in str(admin_api.every("namespaces/prod/alpha-web/paths/"))
    for answer in (
        alice_api.get("namespaces/prod/beta-app/"),
        alice_api.get("namespaces/prod/beta-app/paths/"),
        alice_api.get("namespaces/prod/nowhere/"),
        alice_api.get("namespaces/nowhere/alpha-web/"),
    ):
        assert answer[0] == 404 and error_of(answer[1])["code"] == "not_found"
    assert alice_api.get("namespaces/", cluster="nowhere")[0] == 400


def test_volumes_name_claim_array_object_and_whom_it_admits(clusters, admin_api, alice_api):
    everything = admin_api.every("volumes/")
    assert everything and all(v["kind"] in ("VolumeAccess", "InlineVolumeAccess") for v in everything)
    keys = [(v["cluster"], v["namespace"], v["kind"], v["name"]) for v in everything]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    ledger = next(v for v in everything if v["pvc"] == "ledger")
    assert ledger["pv"] == ledger["name"] and ledger["object"]["name"] and ledger["admitted"]
    assert {"party", "verdict"} <= set(ledger["admitted"][0])
    assert admin_api.every("volumes/", page_size="1") == everything
    hers = alice_api.every("volumes/")
    assert hers and {v["namespace"] for v in hers} <= {"alpha-web", "alpha-db"}
    assert "beta" not in str(hers)
    only = admin_api.every("volumes/", cluster="shared", namespace="alpha-db")
    assert only and {(v["cluster"], v["namespace"]) for v in only} == {("shared", "alpha-db")}
    assert alice_api.every("volumes/", namespace="beta-jobs") == []


def test_as_of_gives_the_cluster_as_it_was(second_snapshot, admin_api):
    first = Snapshot.objects.get(cluster__name="prod", seq=1)
    now = names(admin_api.every("namespaces/", cluster="prod"))
    assert "alpha-new" in now
    for as_of in (
        str(first.pk),
        TAKEN_AT.isoformat(),
        (LATER - timedelta(seconds=1)).isoformat(),
        "2026-06-02",
    ):
        then = admin_api.every("namespaces/", cluster="prod", as_of=as_of)
        assert names(then) == [n for n in now if n != "alpha-new"], as_of
        assert {r["snapshot"] for r in then} == {first.pk}
    assert admin_api.get("namespaces/prod/alpha-new/", as_of=str(first.pk))[0] == 404
    assert admin_api.get("namespaces/prod/alpha-new/")[0] == 200
    assert admin_api.get("namespaces/prod/alpha-web/", as_of=str(first.pk))[1]["snapshot"] == first.pk
    # Before the first snapshot, nothing was known; a snapshot id of another cluster is not offered.
    assert admin_api.every("namespaces/", cluster="prod", as_of="2020-01-01") == []
    other = Snapshot.objects.get(cluster__name="shared")
    status, body = admin_api.get("namespaces/", cluster="prod", as_of=str(other.pk))
    assert status == 400 and set(error_of(body)["details"]) == {"as_of"}
    for bad in ("yesterday", "2026-13-01", "-1", "1e5", "9" * 40):
        assert admin_api.get("volumes/", as_of=bad)[0] == 400, bad
    # Across clusters a time gives each cluster its own snapshot; a snapshot id keeps its cluster.
    across = admin_api.every("namespaces/", as_of=TAKEN_AT.isoformat())
    assert {r["cluster"] for r in across} == {"prod", "shared"}
    assert {r["cluster"] for r in admin_api.every("namespaces/", as_of=str(first.pk))} == {"prod"}
    assert {v["cluster"] for v in admin_api.every("volumes/", as_of=str(other.pk))} == {"shared"}
    assert admin_api.every("backends/", as_of=str(other.pk))


def test_a_requested_snapshot_is_202_with_its_url_then_polled(db, admin_api, alice_api, settings):
    cluster = Cluster.objects.create(name="live", source=Cluster.Source.KUBECONFIG)
    response = admin_api.response("post", "clusters/live/snapshots/")
    assert response.status_code == 202
    shown = response.json()
    assert shown["status"] == "queued" and response["Location"] == shown["url"]
    assert shown["url"].endswith(reverse("api-snapshot-detail", kwargs={"snapshot": shown["id"]}))
    again = admin_api.response("post", "clusters/live/snapshots/")
    assert again.status_code == 202 and again.json()["id"] == shown["id"], "queued is one request"
    path = shown["url"].split("testserver", 1)[1]
    assert admin_api.get(path)[1]["status"] == "queued"
    # The embedded scheduler (or a worker) runs it: polling then sees it finish.
    snapshot = Snapshot.objects.get(pk=shown["id"])
    done = snapshot_now(
        cluster, snapshot, source=lambda: collection([obj("Namespace", "team-a"), pod("p", "team-a")])
    )
    assert done.status == "complete"
    polled = admin_api.get(path)[1]
    assert polled["status"] == "complete" and polled["finished_at"] and polled["unread"] == {}
    listed = admin_api.every("clusters/live/snapshots/")
    assert [s["id"] for s in listed] == [shown["id"]]
    assert admin_api.get("clusters/live/")[1]["latest_snapshot"]["id"] == shown["id"]
    # Only admins request; offline and disabled clusters are not snapshotted.
    Cluster.objects.create(name="offline", source=Cluster.Source.OFFLINE)
    status, body = admin_api.post("clusters/offline/snapshots/")
    assert status == 409 and error_of(body)["code"] == "conflict"
    assert alice_api.post("clusters/live/snapshots/")[0] == 404, "a cluster she does not see"


def test_with_a_broker_the_request_sends_the_task_at_once(db, admin_api, settings, monkeypatch):
    sent = []
    monkeypatch.setattr(
        "api.views.clusters.snapshot_cluster.apply_async", lambda args, **kwargs: sent.append(args)
    )
    settings.CELERY_TASK_ALWAYS_EAGER = False
    cluster = Cluster.objects.create(name="live", source=Cluster.Source.KUBECONFIG)
    status, shown = admin_api.post("clusters/live/snapshots/")
    assert status == 202 and sent == [(cluster.pk, shown["id"])]
    assert Snapshot.objects.get(pk=shown["id"]).dispatched_at is not None


def test_a_tenant_sees_its_clusters_snapshots_without_the_admins_details(clusters, alice_api, admin_api):
    hers = alice_api.every("clusters/prod/snapshots/")
    assert len(hers) == 1 and hers[0]["unread"] is None and hers[0]["error"] is None
    assert admin_api.every("clusters/prod/snapshots/")[0]["unread"] == {}
    status, body = alice_api.post("clusters/prod/snapshots/")
    assert status == 403 and error_of(body)["code"] == "permission_denied"
    assert alice_api.get(f"snapshots/{hers[0]['id']}/")[0] == 200
    Cluster.objects.create(name="elsewhere", source="offline")
    theirs = Snapshot.objects.create(cluster=Cluster.objects.get(name="elsewhere"), seq=1, taken_at=TAKEN_AT)
    assert alice_api.get(f"snapshots/{theirs.pk}/")[0] == 404


def test_arrays_are_admins_backends_as_the_storage_page_rules_everyones(clusters, admin_api, alice_api):
    from arrays.models import Array

    Array.objects.create(name="nas-1", kind="ontap", host="127.0.0.1", port=8443, credentials="env:ARRAY_X")
    arrays = admin_api.every("arrays/")
    assert arrays == [
        {"name": "nas-1", "kind": "ontap", "endpoint": "https://127.0.0.1:8443", "enabled": True}
    ]
    assert alice_api.every("arrays/") == []
    backends = admin_api.every("backends/", cluster="shared")
    assert backends and all(b["cluster"] == "shared" and b["status"] for b in backends)
    hers = alice_api.every("backends/")  # the backends holding her volumes, as on the storage page
    assert hers and all(b["volumes"] > 0 for b in hers)
    assert {b["uuid"] for b in hers} < {b["uuid"] for b in admin_api.every("backends/")}
    rules = alice_api.every("rules/", page_size="5")
    assert [r["slug"] for r in rules] == [r.slug for r in ALL_RULES]
    assert rules == catalog(), "the CLI's and the rules page's rows"


def test_timeline_gives_grades_and_open_counts_over_time(second_snapshot, admin_api, alice_api):
    everything = admin_api.every("timeline/", cluster="prod")
    assert {r["namespace"] for r in everything} >= {"", "alpha-web", "alpha-new"}
    web = admin_api.every("timeline/", cluster="prod", namespace="alpha-web")
    assert web[0]["grade"] == "D" and web[0]["open_violations"]["high"] == 1 and web[0]["end"] is None
    new = admin_api.every("timeline/", cluster="prod", namespace="alpha-new")
    assert new[0]["start"] == LATER.isoformat().replace("+00:00", "Z")
    assert (
        admin_api.every("timeline/", cluster="prod", namespace="alpha-new", until=TAKEN_AT.isoformat()) == []
    )
    assert admin_api.every("timeline/", cluster="prod", namespace="alpha-web", since="2027-01-01") == web
    assert admin_api.get("timeline/", since="soon")[0] == 400
    hers = alice_api.every("timeline/")
    assert hers and {r["namespace"] for r in hers} <= {"alpha-web", "alpha-db", "alpha-new"}
    assert alice_api.every("timeline/", cluster="prod", namespace="beta-app") == []
    assert InventoryObject.objects.filter(kind="Namespace", name="alpha-new").exists()
