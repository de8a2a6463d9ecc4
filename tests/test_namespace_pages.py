"""The namespaces list (sorted, filtered, paginated, scoped, with a 7-day trend) and a namespace's
exposure view (its data as PVC → PV → array object, every path grouped by actor, the diagram, what sets
its grade); both at a number of queries that does not grow with the cluster."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from dashboard.exposure_diagram import MAX_VOLUMES, OTHER_DATA, sankey, volumes_of
from dashboard.namespace_data import NODES_LISTED, PARTIES_LISTED, _access_record
from dashboard.path_groups import grouped_paths
from exposure.findings import by_status
from exposure.models import Finding
from inventory.models import Cluster, InventoryObject
from inventory.snapshotting import queue_snapshot, run_snapshot
from tenancy.models import Grant
from tenancy.redaction import Reader
from tenancy.scope import Scope
from tests.cases.runner import TAKEN_AT
from tests.factories import collection, obj, pod

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]

ROW = re.compile(
    r'<td>(?:<span class="grade grade-(\w)"[^>]*>\w</span>|<span class="note">none yet</span>)</td>\s*'
    r'<td><a href="/clusters/([^/]+)/namespaces/([^/]+)/">'
)
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')  # differs per response
MARKER = "qv9k"  # tenant B's namespace in the built world: its name must never reach tenant A


# --- worlds -----------------------------------------------------------------------------------------


def nodes():
    return [
        obj(
            "Node",
            f"worker-{i}",
            status={"addresses": [{"type": "InternalIP", "address": f"192.0.2.{10 + i}"}]},
        )
        for i in (1, 2)
    ]


def tenant_namespace(name, team, node, *, privileged=False, share=None):
    """A namespace of `team` with one PVC (bound to an NFS PV) mounted by a pod on `node`; optionally a
    privileged pod there too (root on the node: every volume mounted on it), and its PV pointing at
    the export `share` instead of its own."""
    objects = [
        obj(
            "Namespace",
            name,
            metadata={"labels": {"team": team, "pod-security.kubernetes.io/enforce": "baseline"}},
        ),
        obj(
            "PersistentVolumeClaim",
            "data",
            name,
            spec={"volumeName": f"pv-{name}", "storageClassName": "gold", "accessModes": ["ReadWriteOnce"]},
            status={"phase": "Bound"},
        ),
        obj(
            "PersistentVolume",
            f"pv-{name}",
            spec={
                "claimRef": {"namespace": name, "name": "data"},
                "nfs": {"server": "192.0.2.50", "path": f"/exports/{share or name}"},
                "persistentVolumeReclaimPolicy": "Retain",
            },
            status={"phase": "Bound"},
        ),
        pod(
            "app-0", name, node=node, volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}]
        ),
    ]
    if privileged:
        objects.append(
            pod(
                "root",
                name,
                node=node,
                containers=[{"name": "c", "image": "x", "securityContext": {"privileged": True}}],
            )
        )
    return objects


def sized_world(n: int) -> list[dict]:
    """n namespaces of three tenants over two nodes; every third runs a privileged pod."""
    objects = nodes()
    for i in range(n):
        objects += tenant_namespace(f"ns-{i:03d}", f"t{i % 3}", f"worker-{1 + i % 2}", privileged=i % 3 == 1)
    return objects


def snapshot(cluster, objects, taken_at=None):
    done = run_snapshot(queue_snapshot(cluster, taken_at=taken_at), lambda: collection(objects))
    assert done.is_visible and not done.analysis_failure, done.error
    return done


def built(name, objects, taken_at=None) -> Cluster:
    cluster = Cluster.objects.create(name=name, source=Cluster.Source.OFFLINE, tenant_label="team")
    snapshot(cluster, objects, taken_at)
    return cluster


def alpha_reader(*clusters) -> User:
    user = User.objects.create_user("alice-reader")
    for name in clusters:
        Grant.objects.create(user=user, cluster=Cluster.objects.get(name=name), tenant="alpha")
    return user


def get(client, user, url) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def rows(client, user, url) -> list[tuple[str, str, str]]:
    """(grade, cluster, namespace) of each listed row, in order."""
    return ROW.findall(get(client, user, url))


def names(found) -> list[str]:
    return [namespace for _, _, namespace in found]


# --- the list ---------------------------------------------------------------------------------------


def test_the_list_shows_grade_tenant_owners_pvcs_and_open_findings(client, clusters, admin):
    html = get(client, admin, "/namespaces/")
    listed = ROW.findall(html)
    every = {(c.name, n) for c in Cluster.objects.all() for n in _namespaces(c)}
    assert {(cluster, ns) for _, cluster, ns in listed} == every
    assert ("D", "prod", "sandbox") in listed
    row = _row_html(html, "prod", "beta-app")
    assert "bob@example.com" in row and "annotation owner.example.com/email" in row
    assert ">beta<" in row.replace("<td>beta</td>", ">beta<"), "its tenant"
    shown = dict((sev, int(n)) for n, sev in re.findall(r'<span class="sev sev-\w+">(\d+) (\w+)</span>', row))
    expected = by_status(
        Finding.objects.filter(cluster__name="prod", attributions__namespace="beta-app"), "open"
    )
    assert shown == {s: expected.filter(severity=s).count() for s in {f.severity for f in expected}}
    pvcs = _objects(Cluster.objects.get(name="prod"), "PersistentVolumeClaim", namespace="beta-app")
    assert len(pvcs) == 3 and '<td class="number">3</td>' in row
    assert "Namespaces" in get(client, admin, "/") and 'href="/namespaces/"' in get(client, admin, "/")


def _objects(cluster, kind, **where) -> list[str]:
    latest = cluster.latest_visible_snapshot()
    found = InventoryObject.objects.as_of(latest).filter(scope="", kind=kind, **where)
    return list(found.values_list("name", flat=True))


def _namespaces(cluster) -> list[str]:
    return _objects(cluster, "Namespace")


def _row_html(html: str, cluster: str, namespace: str) -> str:
    start = html.index(f'<a href="/clusters/{cluster}/namespaces/{namespace}/">')
    return html[html.rindex("<tr>", 0, start) : html.index("</tr>", start)]


def test_sorted_by_each_header_and_worst_grade_first_by_default(client, clusters, admin):
    rank = {"": -1, "A": 0, "B": 1, "C": 2, "D": 3, "F": 4}
    default = rows(client, admin, "/namespaces/")
    grades = [rank[g] for g, _, _ in default]
    assert grades == sorted(grades, reverse=True) and grades[0] > grades[-1]
    by_name = names(rows(client, admin, "/namespaces/?sort=name"))
    assert (
        by_name == sorted(by_name) and names(rows(client, admin, "/namespaces/?sort=-name")) == by_name[::-1]
    )
    by_cluster = [c for _, c, _ in rows(client, admin, "/namespaces/?sort=cluster")]
    assert by_cluster == sorted(by_cluster)
    # The headers are links (keyboard-usable) that keep the filters, say how the table is sorted and
    # reverse on a second click.
    html = get(client, admin, "/namespaces/?grade=D&sort=name&page=1")
    assert '<th scope="col" aria-sort="ascending"><a href="?grade=D&amp;sort=-name">Namespace</a>' in html
    assert '<a href="?grade=D&amp;sort=-grade">Grade</a>' in html
    assert "aria-sort" not in html.split("Grade</a>")[0].split("<thead>")[1], "sorted by one column only"


def test_each_filter_selects_what_it_names(client, clusters, admin):
    assert {g for g, _, _ in rows(client, admin, "/namespaces/?grade=D")} == {"D"}
    alpha = rows(client, admin, "/namespaces/?tenant=alpha")
    assert set(names(alpha)) == {"alpha-web", "alpha-db"} and len(alpha) == 4  # both clusters
    assert set(names(rows(client, admin, "/namespaces/?tenant=-"))) == {"kube-system", "trident", "sandbox"}
    assert set(names(rows(client, admin, "/namespaces/?q=WEB"))) == {"alpha-web"}
    assert {c for _, c, _ in rows(client, admin, "/namespaces/?cluster=shared")} == {"shared"}
    with_findings = set(rows(client, admin, "/namespaces/?findings=yes"))
    without = set(rows(client, admin, "/namespaces/?findings=no"))
    assert with_findings and without and with_findings.isdisjoint(without)
    assert with_findings | without == set(rows(client, admin, "/namespaces/"))
    for _, cluster, namespace in without:
        assert not by_status(
            Finding.objects.filter(cluster__name=cluster, attributions__namespace=namespace), "open"
        )
    # An invalid filter lists nothing and names nothing back.
    html = get(client, admin, "/namespaces/?tenant=<b>nobody</b>")
    assert ROW.findall(html) == [] and "Not one of the values offered" in html and "<b>nobody" not in html


def test_pages_of_fifty(client, admin):
    built("big", sized_world(60))
    first = rows(client, admin, "/clusters/big/namespaces/?sort=name")
    second = rows(client, admin, "/clusters/big/namespaces/?sort=name&page=2")
    assert len(first) == 50 and len(second) == 10
    assert names(first + second) == [f"ns-{i:03d}" for i in range(60)]
    html = get(client, admin, "/clusters/big/namespaces/?sort=name")
    assert 'href="?sort=name&amp;page=2" rel="next"' in html and "60 namespaces" in html
    # The cluster page shows the first page, worst first, and links to the whole list.
    cluster_page = get(client, admin, "/clusters/big/")
    assert (
        len(ROW.findall(cluster_page)) == 50
        and 'href="/clusters/big/namespaces/">All 60 namespaces' in cluster_page
    )
    assert 'href="/clusters/big/namespaces/?sort=name">Namespace</a>' in cluster_page


def test_sorting_and_filters_hold_across_pages_and_each_page_row_is_whole(client, admin):
    """Every namespace is sorted and filtered before the page is cut (owners, PVCs and pods are read
    for the page shown only): the PVC order runs on over the page break, a filter counts them all."""
    objects = sized_world(60)
    extra = {i: 1 + i % 4 for i in range(0, 60, 3)}  # namespace index -> PVCs beside its one
    for i, n in extra.items():
        objects += [obj("PersistentVolumeClaim", f"extra-{j}", f"ns-{i:03d}", spec={}) for j in range(n)]
    built("big", objects)
    pages = [get(client, admin, f"/clusters/big/namespaces/?sort=-pvcs&page={p}") for p in (1, 2)]
    listed = [(ns, int(n)) for html in pages for ns, n in PVCS.findall(html)]
    expected = sorted(
        ((f"ns-{i:03d}", 1 + extra.get(i, 0)) for i in range(60)), key=lambda row: (-row[1], row[0])
    )
    assert listed == expected
    assert "team-admins" not in pages[1] and "t0" in pages[1], "each row whole: its tenant shown"
    url = "/clusters/big/namespaces/?sort=-name&findings=yes"
    found = names(rows(client, admin, url) + rows(client, admin, f"{url}&page=2"))
    open_findings = by_status(Finding.objects.filter(cluster__name="big", cluster_wide=False), "open")
    expected = [
        f"ns-{i:03d}" for i in range(60) if open_findings.filter(attributions__namespace=f"ns-{i:03d}")
    ]
    assert found == expected[::-1] and len(found) > 50
    assert f"{len(found)} namespaces" in get(client, admin, url)


PVCS = re.compile(r'<a href="/clusters/[^/]+/namespaces/([^/]+)/">.*?<td class="number">(\d+)</td>', re.S)


def test_a_tenant_lists_only_its_own_namespaces(client, clusters):
    alice = alpha_reader("prod", "shared")
    assert {(c, n) for _, c, n in rows(client, alice, "/namespaces/")} == {
        (c, n) for c in ("prod", "shared") for n in ("alpha-web", "alpha-db")
    }
    assert set(names(rows(client, alice, "/clusters/prod/"))) == {"alpha-web", "alpha-db"}
    assert rows(client, alice, "/namespaces/?q=beta") == []
    # Another tenant's name answers exactly as a name that exists nowhere.
    for query in ("?tenant=beta", "?q=beta-app", "?cluster=prod&tenant=beta"):
        named, nowhere = (
            get(client, alice, f"/namespaces/{query}"),
            get(client, alice, f"/namespaces/{query}".replace("beta", "nx0q")),
        )
        assert CSRF.sub("", named).replace("beta", "nx0q") == CSRF.sub("", nowhere), query
    for url in ("/clusters/prod/namespaces/beta-app/", "/clusters/shared/namespaces/beta-jobs/"):
        assert client.get(url).status_code == 404
    outsider = User.objects.create_user("outsider")
    client.force_login(outsider)
    assert client.get("/clusters/prod/namespaces/").status_code == 404
    assert ROW.findall(client.get("/namespaces/").content.decode()) == []


def test_the_trend_compares_with_the_grade_a_week_before(client, admin):
    start = TAKEN_AT
    steady = tenant_namespace("d", "delta", "worker-2")
    before = nodes() + tenant_namespace("a", "alpha", "worker-1") + steady
    before += tenant_namespace("b", "beta", "worker-1", privileged=True)
    cluster = built("prod", before, taken_at=start)
    after = (
        nodes()
        + tenant_namespace("a", "alpha", "worker-1")
        + steady
        + tenant_namespace("b", "beta", "worker-1")
    )
    after += tenant_namespace("c", "gamma", "worker-2")
    snapshot(cluster, after, taken_at=start + timedelta(days=8))
    html = get(client, admin, "/namespaces/?sort=-trend")
    a = _row_html(html, "prod", "a")
    assert "trend-better" in a and re.search(r"F → [A-D]<", a), a  # b's privileged pod beside it is gone
    assert "no grade 7 days before" in _row_html(html, "prod", "c")
    assert "= same" in _row_html(html, "prod", "d")
    order = names(ROW.findall(html))
    assert order.index("d") < order.index("a"), "worsened first: the improved come last"
    assert names(ROW.findall(get(client, admin, "/namespaces/?sort=trend")))[0] in ("a", "b")


# --- the exposure view ------------------------------------------------------------------------------


def test_paths_are_grouped_by_actor_and_rule(client, clusters, admin):
    html = get(client, admin, "/clusters/prod/namespaces/sandbox/")
    group = _section(html, "group-any-namespace")
    assert "Any namespace" in group and "volume-shared-by-annotation" in group and "every namespace" in group
    assert "Who outside its trust boundary" in html
    assert "Trust boundary: namespace sandbox." in html  # no tenant label: its own
    alpha = get(client, admin, "/clusters/prod/namespaces/alpha-web/")
    assert "Trust boundary: tenant alpha." in alpha
    subjects = _section(alpha, "group-subjects")
    assert "anyone who may create PVCs in beta-app" in subjects and "<details" in subjects
    db = get(client, admin, "/clusters/prod/namespaces/alpha-db/")
    assert "group-own-tenant" in db and "group-subjects" not in db  # alpha-web shares with alpha-db: inside
    # A tenant sees the same groups with the other tenant's actor named by kind only.
    alice = alpha_reader("prod")
    mine = get(client, alice, "/clusters/prod/namespaces/alpha-web/")
    subjects = _section(mine, "group-subjects")
    assert "a subject of another tenant" in subjects and "beta" not in subjects


def _section(html: str, labelled_by: str) -> str:
    start = html.index(f'aria-labelledby="{labelled_by}"')
    return html[start : html.index("</section>", start)]


def test_grouping_keeps_every_path_once_in_page_order():
    paths = [
        _path("pod", "privileged-container", "critical"),
        _path("outside-host", "export-allows-foreign-hosts", "high"),
        _path("pod", "host-network", "high"),
        _path("pod", "privileged-container", "info", platform=True),
        _path("subject", "namespace-admits-privileged", "info", inside_tenant=True),
        _path("pod", "privileged-container", "high"),
        _path("martian", "new-rule", "low"),
    ]
    groups = grouped_paths(paths)
    assert [g["key"] for g in groups] == ["outside-hosts", "other-pods", "other", "own-tenant", "platform"]
    pods = groups[1]
    assert [(e["rule"], e["worst"], len(e["paths"])) for e in pods["rules"]] == [
        ("privileged-container", "critical", 2),
        ("host-network", "high", 1),
    ]
    assert pods["count"] == 3 and pods["violation"] and not groups[3]["violation"]
    assert sum(g["count"] for g in groups) == len(paths)


def test_the_data_tree_goes_from_claim_to_array_object_with_verdicts(client, clusters, admin):
    html = get(client, admin, "/clusters/shared/namespaces/alpha-db/")
    tree = html[html.index('id="data"') : html.index("<h2>Findings")]
    steps = [
        "PVC <code>ledger</code>",
        "PV <code>pvc-ec0cbf80-c716-582d-bb82-d648ecb34112</code>",
        "ONTAP volume <code>svm_legacy/trident_pvc_ec0cbf80_c716_582d_bb82_d648ecb34112</code> on nas-legacy",
        "volume policy <code>k8s_nodes</code>",
        'verdict-foreign">foreign',
    ]
    positions = [tree.index(step) for step in steps]
    assert positions == sorted(positions), tree
    assert "reached by 2 paths from outside" in tree
    assert "192.0.2.0/24" in tree


def test_a_volume_admitting_every_node_lists_a_few_and_counts_the_rest():
    """An igroup of every node admits a thousand parties at bench scale: the page lists
    PARTIES_LISTED of them, the ones that are not a node of the cluster first, and counts the rest by
    verdict; a party matching every node names NODES_LISTED of them."""
    everyone = [f"worker-{i}" for i in range(300)]
    parties = [{"party": f"iqn.node-{i}", "verdict": "node", "nodes": [f"worker-{i}"]} for i in range(40)]
    parties[33] = {"party": "10.0.0.0/8", "verdict": "foreign", "nodes": everyone}
    parties.append({"party": "*", "verdict": "wildcard"})
    record = {"object": {"kind": "ontap.Lun", "name": "svm/vol/lun0"}, "admitted": parties}
    shown = _access_record(record, Reader.of(Scope.everything(), 1, {}, frozenset()))
    listed = [p["party"] for p in shown["admitted"]]
    assert len(listed) == PARTIES_LISTED and listed[-2:] == ["10.0.0.0/8", "*"], "the array's order"
    assert listed[:-2] == [f"iqn.node-{i}" for i in range(PARTIES_LISTED - 2)]
    assert shown["unlisted_total"] == 41 - PARTIES_LISTED and shown["unlisted"] == [("node", 21)]
    wide = shown["admitted"][-2]
    assert wide["nodes"] == everyone[:NODES_LISTED] and wide["more_nodes"] == 300 - NODES_LISTED


def test_what_sets_the_grade_and_the_diagram(client, admin):
    built("prod", sized_world(6))
    html = get(client, admin, "/clusters/prod/namespaces/ns-000/")
    assert 'class="grade grade-F"' in html
    setting = _section(html, "grade-setting")
    assert "1 open critical finding" in setting and "privileged-container" in setting
    assert "Pod/ns-004/root" in setting, "the path that sets it, named for an admin"
    figure = _figure(html)
    labels = figure["data"][0]["node"]["label"]
    assert labels[0] == "Other tenants' pods" and "privileged-container" in labels and "PVC data" in labels
    assert "plotly-strict.min.js" in html and "charts.js" in html
    # A namespace nothing reaches from outside draws no diagram and loads no chart script.
    quiet = built("quiet", nodes() + tenant_namespace("calm", "alpha", "worker-1"))
    calm = get(client, admin, f"/clusters/{quiet.name}/namespaces/calm/")
    assert "chart-exposure-sankey" not in calm


def _figure(html: str) -> dict:
    found = re.search(
        r'<script id="chart-exposure-sankey" type="application/json">(.*?)</script>', html, re.S
    )
    return json.loads(found.group(1))


def shared_with_b() -> list[dict]:
    """B's privileged pod runs on the node where A's volume is mounted, and B's PV points at A's export."""
    other = f"{MARKER}-b"
    objects = nodes() + tenant_namespace("alpha-web", "alpha", "worker-1")
    return objects + tenant_namespace(other, f"beta-{MARKER}", "worker-1", privileged=True, share="alpha-web")


def test_the_diagram_never_names_another_tenant_sharing_nodes_and_volumes(client, admin):
    """A's diagram shows that another tenant's pod reaches A's volume, and nothing of B's names."""
    built("prod", shared_with_b())
    assert MARKER in get(client, admin, "/clusters/prod/namespaces/alpha-web/"), (
        "an admin sees B: B is really there"
    )
    alice = alpha_reader("prod")
    html = get(client, alice, "/clusters/prod/namespaces/alpha-web/")
    figure = _figure(html)
    labels = figure["data"][0]["node"]["label"]
    assert "Other tenants' pods" in labels and "PVC data" in labels
    assert MARKER not in json.dumps(figure)
    pods = _section(html, "group-other-pods")
    assert "a pod of another tenant" in pods and "Node/worker-1" in pods and MARKER not in pods
    for url in ("/namespaces/", "/clusters/prod/namespaces/", "/clusters/prod/"):
        assert MARKER not in get(client, alice, url)


def test_a_path_through_another_tenants_pv_names_no_pv_of_theirs(client):
    built("prod", shared_with_b())
    alice = alpha_reader("prod")
    html = get(client, alice, "/clusters/prod/namespaces/alpha-web/")
    assert MARKER not in html
    shared = _section(html, "group-subjects")  # volume-shared-across-tenants: anyone who may use B's PV
    assert "PersistentVolume of another tenant" in shared and "PersistentVolume/pv-alpha-web" in shared, (
        "B's PV by its kind, A's own by its name"
    )


def test_the_diagram_labels_come_from_the_paths_shown_only():
    paths = [
        _path(
            "pod",
            "privileged-container",
            "critical",
            data=["PersistentVolumeClaim/a/data", "PersistentVolume/pv-a"],
        ),
        _path("pod", "host-network", "high", data=["PersistentVolume of another tenant"]),
        _path("subject", "pv-writable-by-non-admins", "critical", data=["Namespace/a"]),
        _path(
            "outside-host", "export-allows-foreign-hosts", "high", data=["array:ontap-a/ontap.Qtree/svm/q1"]
        ),
        _path("pod", "privileged-container", "high", data=["PersistentVolumeClaim/a/<b>x</b>"]),
        _path("pod", "privileged-container", "info", data=["PersistentVolumeClaim/a/data"], platform=True),
    ]
    assert volumes_of(paths[1], "a") == [OTHER_DATA]
    chart = sankey(paths, "a")
    trace = chart["figure"]["data"][0]
    assert trace["type"] == "sankey"
    assert trace["node"]["label"] == [
        "Hosts outside the cluster",
        "Other tenants' pods",
        "RBAC subjects",
        "export-allows-foreign-hosts",
        "host-network",
        "privileged-container",
        "pv-writable-by-non-admins",
        "PVC &lt;b&gt;x&lt;/b&gt;",
        "PVC data",
        "all of a",
        "ontap-a qtree svm/q1",
        OTHER_DATA,
    ]
    # What flows into each mechanism flows out of it: one unit per (path, volume).
    flows_in, flows_out = {}, {}
    for s, t, v in zip(trace["link"]["source"], trace["link"]["target"], trace["link"]["value"], strict=True):
        flows_out[s] = flows_out.get(s, 0) + v
        flows_in[t] = flows_in.get(t, 0) + v
    for mechanism in range(3, 7):
        assert flows_in[mechanism] == flows_out[mechanism]
    assert sum(trace["link"]["value"]) == 2 * 5, "five paths from outside, one volume each"
    assert (
        "5 paths from outside its trust boundary" in chart["summary"] and "RBAC subjects" in chart["summary"]
    )
    assert sankey([paths[-1]], "a") is None, "only platform paths: nothing from outside to draw"


def test_a_namespace_of_many_volumes_draws_the_most_reached_and_one_node_for_the_rest():
    paths = [
        _path("pod", "privileged-container", "high", data=[f"PersistentVolumeClaim/a/v{i:03d}"])
        for i in range(100)
    ]
    paths += [_path("pod", "host-network", "high", data=["PersistentVolumeClaim/a/v099"])]
    labels = sankey(paths, "a")["figure"]["data"][0]["node"]["label"]
    volumes = [label for label in labels if label.startswith("PVC ") or label.endswith("more volumes")]
    assert len(volumes) == MAX_VOLUMES and volumes[-1] == f"{100 - MAX_VOLUMES + 1} more volumes"
    assert "PVC v099" in volumes, "the most reached volume is drawn by name"


def _path(
    kind, rule, severity, data=("PersistentVolumeClaim/a/data",), *, platform=False, inside_tenant=False
):
    return {
        "actor": {"kind": kind, "identity": f"a {kind}", "tenant": "t", "platform": platform},
        "hops": [],
        "data": list(data),
        "namespace": "a",
        "access": "write",
        "rule": rule,
        "severity": severity,
        "mitigations": [],
        "inside_tenant": inside_tenant,
        "platform": platform,
    }


# --- cost -------------------------------------------------------------------------------------------


PAGES = ("/namespaces/", "/clusters/prod/namespaces/", "/clusters/prod/", "/clusters/prod/namespaces/ns-000/")


def _query_counts(client, user) -> dict[str, int]:
    client.force_login(user)
    counts = {}
    for url in PAGES:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200, url
        counts[url] = len(queries)
    return counts


def test_the_pages_cost_the_same_queries_for_3_or_30_namespaces(client, admin):
    cluster = built("prod", sized_world(3))
    tenant = User.objects.create_user("t0-reader")
    Grant.objects.create(user=tenant, cluster=cluster, tenant="t0")
    small = {who.username: _query_counts(client, who) for who in (admin, tenant)}
    snapshot(cluster, sized_world(30))
    Cluster.objects.filter(pk=cluster.pk).update(name="prod")
    tenant = User.objects.get(pk=tenant.pk)  # a fresh user: its scope is computed anew
    large = {who.username: _query_counts(client, who) for who in (admin, tenant)}
    assert len(rows(client, admin, "/clusters/prod/namespaces/")) == 30
    assert large == small
