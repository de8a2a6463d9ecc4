"""reconcile() on its own: what holds a finding open, what resolves it (hits made by hand)."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.engine import Evaluation
from exposure.findings import depends_on, reconcile
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
