"""Any page of findings, namespaces, volumes, a namespace's paths, backends, rules or a timeline
costs the same number of queries however large the cluster is and however deep the cursor: keyset
pages, one reader per cluster on the page, no query per row.  Measured on a cluster made directly in
the database, small and then ten times larger."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.tokens import issue
from arrays.access_summary import ACCESS_SUMMARY, summaries
from arrays.volume_access import VOLUME_ACCESS
from exposure.analyse import EXPOSURE_PATHS
from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.findings import suppress
from exposure.models import Finding, FindingNamespace
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.state import DERIVED_SCOPE
from tenancy.models import Grant
from tests.api_support import Api
from tests.cases.runner import TAKEN_AT
from tests.factories import dashboard_admin, graded_namespaces

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]
PAGE = "5"


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.API_THROTTLE_RATE = None


def _row(cluster, kind, name, namespace="", data=None, scope=""):
    return InventoryObject(
        cluster=cluster,
        scope=scope,
        kind=kind,
        namespace=namespace,
        name=name,
        data=data or {},
        digest=f"{kind}{namespace}{name}"[:32],
        schema_version=1,
        valid_from=1,
    )


def _paths(ns: str, n: int) -> dict:
    """A namespace's ExposurePaths record: `n` paths from outside hosts, of two rules."""
    rules = ("export-allows-foreign-hosts", "volume-shared-across-tenants")
    return {
        "paths": [
            ExposurePath(
                Actor("outside-host", f"10.0.{k}.0/24", "(outside the cluster)"),
                [Hop(f"array:nas/ontap.ExportPolicy/svm1/p{k}", "rule 1")],
                [f"PersistentVolume/pv-{ns}"],
                ns,
                "write",
                rules[k % 2],
                "high",
            ).as_dict()
            for k in range(n)
        ]
    }


def grow(cluster: Cluster, upto: int, start: int = 0) -> None:
    """Namespaces ns-<i> of tenant `t`, each with a PVC, its PV and access record (on backend be-<i>),
    a pod, a grade, twelve exposure paths and two findings (one suppressed)."""
    rows, findings = [], []
    snapshot = Snapshot.objects.get(cluster=cluster)
    backends = dict((snapshot.facts or {}).get("backends") or {})
    for i in range(start, upto):
        ns, pv = f"ns-{i:03}", f"pv-{i:03}"
        backends[f"uuid-{i:03}"] = {"name": f"be-{i:03}", "driver": "ontap-nas", "array": "nas"}
        labels = {"tenant": "t", "kubernetes.io/metadata.name": ns}
        rows += [
            _row(cluster, "Namespace", ns, data={"metadata": {"name": ns, "labels": labels}}),
            _row(cluster, "PersistentVolumeClaim", "data", ns),
            _row(cluster, "Pod", "app", ns),
            _row(
                cluster,
                "PersistentVolume",
                pv,
                data={"spec": {"claimRef": {"namespace": ns, "name": "data"}}},
            ),
            _row(
                cluster,
                VOLUME_ACCESS,
                pv,
                ns,
                scope=DERIVED_SCOPE,
                data={
                    "subject": f"PersistentVolume/{pv}",
                    "namespaces": [ns],
                    "gates": [],
                    "admitted": [],
                    "array": "nas",
                    "backend": f"be-{i:03}",
                },
            ),
            _row(cluster, EXPOSURE_PATHS, ns, ns, scope=DERIVED_SCOPE, data=_paths(ns, 12)),
        ]
        findings += [
            Finding(
                cluster=cluster,
                rule="privileged-container",
                fingerprint=f"f-{ns}-{n}",
                identity=[ns, str(n)],
                severity="high",
                title=f"made in {ns}",
                namespaces=[ns],
                evidence_key="k",
                first_seen=TAKEN_AT,
                first_seen_seq=1,
                changed_seq=1,
            )
            for n in range(2)
        ]
    records = {(r.namespace, r.name): r.data for r in rows if r.kind == VOLUME_ACCESS}
    rows += [  # what the derivation writes beside the records (a tenant's backends are counted from them)
        _row(cluster, ACCESS_SUMMARY, name, ns, scope=DERIVED_SCOPE, data=summary.data)
        for (ns, name), summary in summaries({VOLUME_ACCESS: records}).items()
    ]
    InventoryObject.objects.bulk_create(rows)
    Snapshot.objects.filter(pk=snapshot.pk).update(facts={**(snapshot.facts or {}), "backends": backends})
    made = Finding.objects.bulk_create(findings)
    FindingNamespace.objects.bulk_create(
        [FindingNamespace(finding=f, namespace=f.namespaces[0]) for f in made]
    )
    graded_namespaces(cluster, [f"ns-{i:03}" for i in range(start, upto)], grade="D", counts={"high": 2})
    for finding in made[::2]:
        suppress(finding, "accepted", timezone.now() + timedelta(days=1))


def queries(api: Api, path: str) -> tuple[int, int]:
    """Queries for the first page and for the last (reached by following `next`)."""
    path += ("&" if "?" in path else "?") + f"page_size={PAGE}"  # the path's own query kept
    api.get(path)  # warm: the token's last use is written once a minute
    with CaptureQueriesContext(connection) as first:
        status, body = api.get(path)
    assert status == 200 and body["results"] and body["next"]
    while True:
        following = body["next"].split("testserver", 1)[1]
        with CaptureQueriesContext(connection) as last:
            status, body = api.get(following)
        assert status == 200
        if not body["next"]:
            return len(first), len(last)


@pytest.mark.parametrize("who", ["admin", "tenant"])
def test_pages_cost_the_same_for_a_small_or_a_large_cluster_at_any_cursor(who):
    cluster = Cluster.objects.create(name="big", source="offline", tenant_label="tenant")
    Snapshot.objects.create(cluster=cluster, seq=1, status="complete", taken_at=TAKEN_AT)
    if who == "admin":
        user = dashboard_admin()
    else:
        user = User.objects.create_user("tess")
        Grant.objects.create(user=user, cluster=cluster, tenant="t")
    api = Api(issue(user, "measure")[1])
    grow(cluster, 8)
    paths = (
        "findings/?status=all",
        "namespaces/",
        "volumes/",
        "namespaces/big/ns-000/paths/",
        "backends/",
        "rules/",
        "timeline/?cluster=big&since=2026-01-01",
    )
    small = {path: queries(api, path) for path in paths}
    grow(cluster, 80, start=8)
    large = {path: queries(api, path) for path in paths}
    assert len(api.every("findings/", status="all")) == 160 and len(api.every("volumes/")) == 80
    assert len(api.every("backends/")) == 80 and len(api.every("namespaces/big/ns-000/paths/")) == 12
    for path in paths:
        counts = {*small[path], *large[path]}
        assert len(counts) == 1, (
            f"{path}: {small[path]} queries (first, last page) small, {large[path]} large"
        )
