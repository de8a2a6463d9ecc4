"""No page's query count grows with the cluster, and what a page lists from all over it is bounded.

Every URL of the URL configuration (enumerated from the resolver with real ids, as the canary crawls
them: tests/url_crawl.py) is requested by a dashboard admin and by a tenant on a simulated cluster
read through the real pipeline (Kubernetes API and arrays over loopback); then the cluster grows about
fourfold (namespaces, the tenant's own among them, PVCs, pods, nodes, findings, suppressions,
snapshots, grants) and every URL must answer as before with no more queries.  A page added later is
measured without editing this test; a URL parameter the crawl cannot fill fails it.

What a page lists from all over a large cluster is bounded: a namespace's worst findings and the
lives its chart draws (a large cluster attributes a namespace findings from everywhere), a delete
confirmation's counts.  Times are
the benchmark's to measure (`make bench`), not a test's: timed assertions flake.
"""

import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.utils import timezone

from arrays.models import Array
from dashboard.queries import NAMESPACE_FINDINGS_SHOWN, namespace_exposure
from dashboard.timelines import MAX_LIVES, namespace_lives
from exposure.findings import in_namespace, suppress
from exposure.models import Finding, Suppression
from exposure.rules import SEVERITY_RANK
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.snapshotting import queue_snapshot, run_snapshot
from inventory.tasks import snapshot_now
from simulator.names import node_internal_ip
from simulator.serving import SimulatedEstate
from simulator.workloads import add_statefulset, add_tenant_namespace
from simulator.world import OWNER_EMAIL_ANNOTATION, OWNER_GROUP_LABEL, TENANT_LABEL, NodeFacts, Simulation
from tenancy.access import scope_of
from tenancy.models import Grant
from tenancy.scope import Scope
from tests.factories import collection, obj, pod
from tests.url_crawl import expand, leaf_patterns, url_values

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 5, tzinfo=UTC)
GROWTH = 4  # the grown cluster has about this many times the namespaces, PVCs, pods and nodes
TENANT = "acme"
OWN_NAMESPACE, OTHER_NAMESPACE = "acme-web", "globex-prod"  # seeded by the simulator at every scale
# The filtered lists, asked again with a query string (the defaults list open findings only).
QUERIES = ("?status=all&page=2", f"?namespace={OWN_NAMESPACE}&status=all")


@dataclass(frozen=True)
class Answer:
    status: int
    queries: tuple[str, ...]


@pytest.fixture
def estate(tmp_path):
    simulation = Simulation(seed=0, scale="demo", start=START)
    served = SimulatedEstate(simulation, tmp_path / "estate").start()
    yield served
    served.stop()


def _snapshot(cluster: Cluster, simulation: Simulation) -> None:
    simulation.advance_to(simulation.clock + timedelta(minutes=30))  # volatile churn only
    snapshot = snapshot_now(cluster)
    assert snapshot.status == Snapshot.Status.COMPLETE, snapshot.unread or snapshot.error


def _suppress(cluster: Cluster, count: int) -> None:
    """Suppress `count` more open findings, the tenant's first (so both readers see suppressions)."""
    already = Suppression.objects.values("finding_id")
    candidates = Finding.objects.filter(cluster=cluster, status="open").exclude(pk__in=already).order_by("pk")
    own = list(in_namespace(candidates, OWN_NAMESPACE)[:1])
    for finding in own + list(candidates.exclude(pk__in=[f.pk for f in own])[: count - len(own)]):
        suppress(finding, "accepted for the test", timezone.now() + timedelta(days=30))


def _grow(simulation: Simulation) -> None:
    """Add nodes, namespaces (a third of them the tenant's) and, in the tenant's own namespace, more
    volumes and pods: what a cluster (GROWTH - 1) times as large again adds."""
    created = simulation.clock - timedelta(hours=1)
    with simulation.lock:
        first = len(simulation.nodes) + len(simulation.departed_nodes)
        for index in range(first, first * GROWTH):
            facts = NodeFacts(f"worker-grown-{index:03d}", index, "", node_internal_ip(index))
            simulation.add_node(facts, created)
        workload_namespaces = simulation.sizes.namespaces
        for index in range(workload_namespaces, workload_namespaces * (GROWTH + 1)):  # platform stays
            tenant = TENANT if index % 3 == 0 else f"grown-{index % 5}"
            name = f"{tenant}-grown-{index:03d}"
            # Half without Pod Security: more findings, as namespaces added by hand often are.
            add_tenant_namespace(simulation, name, tenant, "baseline" if index % 2 else None, index, created)
        for k in range(2 * GROWTH):
            add_statefulset(simulation, OWN_NAMESPACE, f"grown-db-{k}", 3, "nas-gold", created)
        simulation.sync_publications()


def _grant_tenants(cluster: Cluster, tenants: list[str]) -> None:
    """A user of each tenant, granted it, and a group granted it as well (the admin lists grants)."""
    for tenant in tenants:
        team = Group.objects.create(name=f"{tenant}-team")
        Grant.objects.create(group=team, cluster=cluster, tenant=tenant)
        Grant.objects.create(
            user=User.objects.create_user(f"{tenant}-member"), cluster=cluster, tenant=tenant
        )


def _sizes(cluster: Cluster) -> dict[str, int]:
    latest = cluster.latest_visible_snapshot()
    state = InventoryObject.objects.as_of(latest).filter(scope="")
    sizes = {kind: state.filter(kind=kind).count() for kind in ("Namespace", "PersistentVolumeClaim", "Pod")}
    sizes["Pod in the tenant's namespace"] = state.filter(kind="Pod", namespace=OWN_NAMESPACE).count()
    sizes["Finding"] = Finding.objects.filter(cluster=cluster).count()
    sizes["Suppression"] = Suppression.objects.count()
    sizes["Snapshot"] = cluster.snapshots.count()
    sizes["Grant"] = Grant.objects.count()
    return sizes


def _sampled(own_finding: str, other_finding: str):
    """One real value per parameter (the first the crawl knows; `url_values` fails on one it cannot
    fill), but two namespaces and two findings: the tenant's own and another tenant's (200 and 404)."""
    preferred = {"namespace": [OWN_NAMESPACE, OTHER_NAMESPACE], "finding": [own_finding, other_finding]}

    def values(parameter, parts):
        real = url_values(parameter, parts)
        wanted = preferred.get(parameter, [])
        assert set(wanted) <= set(real), f"the world lacks {wanted} for <{parameter}>"
        return wanted or real[:1]

    return values


def _urls(values) -> dict[str, list[str]]:
    """URL pattern (as text) -> the URLs requested for it; the dashboard's own lists also filtered
    and on their second page."""
    urls = {}
    for parts, _name in leaf_patterns():
        text = "".join(str(part) for part in parts)
        expanded = expand(parts, values)
        assert expanded, f"no URL of {text}"
        if len(parts) == 1 and not re.search(r"<\w+", text):
            expanded += [url + query for url in expanded for query in QUERIES]
        urls[text] = expanded
    return urls


def _answer(client: Client, url: str) -> Answer:
    queries = []

    def record(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        response = client.get(url)
        if response.streaming:  # a streamed export queries while it is read
            b"".join(response.streaming_content)
    return Answer(response.status_code, tuple(queries))


def _answers(clients: dict[str, Client], urls: list[str]) -> dict[tuple[str, str], Answer]:
    return {(reader, url): _answer(client, url) for reader, client in clients.items() for url in urls}


def _shape(sql: str) -> str:
    """A query with its numbers blanked and its lists of parameters folded, so that one query per row
    shows as one shape many times."""
    sql = re.sub(r"\b\d+\b", "?", sql).replace("%s", "?")
    return re.sub(r"\(\s*\?(?:\s*,\s*\?)*\s*\)", "(?…)", sql)


def _added(before: Answer, after: Answer) -> str:
    """The query shapes the grown cluster's answer repeats more often, most repeated first."""
    added = Counter(map(_shape, after.queries)) - Counter(map(_shape, before.queries))
    return "\n".join(f"    +{n} × {sql[:400]}" for sql, n in added.most_common(5))


@pytest.fixture
def world(estate):
    """The simulated cluster, snapshotted twice, with suppressions and grants; an admin (a superuser:
    the admin site's pages too) and a tenant granted the tenant `acme`, each with a logged-in client."""
    for served in estate.arrays:
        Array.objects.create(**served.array_settings())
    cluster = Cluster.objects.create(
        name="sim",
        source=Cluster.Source.KUBECONFIG,
        kubeconfig_path=str(estate.kubeconfig),
        tenant_label=TENANT_LABEL,
        owner_keys=[OWNER_EMAIL_ANNOTATION, OWNER_GROUP_LABEL],
    )
    for _ in range(2):
        _snapshot(cluster, estate.simulation)
    _suppress(cluster, 2)
    _grant_tenants(cluster, ["globex"])
    tenant = User.objects.create_user("acme-lead")
    Grant.objects.create(user=tenant, cluster=cluster, tenant=TENANT)
    clients = {"admin": Client(), "tenant": Client()}
    clients["admin"].force_login(User.objects.create_superuser("root"))
    clients["tenant"].force_login(tenant)
    return cluster, tenant, clients


@pytest.mark.postgres_too  # the product's database: its counts are the ones that matter
def test_no_page_makes_more_queries_on_a_larger_cluster(estate, world):
    cluster, tenant, clients = world
    findings = Finding.objects.filter(cluster=cluster).order_by("pk")
    seen = Finding.objects.restrict(scope_of(tenant)).values("pk")
    own_finding = in_namespace(findings.filter(pk__in=seen), OWN_NAMESPACE).values_list("pk", flat=True)
    other_finding = in_namespace(findings.exclude(pk__in=seen), OTHER_NAMESPACE).values_list("pk", flat=True)
    assert own_finding and other_finding, "the simulator seeds findings in both tenants' namespaces"
    by_pattern = _urls(_sampled(str(own_finding[0]), str(other_finding[0])))
    urls = [url for listed in by_pattern.values() for url in listed]

    # Content types are cached once per process: not a page's cost.
    ContentType.objects.get_for_models(*apps.get_models())
    small, small_sizes = _answers(clients, urls), _sizes(cluster)
    _grow(estate.simulation)
    for _ in range(4):
        _snapshot(cluster, estate.simulation)
    _suppress(cluster, 2 * GROWTH)
    _grant_tenants(cluster, [f"grown-{k}" for k in range(5)])
    large, large_sizes = _answers(clients, urls), _sizes(cluster)

    grown = {what: round(large_sizes[what] / small_sizes[what], 1) for what in small_sizes}
    assert min(grown.values()) >= 2.5, f"the cluster did not grow in everything a page lists: {grown}"
    # The pages were really rendered: each pattern answers the admin something but 404 (except the
    # admin site's catch-all and its links to objects' own sites, which ours have none of, and the
    # API's catch-all, a 404 in the API's error shape).
    for text, listed in by_pattern.items():
        if not text.endswith(("(?P<url>.*)$", "api/v1/^")) and not text.startswith("admin/r/"):
            assert any(small["admin", url].status != 404 for url in listed), f"every URL of {text} is a 404"
    assert small["tenant", f"/clusters/{cluster.name}/namespaces/{OWN_NAMESPACE}/"].status == 200
    assert small["tenant", f"/clusters/{cluster.name}/namespaces/{OTHER_NAMESPACE}/"].status == 404
    assert small["tenant", f"/findings/{own_finding[0]}/"].status == 200

    failures = []
    for (reader, url), before in small.items():
        after = large[reader, url]
        if len(after.queries) > len(before.queries):  # a cache the grown cluster left cold: once more
            after = _answer(clients[reader], url)
        if after.status != before.status:
            failures.append(f"{reader} {url}: answered {before.status}, then {after.status}")
        elif len(after.queries) > len(before.queries):
            failures.append(
                f"{reader} {url}: {len(before.queries)} queries, then {len(after.queries)}:\n"
                + _added(before, after)
            )
    assert not failures, f"query counts grow with the cluster ({grown}):\n" + "\n".join(failures)


def test_a_clusters_delete_confirmation_counts_its_history_instead_of_listing_it(client):
    """Django's confirmation lists every row that goes with the object: a cluster's whole history
    (hundreds of thousands of rows at scale).  Ours counts them, model by model, and still deletes."""
    cluster = Cluster.objects.create(name="doomed", source=Cluster.Source.OFFLINE)
    objects = [obj("Namespace", "team-a"), *(pod(f"web-{i}", "team-a") for i in range(3))]
    run_snapshot(queue_snapshot(cluster), lambda: collection(objects))
    client.force_login(User.objects.create_superuser("root"))
    url = f"/admin/inventory/cluster/{cluster.pk}/delete/"

    page = client.get(url).content.decode()
    rows = InventoryObject.objects.filter(cluster=cluster).count()
    assert "Cluster: doomed" in page and f"Inventory objects: {rows}" in page and "Snapshots: 1" in page
    assert "web-1" not in page, "rows are counted, not listed"
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Cluster.objects.filter(name="doomed").exists()
    assert not InventoryObject.objects.filter(cluster_id=cluster.pk).exists()


def _findings_in(cluster: Cluster, namespace: str, statuses: list[str]) -> None:
    """A finding attributed to `namespace` for each status (open, suppressed, resolved), of every
    severity in turn."""
    severities = ["low", "critical", "medium", "info", "high"]
    now = timezone.now()
    for i, status in enumerate(statuses):
        finding = Finding.objects.create(
            cluster=cluster,
            rule="privileged-container",
            fingerprint=f"f{i}",
            identity={},
            severity=severities[i % len(severities)],
            title=f"finding {i}",
            namespaces=[namespace],
            evidence_key="k",
            first_seen=now - timedelta(days=1),
            first_seen_seq=1,
            changed_seq=1,
            status="resolved" if status == "resolved" else "open",
            resolved_at=now if status == "resolved" else None,
        )
        finding.attributions.create(namespace=namespace)
        if status == "suppressed":
            suppress(finding, "accepted", now + timedelta(days=1))


def _worst_first(shown: list[tuple[str, int]]) -> bool:
    order = {"open": 0, "suppressed": 1, "resolved": 2}
    return shown == sorted(shown, key=lambda item: (order[item[0]], -item[1]))


def test_a_namespace_page_lists_its_worst_findings_and_how_many_it_has(client):
    """Open ones first (the worst first), then suppressed, then resolved; the rest are one link away."""
    cluster = Cluster.objects.create(name="busy", source=Cluster.Source.OFFLINE)
    snapshot = run_snapshot(queue_snapshot(cluster), lambda: collection([obj("Namespace", "team-a")]))
    statuses = ["open"] * 45 + ["suppressed"] * 2 + ["resolved"] * (NAMESPACE_FINDINGS_SHOWN + 10 - 47)
    _findings_in(cluster, "team-a", statuses)

    total = in_namespace(Finding.objects.all(), "team-a").count()  # the snapshot's own ones too
    assert total >= len(statuses)
    exposure = namespace_exposure(snapshot, "team-a", Scope.everything())
    shown = [(f["status"], SEVERITY_RANK[f["severity"]]) for f in exposure["findings"]]
    assert exposure["findings_total"] == total and len(shown) == NAMESPACE_FINDINGS_SHOWN
    assert _worst_first(shown)
    assert [status for status, _ in shown].count("suppressed") == 2 and shown[-1][0] == "resolved"
    client.force_login(User.objects.create_superuser("root"))
    page = client.get("/clusters/busy/namespaces/team-a/").content.decode()
    assert f"The {NAMESPACE_FINDINGS_SHOWN} worst of its {total} findings." in page


def test_a_namespace_lives_chart_draws_its_worst_findings_and_counts_them_all():
    cluster = Cluster.objects.create(name="busy", source=Cluster.Source.OFFLINE)
    run_snapshot(queue_snapshot(cluster), lambda: collection([obj("Namespace", "team-a")]))
    statuses = ["open"] * (MAX_LIVES - 6) + ["suppressed"] * 3 + ["resolved"] * 10
    _findings_in(cluster, "team-a", statuses)

    lives, total = namespace_lives(cluster, "team-a", Scope.everything())
    assert total == in_namespace(Finding.objects.all(), "team-a").count() > MAX_LIVES
    shown = [(life.status, SEVERITY_RANK[life.severity]) for life in lives]
    assert len(shown) == MAX_LIVES and _worst_first(shown)
    assert [status for status, _ in shown].count("suppressed") == 3 and shown[-1][0] == "resolved"
