"""The built-in demo: simulator over HTTP, past-dated history through the real pipeline."""

from datetime import UTC, datetime, timedelta

import pytest

from inventory import demo as demo_module
from inventory.models import Cluster, InventoryObject, Snapshot
from tests.factories import dashboard_admin

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def running_demo(tmp_path):
    demo = demo_module.Demo(tmp_path, now=NOW, days=2, step=timedelta(hours=8)).start()
    assert demo_module.progress.finished.wait(60), "backfill did not finish"
    yield demo
    demo.stop()


def test_backfill_writes_past_dated_snapshots_stamped_with_the_simulators_clock(running_demo):
    cluster = Cluster.objects.get(name=demo_module.DEMO_NAME)
    snapshots = list(cluster.snapshots.order_by("seq"))
    assert [s.taken_at for s in snapshots] == running_demo.backfill_times()
    assert len(snapshots) == 6
    assert {s.status for s in snapshots} == {Snapshot.Status.COMPLETE}
    assert cluster.enabled, "the scheduler takes over once the past is written"
    # History grows with change: the later snapshots write far less than the first.
    first, *rest = snapshots
    assert sum(sum(s.rows_written.values()) for s in rest) < first.rows_written["inserted"]


def test_demo_is_replaced_on_restart(tmp_path):
    for _ in range(2):
        demo = demo_module.Demo(tmp_path, now=NOW, days=1, step=timedelta(hours=12)).start()
        assert demo_module.progress.finished.wait(60)
        demo.stop()
    assert Cluster.objects.filter(source=Cluster.Source.DEMO).count() == 1
    assert Cluster.objects.get().snapshots.count() == 2


def test_demo_pages_show_namespaces_and_say_simulated(running_demo, client):
    client.force_login(dashboard_admin())
    overview = client.get("/").content.decode()
    assert "Simulated data" in overview and "demo" in overview
    cluster_page = client.get("/clusters/demo/").content.decode()
    latest = Cluster.objects.get(name="demo").latest_visible_snapshot()
    namespaces = InventoryObject.objects.as_of(latest).filter(kind="Namespace").values_list("name", flat=True)
    assert len(namespaces) >= 10
    for name in namespaces:
        assert f">{name}</a>" in cluster_page
    assert "Simulated data" in cluster_page


def test_demo_does_not_start_when_a_real_cluster_is_registered(tmp_path):
    assert not demo_module.real_cluster_registered()
    Cluster.objects.create(name="prod", source=Cluster.Source.KUBECONFIG, kubeconfig_path=str(tmp_path / "k"))
    assert demo_module.real_cluster_registered()


def test_the_demo_is_retired_once_a_real_cluster_is_registered(tmp_path):
    from arrays.models import Array

    demo = demo_module.Demo(tmp_path, now=NOW, days=1, step=timedelta(hours=12)).start()
    assert demo_module.progress.finished.wait(60)
    demo.stop()
    assert Array.objects.filter(demo=True).count() == 3
    Array.objects.create(name="real-array", kind="ontap", host="127.0.0.1", credentials="env:REAL")
    assert demo_module.retire()
    assert not Cluster.objects.filter(source=Cluster.Source.DEMO).exists()
    assert list(Array.objects.values_list("name", flat=True)) == ["real-array"]


def test_a_tenant_sees_no_other_tenants_names_on_its_demo_page(running_demo, client):
    """Issue 9's leak: a user granted only umbrella-lab saw 34 PVCs of 7 other tenants' namespaces and
    the full paths into them.  Every other tenant's namespace name must now be absent from the page."""
    import re

    from django.contrib.auth.models import User

    from tenancy.boundaries import tenant_of_namespace
    from tenancy.models import Grant

    cluster = Cluster.objects.get(name="demo")
    latest = cluster.latest_visible_snapshot()
    namespaces = dict(
        InventoryObject.objects.as_of(latest).filter(kind="Namespace").values_list("name", "data")
    )
    tenants = {
        name: tenant_of_namespace(name, data, cluster.tenant_label) for name, data in namespaces.items()
    }
    own = tenants["umbrella-lab"]
    platform = set(cluster.effective_platform_namespaces())
    others = [n for n, t in tenants.items() if t != own and n not in platform]
    assert len(others) >= 5
    user = User.objects.create_user("umbrella-dev")
    Grant.objects.create(user=user, cluster=cluster, namespace="umbrella-lab")
    client.force_login(user)
    page = client.get("/clusters/demo/namespaces/umbrella-lab/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "umbrella-lab" in html

    def named(namespace: str) -> bool:
        if namespace == "default":  # an everyday word (service accounts, policies): its references only
            return bool(re.search(r"Namespace/default\b|/default/", html))
        return bool(re.search(rf"(?<![\w-]){re.escape(namespace)}(?![\w-])", html))

    leaked = [n for n in others if named(n)]
    assert leaked == [], f"other tenants' namespaces named on umbrella-lab's page: {leaked}"


def test_the_demo_month_tells_a_story(tmp_path):
    """Most namespaces good and a few bad; a node debugged from globex-dev, an export widened and a
    cluster-wide RBAC mistake, each appearing and fixed, so that timelines show change."""
    from exposure.grades import CLUSTER_WIDE, timeline
    from exposure.models import Finding, FindingEvent, NamespaceStatus
    from simulator.world import LAB_NAMESPACES

    demo = demo_module.Demo(tmp_path, now=NOW, days=30, step=timedelta(hours=12)).start()
    assert demo_module.progress.finished.wait(300), "backfill did not finish"
    demo.stop()
    cluster = Cluster.objects.get(name="demo")
    start = cluster.snapshots.order_by("seq").first().taken_at

    def day(n: float):
        return start + timedelta(days=n)

    latest = cluster.latest_visible_snapshot()
    namespaces = set(
        InventoryObject.objects.as_of(latest).filter(kind="Namespace").values_list("name", flat=True)
    )
    now = dict(
        NamespaceStatus.objects.filter(cluster=cluster, valid_to=None, namespace__in=namespaces).values_list(
            "namespace", "grade"
        )
    )
    assert set(now) == namespaces
    failing = sorted(n for n, grade in now.items() if grade == "F")
    assert len(failing) * 3 < len(namespaces), f"most namespaces are not F: {now}"
    assert sum(grade in "ABC" for grade in now.values()) * 2 > len(namespaces), now
    assert LAB_NAMESPACES <= set(failing), "the lab's namespaces expose one another"

    history = timeline(cluster.pk)
    changed = [n for n, rows in history.items() if n and len({r["grade"] for r in rows}) > 1]
    assert len(changed) >= 3, "timelines show change"

    # The cluster-wide RBAC mistake (days 19 to 23): the cluster's grade went worse, then better.
    cluster_rows = history[CLUSTER_WIDE]
    assert [r["grade"] for r in cluster_rows] == ["D", "F", "D"], cluster_rows
    assert day(19) < cluster_rows[1]["from"] <= day(20) and day(23) < cluster_rows[1]["to"] <= day(24)
    assert cluster_rows[2]["grade_since"] == cluster_rows[2]["from"]
    writes = Finding.objects.filter(cluster=cluster, rule="pv-writable-by-non-admins")
    assert writes.count() == 2 and all(f.cluster_wide and f.status == "resolved" for f in writes)
    assert {"acme-web", "default"} <= set(writes[0].namespaces), "attributed to every namespace"
    assert all(len({r["grade"] for r in history[n]}) == 1 for n in ("default", "kube-system", "trident")), (
        "a cluster-wide mistake leaves empty namespaces' grades alone"
    )

    # The FlexGroup export widened (days 14 to 17): in the findings' history, and initech-billing's grade.
    widened = Finding.objects.get(
        cluster=cluster, rule="export-allows-foreign-hosts", attributions__namespace="initech-billing"
    )
    events = [(e.kind, e.at) for e in FindingEvent.objects.filter(finding=widened).order_by("at")]
    assert [kind for kind, _ in events] == ["opened", "resolved"]
    assert day(14) < events[0][1] <= day(15) and day(17) < events[1][1] <= day(18)
    billing = [r["grade"] for r in history["initech-billing"]]
    assert "F" in billing and billing[-1] != "F"

    # A privileged pod debugging a well-run namespaces' node (days 3 to 5): their A went F, then A.
    well_run = demo.simulation.well_run_namespaces
    assert len(well_run) >= 8 and all([r["grade"] for r in history[n]] == ["A", "F", "A"] for n in well_run)
    # Since is when the letter was taken: it survives changes of the counts alone.
    for rows in history.values():
        for before, after in zip(rows, rows[1:], strict=False):
            if before["to"] == after["from"] and before["grade"] == after["grade"]:
                assert after["grade_since"] == before["grade_since"]


def test_the_new_pages_name_no_other_tenant_either(running_demo, client):
    """The arrays, snapshot history and rules pages of a tenant of the demo: the arrays and backends
    holding its volumes, none of the others' namespaces."""
    import re

    from django.contrib.auth.models import User

    from tenancy.models import Grant
    from tenancy.scope import Scope

    cluster = Cluster.objects.get(name="demo")
    latest = cluster.latest_visible_snapshot()
    namespaces = set(
        InventoryObject.objects.as_of(latest).filter(kind="Namespace").values_list("name", flat=True)
    )
    user = User.objects.create_user("umbrella-dev")
    Grant.objects.create(user=user, cluster=cluster, namespace="umbrella-lab")
    client.force_login(user)
    from tenancy.access import scope_of

    visible = scope_of(user).visible_in(cluster.pk)
    others = namespaces - visible - {"default"} - set(cluster.effective_platform_namespaces())
    assert visible and len(others) >= 5
    for url in ("/clusters/demo/arrays/", "/clusters/demo/snapshots/", "/rules/", "/clusters/demo/"):
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        leaked = [n for n in others if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", html)]
        assert leaked == [], (url, leaked)
    # The arrays page shows the tenant's own volumes' gates, and fewer than an admin sees.
    from dashboard.storage import volumes_held

    own = sum(volumes_held(latest, scope_of(user)).values())
    assert 0 < own < sum(volumes_held(latest, Scope.everything()).values())
    # Nor are the backends that hold none of its volumes named.
    holding = {backend for (_, backend) in volumes_held(latest, scope_of(user)) if backend}
    others = {b["name"] for b in latest.facts["backends"].values()} - holding
    assert holding and others
    page = client.get("/clusters/demo/arrays/").content.decode()
    assert [b for b in others if re.search(rf"(?<![\w-]){re.escape(b)}(?![\w-])", page)] == []


def test_the_log_says_one_line_per_snapshot_and_when_the_history_is_complete(tmp_path, caplog):
    import logging

    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="arrays.sources.ontap")
    demo = demo_module.Demo(tmp_path, now=NOW, days=2, step=timedelta(hours=8)).start()
    try:
        assert demo_module.progress.finished.wait(60)
    finally:
        demo.stop()
    ours = [
        r for r in caplog.records if r.name.split(".")[0] in {"inventory", "arrays", "exposure", "simulator"}
    ]
    said = [r.getMessage() for r in ours if r.levelno == logging.INFO]
    summaries = [m for m in said if m.startswith("snapshot demo#")]
    assert len(summaries) == 6 and all("complete" in m and "ontap-a" in m for m in summaries), said
    assert said[-1] == "demo history complete: 6 snapshots over 2 days"
    assert len(said) == 7, f"one line per snapshot, then the end of the history: {said}"
    details = [r.getMessage() for r in ours if r.levelno == logging.DEBUG]
    assert any(m.startswith("read ONTAP array") for m in details), "the sources' details are at DEBUG"
