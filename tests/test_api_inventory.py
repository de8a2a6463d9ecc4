"""clusters/, snapshots (request one: 202, then poll), namespaces/, a namespace, its paths/,
volumes/, arrays/, backends/, rules/, timeline/, and `as_of`: scoped as the pages are."""

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from django.urls import reverse

from arrays.models import Array
from exposure.catalog import catalog
from exposure.models import Finding, FindingNamespace
from exposure.rules import ALL_RULES
from inventory.importing import import_dump
from inventory.models import Cluster, Snapshot
from inventory.tasks import snapshot_now
from tests import url_crawl
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
    assert [r["slug"] for r in rules] == sorted(r.slug for r in ALL_RULES)
    assert rules == sorted(catalog(), key=lambda r: r["slug"]), "the CLI's and the rules page's rows"


def test_timeline_gives_open_counts_and_grades_over_time(second_snapshot, admin_api, alice_api):
    """(tests/test_timeline.py: the same numbers as the pages' charts.)"""
    whole = admin_api.every("timeline/", cluster="prod")
    assert whole and {r["namespace"] for r in whole} == {None} and whole[-1]["grade"] is not None
    web = admin_api.every("timeline/", cluster="prod", namespace="alpha-web")
    assert web[-1]["grade"] == "D" and web[-1]["open_findings"]["high"] >= 1
    assert all(a["end"] == b["start"] for a, b in zip(web, web[1:], strict=False))
    new = admin_api.every("timeline/", cluster="prod", namespace="alpha-new", since="2026-05-01")
    graded = [s for s in new if s["grade"]]
    assert graded[0]["start"] == LATER.isoformat().replace("+00:00", "Z")
    before = admin_api.every("timeline/", cluster="prod", namespace="alpha-new", until=TAKEN_AT.isoformat())
    assert all(s["grade"] is None for s in before)
    assert admin_api.every("timeline/", since="2027-01-01", until="2026-01-01") == []
    for bad in ({"since": "soon"}, {"until": "2026-13-01"}, {"cluster": "nowhere"}):
        assert admin_api.get("timeline/", **bad)[0] == 400, bad
    hers = alice_api.every("timeline/")
    assert {r["cluster"] for r in hers} == {"prod", "shared"} and all(r["grade"] is None for r in hers)
    hidden = alice_api.every("timeline/", cluster="prod", namespace="beta-app")
    nowhere = alice_api.every("timeline/", cluster="prod", namespace="nowhere")
    assert hidden == [{**step, "namespace": "beta-app"} for step in nowhere]


def _made_finding(cluster: str, fingerprint: str, **fields) -> Finding:
    made = Finding.objects.create(
        cluster=Cluster.objects.get(name=cluster),
        rule="privileged-container",
        fingerprint=fingerprint,
        identity=[fingerprint],
        severity="high",
        title=fingerprint,
        namespaces=["alpha-web"],
        evidence_key="k",
        first_seen_seq=1,
        changed_seq=2,
        **fields,
    )
    FindingNamespace.objects.create(finding=made, namespace="alpha-web")
    return made


def test_cluster_detail_as_of_gives_the_counts_as_they_were(second_snapshot, admin_api, alice_api):
    first = Snapshot.objects.get(cluster__name="prod", seq=1)
    # Opened by the second snapshot; open at the first and resolved by the second.
    _made_finding("prod", "new-at-later", first_seen=LATER)
    _made_finding("prod", "gone-at-later", first_seen=TAKEN_AT, status="resolved", resolved_at=LATER)
    for api in (admin_api, alice_api):
        now = api.get("clusters/prod/")[1]
        assert now["snapshot"]["id"] == now["latest_snapshot"]["id"] == second_snapshot.pk
        then = api.get("clusters/prod/", as_of=str(first.pk))[1]
        assert then["snapshot"]["id"] == first.pk and then["latest_snapshot"] == now["latest_snapshot"]
        assert then["namespace_count"] == now["namespace_count"] - 1, "alpha-new came later"
        assert then["open_findings"]["high"] == now["open_findings"]["high"], "one opened, one resolved"
        # A time means the latest snapshot taken by then; the latest snapshot's counts are today's.
        assert api.get("clusters/prod/", as_of=(LATER - timedelta(seconds=1)).isoformat())[1] == then
        latest = api.get("clusters/prod/", as_of=str(second_snapshot.pk))[1]
        assert latest == now
        before = api.get("clusters/prod/", as_of="2020-01-01")[1]
        assert before["snapshot"] is None and before["namespace_count"] == 0
        assert sum(before["open_findings"].values()) == 0 and before["grades"] == {}
    wide_now = admin_api.get("clusters/prod/")[1]
    Finding.objects.filter(fingerprint="gone-at-later").update(severity="critical")
    wide_then = admin_api.get("clusters/prod/", as_of=str(first.pk))[1]
    assert wide_then["open_findings"]["critical"] == wide_now["open_findings"]["critical"] + 1
    assert sum(wide_then["grades"].values()) == wide_then["namespace_count"]
    other = Snapshot.objects.get(cluster__name="shared")
    for bad in (str(other.pk), "yesterday", "2026-13-01"):
        status, body = admin_api.get("clusters/prod/", as_of=bad)
        assert status == 400 and set(error_of(body)["details"]) == {"as_of"}, bad
    # The list: each cluster as of its snapshot by then; a snapshot id keeps its own cluster.
    assert admin_api.every("clusters/", as_of=str(first.pk)) == [wide_then]
    across = admin_api.every("clusters/", as_of=(LATER - timedelta(seconds=1)).isoformat())
    assert [c["snapshot"]["id"] for c in across] == [first.pk, other.pk] and across[0] == wide_then
    assert [c["snapshot"] for c in admin_api.every("clusters/", as_of="2020-01-01")] == [None, None]
    assert alice_api.get("clusters/", as_of="999999")[0] == 400


def test_every_inventory_endpoint_honours_as_of(second_snapshot, admin_api):
    """The issue's inventory endpoints: each answers as of the first snapshot when asked."""
    first = Snapshot.objects.get(cluster__name="prod", seq=1)
    as_of = {"as_of": str(first.pk)}
    assert admin_api.get("clusters/prod/", **as_of)[1]["snapshot"]["id"] == first.pk
    assert {r["snapshot"] for r in admin_api.every("namespaces/", cluster="prod", **as_of)} == {first.pk}
    assert admin_api.get("namespaces/prod/alpha-web/", **as_of)[1]["snapshot"] == first.pk
    assert admin_api.get("namespaces/prod/alpha-new/paths/", **as_of)[0] == 404
    assert admin_api.get("namespaces/prod/alpha-new/paths/")[0] == 200
    # Volumes and backends (shared's): as of its snapshot's time, as now; before it, nothing.
    for path in ("volumes/", "backends/"):
        now = admin_api.every(path)
        assert now and admin_api.every(path, as_of=TAKEN_AT.isoformat()) == now, path
        assert admin_api.every(path, as_of="2020-01-01") == [], path
    for path in ("namespaces/", "volumes/", "backends/", "namespaces/prod/alpha-web/paths/"):
        assert admin_api.get(path, as_of="soon")[0] == 400, path


# Every list of the API, with a query that gives it more than one item in the tests' clusters.
LISTS = {
    "api-cluster-list": ("clusters/", {}),
    "api-cluster-snapshots": ("clusters/prod/snapshots/", {}),
    "api-namespace-list": ("namespaces/", {}),
    "api-namespace-paths": ("namespaces/shared/alpha-db/paths/", {}),
    "api-volume-list": ("volumes/", {}),
    "api-finding-list": ("findings/", {"status": "all"}),
    "api-rule-list": ("rules/", {}),
    "api-array-list": ("arrays/", {}),
    "api-backend-list": ("backends/", {}),
    "api-timeline-list": ("timeline/", {"since": "2026-05-01", "until": "2026-07-01"}),
}


def test_every_list_pages_by_keyset_to_the_last_page_and_back(second_snapshot, admin_api, alice_api):
    for name in ("nas-1", "nas-2"):
        Array.objects.create(name=name, kind="ontap", host="127.0.0.1", port=8443, credentials="env:ARRAY_X")
    lists = {str(name) for _, name in url_crawl.leaf_patterns() if str(name).startswith("api-")}
    lists = {name for name in lists if name.endswith(("-list", "-snapshots", "-paths"))}
    assert lists == set(LISTS), "a list the test does not page through"
    for api, (path, query) in [(admin_api, v) for v in LISTS.values()] + [
        (alice_api, LISTS["api-namespace-paths"])
    ]:
        whole = api.every(path, page_size="500", **query)
        assert len(whole) > 1, path
        assert api.every(path, page_size="1", **query) == whole, path
        # Back from the last page by `previous`, one at a time, to the first.
        status, body = api.get(path, page_size="1", **query)
        seen = []
        while body["next"]:
            seen.append(body["results"][0])
            status, body = api.get(body["next"].split("testserver", 1)[1])
        assert body["previous"] and seen + body["results"] == whole, path
        back = []
        while body["previous"]:
            status, body = api.get(body["previous"].split("testserver", 1)[1])
            back.insert(0, body["results"][0])
        assert back == whole[:-1], path
        assert api.get(path, cursor="eyJpIjoxfQ", **query)[0] == 400, "a position is not a cursor"


def test_a_made_up_cursor_is_a_400_never_a_500(clusters, admin_api):
    def cursor(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    query = {"cluster": "prod", "since": "2026-05-01", "until": "2026-07-01"}
    for made_up in (
        {"o": "time", "k": ["prod", "2026-06-01T12:00:00"]},  # a time without its zone
        {"o": "time", "k": ["prod", 5]},
        {"o": "time", "k": ["prod"]},
        {"o": "name", "k": ["prod", "2026-06-01T12:00:00Z"]},
        {"i": 1},
    ):
        status, body = admin_api.get("timeline/", cursor=cursor(made_up), **query)
        assert status == 400 and set(error_of(body)["details"]) == {"cursor"}, made_up
    fine = cursor({"o": "time", "k": ["prod", "2026-06-01T12:00:00Z"]})
    assert admin_api.get("timeline/", cursor=fine, **query)[0] == 200
