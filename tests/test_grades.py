"""Grades that tell namespaces apart: a namespace's own exposure, the cluster's cluster-wide exposure
beside it, "since" as when the letter was taken, and an honest page after a partial import."""

import re
import shutil
from datetime import timedelta

import pytest
from django.contrib.auth.models import User

from dashboard.queries import cluster_grade, cluster_wide_counts, current_grades
from dashboard.timelines import grade_distribution
from exposure.grades import CLUSTER_WIDE, exposure_rank, record_grades, timeline
from exposure.models import Finding, NamespaceStatus
from inventory.importing import import_dump
from inventory.models import Cluster, Snapshot
from tenancy.access import scope_of
from tenancy.models import Grant
from tenancy.scope import Scope
from tests.cases.runner import CASES, TAKEN_AT, assemble, configure_cluster, run_case, violations
from tests.factories import dashboard_admin

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]  # queries and the upgrade, on both

PATCHERS = CASES / "tenancy" / "subject-patches-namespaces"  # platform-team cluster-wide; bea in beta-jobs
ONE_NAMESPACE = """apiVersion: v1
kind: List
metadata: {resourceVersion: ""}
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    creationTimestamp: "2025-03-01T08:05:00Z"
    labels: {kubernetes.io/metadata.name: beta-jobs, team: beta}
    name: beta-jobs
    uid: 6b1c2d3e-0000-4000-8000-0000000000b2
  status: {phase: Active}
"""


def _by_subject(evaluation, slug) -> dict[str, object]:
    return {hit.evidence["subject"]: hit for hit in violations(evaluation, slug)}


# --- the criterion ----------------------------------------------------------------------------------


def test_cluster_wide_is_the_grants_reach_not_how_many_namespaces_a_finding_hits(tmp_path):
    _, evaluation = run_case(PATCHERS, tmp_path / "full", "full")
    hits = _by_subject(evaluation, "namespace-labels-writable")
    assert hits["Group:platform-team"].cluster_wide, "a ClusterRoleBinding patches every namespace"
    assert not hits["User:bea@example.com"].cluster_wide, "a RoleBinding relabels its own namespace only"

    # A tiny cluster of one namespace: both hit every namespace there is; only the grant decides.
    dump = assemble(PATCHERS, tmp_path / "tiny", {})
    (dump / "kubernetes" / "namespaces.yaml").write_text(ONE_NAMESPACE)
    cluster = configure_cluster("tiny", {})
    snapshot = import_dump(cluster.name, dump, taken_at=TAKEN_AT)
    labels = Finding.objects.filter(cluster=cluster, rule="namespace-labels-writable")
    stored = {f.evidence["subject"]: f for f in labels}
    assert snapshot.facts["analysis"]["namespaces"] == ["beta-jobs"]
    assert stored["User:bea@example.com"].namespaces == ["beta-jobs"]
    assert stored["Group:platform-team"].namespaces == ["beta-jobs"]
    assert not stored["User:bea@example.com"].cluster_wide
    assert stored["Group:platform-team"].cluster_wide


@pytest.mark.parametrize(
    ("case", "slug", "cluster_wide"),
    [
        ("rbac/aggregated-clusterroles", "pv-writable-by-non-admins", True),
        ("rbac/platform-namespace-grants", "tenant-has-cluster-scope", True),
        ("rbac/system-authenticated", "pv-visible-to-non-admins", True),
        ("rbac/resource-names", "namespace-labels-writable", False),  # named namespaces only
        ("rbac/chap-secrets-readable", "chap-secrets-readable", False),  # the SolidFire volumes' data
    ],
)
def test_which_rules_say_cluster_wide(tmp_path, case, slug, cluster_wide):
    _, evaluation = run_case(CASES / case, tmp_path)
    hits = violations(evaluation, slug)
    assert hits, f"{case} raises no {slug}"
    assert {hit.cluster_wide for hit in hits} == {cluster_wide}


# --- grades -----------------------------------------------------------------------------------------


@pytest.fixture
def patched(tmp_path):
    cluster = configure_cluster("prod", {})
    snapshot = import_dump(cluster.name, assemble(PATCHERS, tmp_path / "one", {}), taken_at=TAKEN_AT)
    assert snapshot.status == Snapshot.Status.COMPLETE
    return cluster


def test_a_namespace_is_graded_by_its_own_exposure_and_the_cluster_by_the_cluster_wide(patched):
    grades = current_grades(patched, Scope.everything())
    assert (grades[CLUSTER_WIDE].grade, grades[CLUSTER_WIDE].counts) == ("D", {"high": 1})  # platform-team
    assert (grades["beta-jobs"].grade, grades["beta-jobs"].counts) == ("D", {"high": 1})  # bea, its own
    for namespace in ("alpha-db", "alpha-web", "beta-app", "sandbox", "trident", "kube-system"):
        assert (grades[namespace].grade, grades[namespace].counts) == ("A", {}), namespace
    # Not hidden: the cluster-wide finding is still attributed to, and counted beside, every namespace.
    everyone = Scope.everything()
    assert cluster_wide_counts(patched, everyone, "alpha-db") == {"high": 1}
    assert cluster_wide_counts(patched, everyone, "beta-jobs") == {"high": 1}
    assert cluster_grade(patched, everyone)["grade"] == "D"


def test_a_tenant_sees_its_own_grade_and_the_cluster_wide_exposure_that_reaches_it(patched, client):
    user = User.objects.create_user("alpha-dev")
    Grant.objects.create(user=user, cluster=patched, namespace="alpha-db")
    scope = scope_of(user)
    assert set(current_grades(patched, scope)) == {"alpha-db"}, "the cluster's own row is admins'"
    assert cluster_grade(patched, scope) == {"grade": "D", "counts": {"high": 1}, "since": None}
    client.force_login(user)
    html = client.get("/clusters/prod/namespaces/alpha-db/").content.decode()
    assert re.search(r'<span class="grade grade-A">A</span>\s*No open path', html), "its own grade"
    assert 'Cluster-wide: <span class="grade grade-D">D</span>' in html
    assert "cluster-wide-tag" in html, "the cluster-wide finding is listed, marked"
    listing = client.get("/clusters/prod/").content.decode()
    assert 'Cluster-wide: <span class="grade grade-D">D</span>' in listing


def test_the_cluster_page_ranks_namespaces_by_their_own_exposure(patched, client):
    client.force_login(dashboard_admin())
    html = client.get("/clusters/prod/").content.decode()
    listed = re.findall(r'<td><a href="/clusters/prod/namespaces/([\w-]+)/">', html)
    assert listed[0] == "beta-jobs", listed  # the only namespace with exposure of its own
    assert listed[1:] == sorted(listed[1:])
    assert re.search(r"Worst namespace: <span class=\"grade grade-D\">D</span>\s*<a [^>]*>beta-jobs", html)
    assert exposure_rank("F", {"critical": 1}) < exposure_rank("D", {"high": 9})
    assert exposure_rank("D", {"high": 9}) < exposure_rank("D", {"high": 1})
    assert exposure_rank("D", {"high": 1}) < exposure_rank("A", {})


def test_the_overview_names_the_worst_namespaces_each_reader_may_see(patched, client):
    client.force_login(dashboard_admin())
    html = client.get("/").content.decode()
    worst = re.findall(
        r'<li><span class="grade grade-(\w)">\w</span>\s*<a href="/clusters/prod/namespaces/([\w-]+)/">', html
    )
    assert worst == [("D", "beta-jobs")], "only namespaces with exposure of their own, worst first"
    # A tenant of alpha: its namespaces are all A, beta-jobs is not theirs to see.
    user = User.objects.create_user("alpha-dev")
    Grant.objects.create(user=user, cluster=patched, namespace="alpha-db")
    client.force_login(user)
    html = client.get("/").content.decode()
    assert "beta-jobs" not in html
    assert "No namespace you may see has an open path from outside its trust boundary." in html


# --- since ------------------------------------------------------------------------------------------


def _snapshot(cluster, seq):
    return Snapshot.objects.create(
        cluster=cluster, seq=seq, status=Snapshot.Status.COMPLETE, taken_at=TAKEN_AT + timedelta(days=seq)
    )


def _finding(cluster, key, severity, namespaces, seq):
    return Finding.objects.create(
        cluster=cluster,
        rule="host-path-volume",
        fingerprint=key,
        identity=[key],
        severity=severity,
        title=key,
        namespaces=namespaces,
        evidence_key=key,
        first_seen=TAKEN_AT,
        first_seen_seq=seq,
        changed_seq=seq,
    )


def test_since_is_when_the_grade_took_its_letter_not_when_its_counts_last_moved():
    cluster = Cluster.objects.create(name="since", source=Cluster.Source.OFFLINE)
    plan = [  # (findings open in namespace app, whether app exists)
        ({"h1": "high"}, True),  # D from day 1
        ({"h1": "high", "h2": "high"}, True),  # still D: counts moved
        ({"h1": "high", "h2": "high", "c1": "critical"}, True),  # F from day 3
        ({"h1": "high", "h2": "high"}, True),  # D again from day 4
        ({}, False),  # app gone
        ({"h1": "high"}, True),  # back: D from day 6, a new run
    ]
    findings = {}
    for seq, (open_now, exists) in enumerate(plan, start=1):
        snapshot = _snapshot(cluster, seq)
        for key, severity in open_now.items():
            if key not in findings:
                findings[key] = _finding(cluster, key, severity, ["app"], seq)
        for key, finding in findings.items():
            finding.status = Finding.Status.OPEN if key in open_now else Finding.Status.RESOLVED
            finding.save(update_fields=["status"])
        record_grades(snapshot, ["app"] if exists else [])
        row = NamespaceStatus.objects.filter(cluster=cluster, namespace="app", valid_to=None).first()
        if seq == 2:
            assert (row.grade, row.grade_since, row.valid_from) == ("D", 1, 2)
            assert row.grade_since_at == TAKEN_AT + timedelta(days=1)
        if seq == 3:
            assert (row.grade, row.grade_since) == ("F", 3)
        if seq == 4:
            assert (row.grade, row.grade_since) == ("D", 4)
        if seq == 5:
            assert row is None
    assert (row.grade, row.grade_since) == ("D", 6), "a namespace that reappears starts anew"
    history = timeline(cluster.pk, "app")["app"]
    assert [(i["grade"], i["grade_since"].day - TAKEN_AT.day) for i in history] == [
        ("D", 1),
        ("D", 1),
        ("F", 3),
        ("D", 4),
        ("D", 6),
    ]


def test_the_namespace_page_says_since_when_the_letter_holds(patched, tmp_path, client):
    # An hour later bea's colleague may relabel beta-jobs too: two high findings, still D.
    dump = assemble(PATCHERS, tmp_path / "two", {})
    text = (dump / "kubernetes" / "objects.yaml").read_text()
    extra = re.search(r"- apiVersion: rbac.authorization.k8s.io/v1\n  kind: RoleBinding\n(?:  .*\n)+", text)
    assert extra and "bea@example.com" in extra.group(0)
    (dump / "kubernetes" / "objects.yaml").write_text(
        text + extra.group(0).replace("bea@example.com", "ben@example.com").replace("name: ", "name: ben-", 1)
    )
    later = TAKEN_AT + timedelta(hours=1)
    import_dump("prod", dump, taken_at=later)
    row = current_grades(patched, Scope.everything())["beta-jobs"]
    assert (row.grade, row.counts, row.valid_from_at) == ("D", {"high": 2}, later)
    client.force_login(dashboard_admin())
    html = client.get("/clusters/prod/namespaces/beta-jobs/").content.decode()
    (grade_line,) = re.findall(r'<p class="grade-line">(.*?)</p>', html, re.S)
    assert f"D since {TAKEN_AT:%Y-%m-%d %H:%M} UTC" in grade_line, grade_line


def test_only_present_namespaces_are_graded_now_and_the_gone_keep_their_history():
    """A namespace gone from the cluster (or never created: a PV pre-bound to `old-team`) is not a
    current grade, in the distribution or the worst list; its history stays.  A finding attributed only
    to namespaces that are not there grades the cluster."""
    cluster = Cluster.objects.create(name="phantom", source=Cluster.Source.OFFLINE)
    first = _snapshot(cluster, 1)
    _finding(cluster, "app-high", "high", ["app"], 1)
    _finding(cluster, "team-critical", "critical", ["team"], 1)
    _finding(cluster, "prebound", "critical", ["old-team"], 1)  # no such namespace, ever
    record_grades(first, ["app", "team"])
    second = _snapshot(cluster, 2)
    record_grades(second, ["app"])  # team deleted; its finding held open (say, unread)
    current = current_grades(cluster, Scope.everything())
    assert set(current) == {CLUSTER_WIDE, "app"}
    assert current[CLUSTER_WIDE].counts == {"critical": 2}, "team's and old-team's: no namespace there"
    assert grade_distribution(cluster, Scope.everything()) == {"A": 0, "B": 0, "C": 0, "D": 1, "F": 0}
    assert [i["grade"] for i in timeline(cluster.pk, "team")["team"]] == ["F"], "its history, closed"
    assert timeline(cluster.pk, "team")["team"][0]["to"] == second.taken_at
    assert "old-team" not in timeline(cluster.pk)


def test_a_snapshot_that_did_not_read_namespaces_keeps_every_namespace_graded():
    cluster = Cluster.objects.create(name="unread", source=Cluster.Source.OFFLINE)
    _finding(cluster, "quiet-high", "high", ["quiet"], 1)
    record_grades(_snapshot(cluster, 1), ["busy", "calm", "quiet"])
    partial = _snapshot(cluster, 2)
    partial.unread = {"Namespace": "403 Forbidden"}
    record_grades(partial, ["busy"])  # calm and quiet hold no object it read: known from before only
    current = current_grades(cluster, Scope.everything())
    assert set(current) == {CLUSTER_WIDE, "busy", "calm", "quiet"}
    assert (current["calm"].grade, current["quiet"].grade) == ("A", "D")
    assert current[CLUSTER_WIDE].counts == {}
    assert NamespaceStatus.objects.filter(cluster=cluster, valid_to__isnull=False).count() == 0


# --- a partial import -------------------------------------------------------------------------------


@pytest.fixture
def without_namespaces(tmp_path):
    """The issue's report: an offline import with Namespaces unread and seven open findings."""
    cluster = configure_cluster("prod", {})
    dump = assemble(CASES / "web" / "hostile-share", tmp_path, {"drop_base": ["kubernetes/namespaces.yaml"]})
    snapshot = import_dump(cluster.name, dump, taken_at=TAKEN_AT)
    assert snapshot.status == Snapshot.Status.PARTIAL and "Namespace" in snapshot.unread
    assert Finding.objects.filter(cluster=cluster, status="open").count() == 7
    return cluster


def test_a_partial_import_without_namespaces_shows_its_namespaces_and_grades(without_namespaces, client):
    client.force_login(dashboard_admin())
    html = client.get("/clusters/prod/").content.decode()
    assert "No namespace visible" not in html
    row = r'grade-([A-F])"[^>]*>[A-F]</span></td>\s*<td><a href="/clusters/prod/namespaces/([\w-]+)/"'
    listed = re.findall(row, html)
    assert {ns: grade for grade, ns in listed} == {
        "beta-app": "D",
        "sandbox": "D",
        "alpha-web": "D",
        "alpha-db": "D",
        "beta-jobs": "A",
        "trident": "A",
    }
    grades = [grade for grade, _ in listed]
    assert grades == sorted(grades, reverse=True), "worst first"
    assert re.search(r'Worst namespace: <span class="grade grade-D">D</span>', html)
    assert '<span class="sev sev-high">7 high</span>' in html
    assert "This snapshot is partial" in html and "Namespaces were not read" in html
    page = client.get("/clusters/prod/namespaces/beta-app/")
    assert page.status_code == 200
    assert 'class="grade grade-D"' in page.content.decode() and "is partial" in page.content.decode()
    assert client.get("/clusters/prod/namespaces/no-such-namespace/").status_code == 404


def test_a_partial_import_without_namespaces_is_scoped_by_name(without_namespaces, client):
    user = User.objects.create_user("beta-dev")
    Grant.objects.create(user=user, cluster=without_namespaces, namespace="beta-app")
    client.force_login(user)
    html = client.get("/clusters/prod/").content.decode()
    assert re.findall(r'href="/clusters/prod/namespaces/([\w-]+)/"', html) == ["beta-app", "beta-app"]
    assert client.get("/clusters/prod/namespaces/beta-app/").status_code == 200
    assert client.get("/clusters/prod/namespaces/sandbox/").status_code == 404


def test_the_stored_history_is_kept_when_a_namespace_is_seen_again(without_namespaces, tmp_path):
    """The next, complete import writes rows only where grades or counts changed."""
    before = {s.namespace: s.pk for s in NamespaceStatus.objects.filter(valid_to=None)}
    dump = assemble(CASES / "web" / "hostile-share", tmp_path / "complete", {})
    shutil.rmtree(tmp_path / "complete" / "backends", ignore_errors=True)
    import_dump("prod", dump, taken_at=TAKEN_AT + timedelta(hours=1))
    after = {s.namespace: s.pk for s in NamespaceStatus.objects.filter(valid_to=None)}
    unchanged = [ns for ns in before if before[ns] == after.get(ns)]
    assert "beta-jobs" in unchanged and "trident" in unchanged, "an unchanged A writes nothing"
    assert before["alpha-db"] != after["alpha-db"], "its share is inside its tenant once labels are read"


# --- the stored rows, upgraded ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_marks_stored_findings_and_dates_stored_grades():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    executor.migrate([("exposure", "0001_initial")])
    old = executor.loader.project_state([("exposure", "0001_initial")]).apps
    cluster = old.get_model("inventory", "Cluster").objects.create(name="old", source="offline")
    OldFinding, OldStatus = old.get_model("exposure", "Finding"), old.get_model("exposure", "NamespaceStatus")
    for key, rule, evidence in (
        ("a", "pv-writable-by-non-admins", {}),
        ("b", "namespace-labels-writable", {"scope": "every namespace", "granted": ["patch namespaces"]}),
        ("c", "namespace-labels-writable", {"scope": ["beta-jobs"], "granted": ["patch namespaces"]}),
        ("d", "host-path-volume", {}),
    ):
        OldFinding.objects.create(
            cluster=cluster, rule=rule, fingerprint=key, identity=[key], severity="high", title=key,
            evidence=evidence, evidence_key=key, first_seen=TAKEN_AT, first_seen_seq=1, changed_seq=1,
        )  # fmt: skip
    day = timedelta(days=1)
    for namespace, grade, start, end in (
        ("app", "D", 1, 2),
        ("app", "D", 2, 3),  # counts moved
        ("app", "F", 3, 5),
        ("app", "F", 6, None),  # after a gap: anew
        ("web", "A", 1, None),
    ):
        OldStatus.objects.create(
            cluster=cluster, namespace=namespace, grade=grade, counts={}, valid_from=start,
            valid_from_at=TAKEN_AT + start * day, valid_to=end,
            valid_to_at=TAKEN_AT + end * day if end else None,
        )  # fmt: skip
    try:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
        marked = dict(Finding.objects.values_list("fingerprint", "cluster_wide"))
        assert marked == {"a": True, "b": True, "c": False, "d": False}
        since = list(
            NamespaceStatus.objects.order_by("namespace", "valid_from").values_list(
                "namespace", "valid_from", "grade_since"
            )
        )
        assert since == [("app", 1, 1), ("app", 2, 1), ("app", 3, 3), ("app", 6, 6), ("web", 1, 1)]
    finally:
        Cluster.objects.filter(name="old").delete()
