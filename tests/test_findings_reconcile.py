"""reconcile() on its own: what holds a finding open, what resolves it (hits made by hand)."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.engine import Evaluation
from exposure.findings import content_key, depends_on, reconcile
from exposure.models import Finding
from exposure.rules import RULES, Hit
from exposure.rules.base import ARRAY_GATE_KINDS
from inventory.models import Cluster, Snapshot

pytestmark = pytest.mark.django_db
START = datetime(2026, 3, 1, tzinfo=UTC)
NO_OBJECTS = SimpleNamespace(created=lambda ref: "")  # the context reconcile asks for creation times


def hit(arrays=()) -> Hit:
    path = ExposurePath(
        Actor("outside-host", "0.0.0.0/0", "(outside the cluster)"),
        [Hop("array:ontap-a/ontap.ExportPolicy/svm1/default", "rule 1 clients 0.0.0.0/0")],
        ["PersistentVolume/pv-1"],
        "team-a",
        "write",
        "export-allows-foreign-hosts",
        "high",
    )
    return Hit(
        identity=("array:ontap-a/ontap.ExportPolicy/svm1/default", "rule 1"),
        severity="high",
        title="wide export",
        namespaces=["team-a"],
        evidence={"clients": ["0.0.0.0/0"]},
        paths=[path],
        objects=["PersistentVolume/pv-1"],
        arrays=set(arrays),
    )


@pytest.fixture
def cluster():
    return Cluster.objects.create(name="c", source=Cluster.Source.OFFLINE)


def snapshot(cluster, seq, unread=None) -> Snapshot:
    status = Snapshot.Status.PARTIAL if unread else Snapshot.Status.COMPLETE
    return Snapshot.objects.create(
        cluster=cluster, seq=seq, status=status, taken_at=START + timedelta(hours=seq), unread=unread or {}
    )


def evaluation(*hits, failed=None) -> Evaluation:
    return Evaluation(hits={"export-allows-foreign-hosts": list(hits)}, failed=failed or {})


def test_an_array_that_was_not_read_holds_its_findings_open(cluster):
    reconcile(snapshot(cluster, 1), NO_OBJECTS, evaluation(hit(arrays={"ontap-a"})))
    dead = {"ontap-a:/api/protocols/nfs/export-policies": "connection refused"}
    result = reconcile(snapshot(cluster, 2, unread=dead), NO_OBJECTS, evaluation())
    assert len(result.held) == 1 and Finding.objects.get().status == "open"
    other = {"ontap-b:/api/storage/volumes": "HTTP 401"}  # another array's failure does not hold it
    reconcile(snapshot(cluster, 3, unread=other), NO_OBJECTS, evaluation())
    assert Finding.objects.get().status == "resolved"


def test_a_kind_the_rule_reads_that_was_not_read_holds_its_findings_open(cluster):
    reconcile(snapshot(cluster, 1), NO_OBJECTS, evaluation(hit()))
    assert "TridentBackend" in RULES["export-allows-foreign-hosts"].reads
    reconcile(snapshot(cluster, 2, unread={"TridentBackend": "not in dump"}), NO_OBJECTS, evaluation())
    assert Finding.objects.get().status == "open"
    reconcile(snapshot(cluster, 3, unread={"StorageClass": "HTTP 500"}), NO_OBJECTS, evaluation())
    assert Finding.objects.get().status == "resolved", "a kind the rule does not read resolves nothing"


def test_a_rule_that_failed_resolves_nothing(cluster):
    reconcile(snapshot(cluster, 1), NO_OBJECTS, evaluation(hit()))
    reconcile(
        snapshot(cluster, 2), NO_OBJECTS, evaluation(failed={"export-allows-foreign-hosts": "KeyError"})
    )
    assert Finding.objects.get().status == "open"


def test_the_same_hit_twice_in_one_snapshot_is_one_finding(cluster):
    reconcile(snapshot(cluster, 1), NO_OBJECTS, evaluation(hit(), hit()))
    assert Finding.objects.count() == 1


@pytest.mark.parametrize("rule", [r for r in RULES.values() if r.reads_arrays], ids=lambda r: r.slug)
def test_a_finding_on_array_records_rests_on_every_kind_that_picks_them(rule):
    """Array records reach a rule through the join (backends to arrays, volumes to their objects,
    nodes to their identities): any of those kinds unread holds the finding open."""
    depends = depends_on(rule, hit(arrays={"ontap-a"}))
    assert set(ARRAY_GATE_KINDS) <= set(depends) and "array:ontap-a" in depends


def test_uid_gid_findings_rest_on_the_backends_and_namespaces_they_were_judged_from():
    assert {"TridentBackend", "Namespace"} <= set(RULES["uid-gid-not-a-boundary"].reads)


def _created_at(stamps: dict) -> SimpleNamespace:
    """A context whose objects were created at `stamps` (ref -> RFC 3339)."""
    return SimpleNamespace(created=lambda ref: stamps.get(ref, ""))


def _selects_of_findings(queries) -> list[str]:
    return [q["sql"] for q in queries if q["sql"].startswith("SELECT") and "exposure_finding" in q["sql"]]


def test_a_finding_whose_hit_says_what_it_said_is_neither_read_whole_nor_written(cluster):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reconcile(snapshot(cluster, 1), NO_OBJECTS, evaluation(hit()))
    stored = Finding.objects.get()
    assert stored.content_key
    second = snapshot(cluster, 2)
    with CaptureQueriesContext(connection) as queries:
        result = reconcile(second, NO_OBJECTS, evaluation(hit()))
    assert result.changed == 0 and Finding.objects.get().changed_seq == stored.changed_seq == 1
    selects = _selects_of_findings(queries.captured_queries)
    assert selects and not any('"refs"' in sql or '"paths"' in sql for sql in selects), selects
    assert not [q for q in queries.captured_queries if q["sql"].startswith(("UPDATE", "INSERT"))]


def test_a_finding_whose_hit_says_something_else_is_read_whole_and_changed(cluster):
    reconcile(snapshot(cluster, 1), NO_OBJECTS, evaluation(hit()))
    before = Finding.objects.get().content_key
    wider = hit()
    wider.evidence = {"clients": ["0.0.0.0/0", "::/0"]}
    result = reconcile(snapshot(cluster, 2), NO_OBJECTS, evaluation(wider))
    finding = Finding.objects.get()
    assert result.changed == 1 and finding.changed_seq == 2
    assert finding.evidence == wider.evidence and finding.content_key != before
    assert list(finding.events.values_list("kind", flat=True)) == ["opened", "evidence-changed"]


def test_a_finding_kept_before_its_content_key_gets_one_without_a_change(cluster):
    reconcile(snapshot(cluster, 1), NO_OBJECTS, evaluation(hit()))
    key = Finding.objects.get().content_key
    Finding.objects.update(content_key="")  # a row written before the key was kept
    result = reconcile(snapshot(cluster, 2), NO_OBJECTS, evaluation(hit()))
    finding = Finding.objects.get()
    assert result.changed == 0 and finding.changed_seq == 1 and finding.content_key == key
    assert finding.events.count() == 1  # opened only


def test_an_unchanged_finding_is_older_once_an_older_object_makes_it_true(cluster):
    ref = "PersistentVolume/pv-1"
    reconcile(snapshot(cluster, 1), _created_at({}), evaluation(hit()))
    assert Finding.objects.get().at_least_since is None
    reconcile(snapshot(cluster, 2), _created_at({ref: "2026-02-01T00:00:00Z"}), evaluation(hit()))
    assert Finding.objects.get().at_least_since == datetime(2026, 2, 1, tzinfo=UTC)
    # Recreated later under the same name: what was true since February still is.
    result = reconcile(snapshot(cluster, 3), _created_at({ref: "2026-02-20T00:00:00Z"}), evaluation(hit()))
    finding = Finding.objects.get()
    assert result.changed == 0 and finding.changed_seq == 2
    assert finding.at_least_since == datetime(2026, 2, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "change",
    [
        lambda h: setattr(h, "severity", "low"),
        lambda h: setattr(h, "title", "another title"),
        lambda h: setattr(h, "detail", "another detail"),
        lambda h: setattr(h, "namespaces", ["team-b"]),
        lambda h: setattr(h, "cluster_wide", True),
        lambda h: setattr(h, "evidence", {"clients": []}),
        lambda h: setattr(h.paths[0], "access", "read"),
        lambda h: h.paths.append(h.paths[0]),
        lambda h: setattr(h, "objects", ["PersistentVolume/pv-2"]),
        lambda h: setattr(h, "arrays", {"ontap-b"}),  # what it depends on
    ],
    ids=[
        "severity",
        "title",
        "detail",
        "namespaces",
        "cluster-wide",
        "evidence",
        "a-path",
        "path-count",
        "refs",
        "depends",
    ],
)
def test_whatever_a_finding_says_is_in_its_content_key(change):
    rule = RULES["export-allows-foreign-hosts"]
    changed = hit()
    change(changed)
    assert content_key(rule, changed) != content_key(rule, hit())


@pytest.mark.parametrize(
    "stamps, earliest",
    [
        (["2026-02-20T00:00:00Z", "2026-02-01T10:00:00Z"], datetime(2026, 2, 1, 10, tzinfo=UTC)),
        # Another layout, an offset: compared as times, not as text.
        (["2026-02-01T10:00:00+02:00", "2026-02-01T09:00:00Z"], datetime(2026, 2, 1, 8, tzinfo=UTC)),
        (["0000-00-00T00:00:00Z", "2026-02-01T10:00:00Z"], datetime(2026, 2, 1, 10, tzinfo=UTC)),
        (["2026-13-45T00:00:00+02:00", "2026-02-01T10:00:00Z"], datetime(2026, 2, 1, 10, tzinfo=UTC)),
        (["garbage"], None),
        ([], None),
    ],
    ids=["kubernetes-layout", "offsets", "no-time-in-layout", "no-time-in-another", "malformed", "none"],
)
def test_at_least_since_is_the_earliest_creation_time(stamps, earliest):
    from exposure.findings import at_least_since

    refs = [f"Pod/ns/p{i}" for i in range(len(stamps))]
    context = _created_at(dict(zip(refs, stamps, strict=True)))
    assert at_least_since(context, refs) == earliest


@pytest.mark.parametrize("judged, resolved", [({"team-b"}, 0), ({"team-a", "team-b"}, 1)])
def test_a_rule_judged_in_some_namespaces_resolves_only_findings_about_them(cluster, judged, resolved):
    reconcile(snapshot(cluster, 1), NO_OBJECTS, evaluation(hit()))
    within = Evaluation(
        hits={"export-allows-foreign-hosts": []}, within={hit().paths[0].rule: frozenset(judged)}
    )
    assert reconcile(snapshot(cluster, 2), NO_OBJECTS, within).resolved == resolved
    assert Finding.objects.get().status == ("resolved" if resolved else "open")


def test_a_hit_whose_open_finding_is_about_a_namespace_not_judged_is_that_finding(cluster):
    reconcile(snapshot(cluster, 1), NO_OBJECTS, evaluation(hit()))
    moved = hit()
    moved.namespaces = ["team-b"]
    within = Evaluation(
        hits={"export-allows-foreign-hosts": [moved]}, within={moved.paths[0].rule: frozenset({"team-b"})}
    )
    assert reconcile(snapshot(cluster, 2), NO_OBJECTS, within).changed == 1  # not opened a second time
    assert Finding.objects.get().namespaces == ["team-b"]
