"""A cluster's snapshot history and its arrays and backends page: what each shows, to whom, and at a
cost that does not grow with the cluster; failed rules on the overview and cluster pages."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.template.defaultfilters import floatformat
from django.test.utils import CaptureQueriesContext

from arrays.access_summary import ACCESS_SUMMARY, SUMMARIES_SINCE, summaries
from arrays.stored_parties import ADMITTED_PARTIES
from arrays.volume_access import VOLUME_ACCESS, records_as_of
from inventory.history import write_versions
from inventory.importing import import_dump
from inventory.kept_fields import digest
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.snapshotting import queue_snapshot, run_snapshot
from inventory.sources import SourceError
from inventory.state import DERIVED_SCOPE
from tenancy.models import Grant
from tests.cases.runner import CASES, TAKEN_AT, assemble, configure_cluster
from tests.factories import collection, dashboard_admin, obj, pod

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]

HOSTILE = '<script>alert("x")</script>'


def _get(client, user, url) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


# --- snapshot history -----------------------------------------------------------------------------


@pytest.fixture
def prod():
    """prod: team-a (tenant alpha) and team-b (tenant beta); one complete, one partial, one failed
    snapshot."""
    cluster = Cluster.objects.create(name="prod", source=Cluster.Source.OFFLINE, tenant_label="team")
    objects = [
        obj("Namespace", "team-a", metadata={"labels": {"team": "alpha"}}),
        obj("Namespace", "team-b", metadata={"labels": {"team": "beta"}}),
        pod("web-1", "team-a"),
        pod("batch-1", "team-b"),
    ]
    run_snapshot(queue_snapshot(cluster), lambda: collection(objects))
    run_snapshot(
        queue_snapshot(cluster),
        lambda: collection(objects, unread={"NetworkPolicy": "403 Forbidden: networkpolicies"}),
    )

    def unreachable():
        raise SourceError("the Kubernetes API at https://10.0.0.1 cannot be used: connection refused")

    run_snapshot(queue_snapshot(cluster), unreachable)
    return cluster


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice")


def _row(page: str, seq: int) -> str:
    return re.search(rf'<tr id="snapshot-{seq}">(.*?)</tr>', page, re.S).group(1)


def test_the_history_shows_status_what_was_not_read_duration_and_counts(client, prod):
    page = _get(client, dashboard_admin(), "/clusters/prod/snapshots/")
    first, partial, failed = (_row(page, seq) for seq in (1, 2, 3))
    assert "status-complete" in first and "status-partial" in partial and "status-failed" in failed
    assert "NetworkPolicy: 403 Forbidden: networkpolicies" in partial
    assert "Nothing was kept: the Kubernetes API at https://10.0.0.1 cannot be used" in failed
    snapshot = Snapshot.objects.get(cluster=prod, seq=1)
    # Formatted as the template does (Django rounds half up; Python's "%.2f" rounds the binary value).
    assert f"{floatformat(snapshot.duration_seconds, 2)} s" in first
    assert "<li>Pod: 2</li>" in first and "<li>Namespace: 2</li>" in first and "Kubernetes 4" in first
    inserted = snapshot.rows_written["inserted"]
    assert inserted > 0 and f"+{inserted} / −0" in first
    assert page.index('id="snapshot-3"') < page.index('id="snapshot-1"'), "newest first"
    opened = snapshot.facts["analysis"]["opened"]
    assert opened > 0 and f"{opened} findings opened" in first
    second = Snapshot.objects.get(cluster=prod, seq=2)
    assert second.facts["analysis"].get("reused"), "nothing changed: the analysis is reused"
    assert "findings opened" not in partial, "a reused analysis' counts are the previous snapshot's"


def test_the_history_names_the_rules_not_re_run_because_their_inputs_did_not_change(client):
    cluster = Cluster.objects.create(name="prod", source=Cluster.Source.OFFLINE, tenant_label="team")
    namespace = obj("Namespace", "team-a", metadata={"labels": {"team": "alpha"}})
    run_snapshot(queue_snapshot(cluster), lambda: collection([namespace, pod("web-1", "team-a")]))
    # Only a pod changed: rules reading no pod (those on persistent volumes alone) stood.
    run_snapshot(queue_snapshot(cluster), lambda: collection([namespace, pod("web-2", "team-a")]))
    page = _get(client, dashboard_admin(), "/clusters/prod/snapshots/")
    second = Snapshot.objects.get(cluster=cluster, seq=2)
    carried = second.facts["analysis"]["carried"]
    assert "pv-released-retained" in carried and "privileged-container" not in carried
    assert f"{len(carried)} rules not re-run: their inputs did not change" in _row(page, 2)
    assert "not re-run" not in _row(page, 1), "the first analysis runs every rule"


def test_the_history_is_paginated_at_a_cost_that_does_not_grow(client, prod):
    admin = dashboard_admin()
    client.force_login(admin)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/clusters/prod/snapshots/").status_code == 200
    latest = Snapshot.objects.get(cluster=prod, seq=2)
    Snapshot.objects.bulk_create(
        Snapshot(
            cluster=prod,
            seq=seq,
            status=Snapshot.Status.COMPLETE,
            taken_at=latest.taken_at + timedelta(hours=seq),
            counts=latest.counts,
            facts={"analysis": {"reused": True, "namespaces": [f"ns-{n}" for n in range(500)]}},
        )
        for seq in range(4, 124)
    )
    with CaptureQueriesContext(connection) as many:
        first = client.get("/clusters/prod/snapshots/").content.decode()
    assert len(many) == len(few)
    assert len(re.findall(r'<tr id="snapshot-', first)) == 50 and 'id="snapshot-123"' in first
    assert 'href="?page=2" rel="next">Older</a>' in first and "Page 1 of 3" in first
    last = client.get("/clusters/prod/snapshots/?page=3").content.decode()
    assert len(re.findall(r'<tr id="snapshot-', last)) == 23 and 'id="snapshot-1"' in last
    assert 'href="?page=2" rel="prev">Newer</a>' in last and 'rel="next"' not in last
    assert "ns-499" not in first, "the analysis' namespace list stays in the database"


def _fail(snapshot: Snapshot, **fields) -> None:
    for key, value in fields.items():
        setattr(snapshot, key, value)
    snapshot.save()


def test_a_tenant_sees_their_clusters_history_without_other_tenants_names(client, prod, alice):
    partial = Snapshot.objects.get(cluster=prod, seq=2)
    _fail(
        partial,
        unread={
            "NetworkPolicy": "403 Forbidden: cannot list networkpolicies in namespace team-b (tenant beta)",
            "Pod": "pod team-b/batch-1 could not be parsed",
        },
        facts={
            **partial.facts,
            "analysis": {**partial.facts["analysis"], "failed": {"host-network": "KeyError: 'team-b'"}},
        },
        warnings=["skipped files that are not .json, .yaml or .yml: team-b-notes.txt"],
    )
    admin_page = _get(client, dashboard_admin(), "/clusters/prod/snapshots/")
    assert "in namespace team-b (tenant beta)" in admin_page and "team-b-notes.txt" in admin_page
    assert "rule host-network failed</a>: KeyError: &#x27;team-b&#x27;" in admin_page
    assert client.get("/clusters/other/snapshots/").status_code == 404
    client.force_login(alice)
    assert client.get("/clusters/prod/snapshots/").status_code == 404, "no grant: no cluster"
    Grant.objects.create(user=alice, cluster=prod, tenant="alpha")
    page = _get(client, alice, "/clusters/prod/snapshots/")
    assert "team-b" not in page and "beta" not in page and "batch-1" not in page
    row = _row(page, 2)
    assert (
        "NetworkPolicy: 403 Forbidden: cannot list networkpolicies in namespace (a name of another tenant)"
        in row
    )
    assert "Pod: pod an object of another tenant could not be parsed" in row
    assert "rule host-network failed</a>: KeyError: &#x27;(a name of another tenant)&#x27;" in row
    assert "warning" not in row, "warnings are admins'"
    assert "status-partial" in row and "<li>Pod: 2</li>" in row, "the cluster's counts are shown"


def test_failed_rules_show_on_the_overview_and_cluster_pages(client, prod, alice):
    latest = prod.latest_visible_snapshot()
    analysis = {
        **latest.facts["analysis"],
        "failed": {"host-network": "KeyError: 'team-b'", "host-path-volume": "x"},
    }
    _fail(latest, facts={**latest.facts, "analysis": analysis})
    admin = dashboard_admin()
    overview = _get(client, admin, "/")
    assert "rules failed: host-network, host-path-volume" in overview
    cluster = _get(client, admin, "/clusters/prod/")
    assert "rule host-network failed</a>: KeyError: &#x27;team-b&#x27;" in cluster
    assert 'href="/clusters/prod/snapshots/"' in cluster and 'href="/clusters/prod/arrays/"' in cluster
    Grant.objects.create(user=alice, cluster=prod, tenant="alpha")
    assert "rules failed: host-network, host-path-volume" in _get(client, alice, "/")
    cluster = _get(client, alice, "/clusters/prod/")
    assert "rule host-network failed" in cluster and "team-b" not in cluster
    # An analysis that failed as a whole.
    _fail(latest, facts={**latest.facts, "analysis": {"error": "RuntimeError: in team-b", "failed": True}})
    assert "Analysis failed: RuntimeError: in (a name of another tenant)." in _get(
        client, alice, "/clusters/prod/"
    )
    assert "analysis failed" in _get(client, alice, "/")


# --- arrays and backends ----------------------------------------------------------------------------


@pytest.fixture
def shared(tmp_path):
    """exports/policy-shared: alpha-db and alpha-web (tenant alpha) and beta-jobs on backend nas-legacy,
    beta-app (tenant beta) on nas-auto, behind an export policy named after its PV."""
    cluster = configure_cluster("shared", {})
    assert import_dump(
        "shared", assemble(CASES / "exports" / "policy-shared", tmp_path, {}), taken_at=TAKEN_AT
    )
    return cluster


BETA_VOLUME = "24ec5534"  # beta-app's PV (pvc-24ec5534-…) and its per-volume policy (trident_pvc_24ec5534_…)


def test_admins_see_every_backend_array_and_verdict(client, shared):
    page = _get(client, dashboard_admin(), "/clusters/shared/arrays/")
    backends = page.split("<h2>Trident backends</h2>", 1)[1].split("<h2>Arrays</h2>", 1)[0]
    assert "<td>nas-legacy</td><td>ontap-nas</td><td>svm_legacy</td>" in backends
    assert "read from array nas-legacy" in backends and "read from array nas-auto" in backends
    assert "autoExportPolicy: <code>false</code>" in backends, "what Trident says"
    arrays = page.split("<h2>Arrays</h2>", 1)[1].split("<h2>Who the access control admits</h2>", 1)[0]
    assert "nas-legacy" in arrays and "nas-auto" in arrays and "status-complete" in arrays
    assert "<li>ontap.ExportPolicy: 3</li>" in arrays
    assert "not configured (a dump's array)" in arrays
    access = page.split("<h2>Who the access control admits</h2>", 1)[1]
    assert "4 volumes" in access
    assert (
        "<code>192.0.2.0/24</code>" in access
        and '<span class="verdict verdict-foreign">foreign</span>' in access
    )
    assert "Array nas-legacy, backend nas-legacy:\n    2 volumes" in access, (
        "alpha-db and beta-jobs share a policy"
    )
    assert f"trident_pvc_{BETA_VOLUME}" in access


def test_a_tenant_sees_only_the_backends_and_arrays_holding_their_data(client, shared, alice):
    Grant.objects.create(user=alice, cluster=shared, tenant="alpha")
    page = _get(client, alice, "/clusters/shared/arrays/")
    assert "nas-legacy" in page and "read from array nas-legacy" in page
    assert "nas-auto" not in page and BETA_VOLUME not in page and "beta" not in page
    assert "What Trident says" not in page and "Configured" not in page, "admins' columns"
    access = page.split("<h2>Who the access control admits</h2>", 1)[1]
    assert "2 of your volumes" in access
    assert '<span class="verdict verdict-foreign">foreign</span>' in access and "k8s_nodes" in access
    assert "Array nas-legacy, backend nas-legacy:\n    1 volume\n" in access, "beta-jobs is not counted"
    client.force_login(alice)
    assert client.get("/clusters/prod/arrays/").status_code == 404


def test_an_array_not_read_says_why(client, tmp_path):
    cluster = configure_cluster("partial", {})
    dump = assemble(CASES / "exports" / "policy-shared", tmp_path, {})
    (dump / "backends" / "nas-auto.json").unlink()
    snapshot = import_dump("partial", dump, taken_at=TAKEN_AT)
    assert snapshot.status == Snapshot.Status.PARTIAL
    admin = dashboard_admin()
    page = _get(client, admin, "/clusters/partial/arrays/")
    why = "backends/ holds no file for Trident backend nas-auto"
    backends = page.split("<h2>Trident backends</h2>", 1)[1].split("<h2>Arrays</h2>", 1)[0]
    assert f'<td class="warn">array not read: {why}</td>' in backends
    arrays = page.split("<h2>Arrays</h2>", 1)[1].split("<h2>Who", 1)[0]
    assert "status-failed" in arrays and f"/api/cluster: {why}" in arrays
    assert f"backend nas-auto: {why}" in _get(client, admin, "/clusters/partial/snapshots/")
    assert cluster.latest_visible_snapshot() == snapshot


def test_the_arrays_page_costs_the_same_queries_for_few_or_many_volumes(client, shared, alice):
    Grant.objects.create(user=alice, cluster=shared, tenant="alpha")
    for user in (dashboard_admin(), alice):
        client.force_login(user)
        client.get("/clusters/shared/arrays/")  # warm: the scope's per-snapshot values are kept
        with CaptureQueriesContext(connection) as few:
            assert client.get("/clusters/shared/arrays/").status_code == 200
        _more_volumes(shared, 60, f"{user.username}-", backend=lambda n, user=user: f"{user.username}-{n}")
        with CaptureQueriesContext(connection) as many:
            page = client.get("/clusters/shared/arrays/").content.decode()
        assert len(many) == len(few), user
        assert 'href="?page=2" rel="next"' in page, "groups of volumes are paginated"
        assert (
            _get(client, user, "/clusters/shared/arrays/?page=3").count('class="volume-access access-group"')
            > 0
        )


def test_volumes_with_policies_of_their_own_are_counted_in_one_group_not_listed(client, shared, alice):
    """Per-volume export policies make every volume's parties its own: the volumes whose parties draw
    the same verdicts are one group, counted, with one of them as the example (at scale, thousands of
    volumes of a backend are one group, not thousands)."""
    Grant.objects.create(user=alice, cluster=shared, tenant="alpha")
    _more_volumes(shared, 40, "copy-")
    for user in (dashboard_admin(), alice):
        access = _get(client, user, "/clusters/shared/arrays/").split(
            "<h2>Who the access control admits</h2>"
        )[1]
        groups = access.split('<section class="volume-access access-group">')[1:]
        web = [g for g in groups if "Array nas-legacy, backend nas-legacy:\n    41 volumes" in g]
        assert len(web) == 1 and "worst: node" in web[0], user  # alpha-web and its 40 copies
        assert len(set(re.findall(r"copy-\d+", web[0]))) <= 1 and "What one of them, <code>" in web[0], (
            "one example, not a row each"
        )
        assert 'namespace <a href="/clusters/shared/namespaces/alpha-web/">alpha-web</a>' in web[0]


def test_volumes_derived_before_the_summaries_are_not_shown_as_none(client, shared):
    """A snapshot derived before the summaries existed has none: the page says when they come, never
    that no volume is joined (an error is never an absence)."""
    latest = shared.latest_visible_snapshot()
    latest.facts = {**latest.facts, "derivation": SUMMARIES_SINCE - 1}
    latest.save()
    InventoryObject.objects.filter(cluster=shared, kind=ACCESS_SUMMARY).delete()
    page = _get(client, dashboard_admin(), "/clusters/shared/arrays/")
    assert "counted from the next snapshot on" in page and "is joined to an array" not in page


def _more_volumes(cluster: Cluster, count: int, prefix: str, backend=None) -> None:
    """Copies of alpha-web's access record, each with a policy of its own (as per-volume policies are)
    and, with `backend`, on backend `backend(n)`; the namespace's summary counted again, as the
    derivation counts it."""
    latest = cluster.latest_visible_snapshot()
    in_alpha_web = records_as_of(latest, (VOLUME_ACCESS,))[VOLUME_ACCESS].items()
    (key, record), *_ = sorted(item for item in in_alpha_web if item[0][0] == "alpha-web")
    stored = InventoryObject.objects.current().get(
        cluster=cluster, scope=DERIVED_SCOPE, kind=VOLUME_ACCESS, namespace=key[0], name=key[1]
    )
    copies = []
    for n in range(count):
        parties = [{**p, "via": f"nas-legacy volume policy {prefix}{n}, rule 1"} for p in record["admitted"]]
        data = {key: value for key, value in record.items() if key != "admitted"}
        data["party_lists"] = [digest(parties)]
        if backend:
            data["backend"] = backend(n)
        for kind, name, kept in (
            (VOLUME_ACCESS, f"{prefix}{n}", data),
            (ADMITTED_PARTIES, digest(parties), {"parties": parties}),
        ):
            copies.append(
                InventoryObject(
                    cluster=cluster,
                    scope=DERIVED_SCOPE,
                    kind=kind,
                    namespace=stored.namespace if kind == VOLUME_ACCESS else "",
                    name=name,
                    data=kept,
                    digest=digest(kept),
                    schema_version=stored.schema_version,
                    valid_from=stored.valid_from,
                )
            )
    InventoryObject.objects.bulk_create(copies)
    records = records_as_of(latest)
    write_versions(cluster.pk, latest.seq, ACCESS_SUMMARY, summaries(records), scope=DERIVED_SCOPE)


def test_snapshot_and_array_pages_need_login(client, prod):
    for url in ("/clusters/prod/snapshots/", "/clusters/prod/arrays/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_a_backend_name_from_the_cluster_is_escaped(client, tmp_path):
    configure_cluster("odd", {})
    dump = assemble(CASES / "exports" / "policy-shared", tmp_path, {})
    path = dump / "kubernetes" / "trident.yaml"
    path.write_text(path.read_text().replace("backendName: nas-auto", f"backendName: '{HOSTILE}'"))
    import_dump("odd", dump, taken_at=TAKEN_AT)
    page = _get(client, dashboard_admin(), "/clusters/odd/arrays/")
    assert HOSTILE not in page and "&lt;script&gt;" in page
