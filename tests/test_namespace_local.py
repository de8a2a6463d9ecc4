"""Namespace-local rules judged in the namespaces a change touched only (`Rule.namespace_local`,
exposure/analyse.py): which namespaces a snapshot's writes touch, when a rule may be judged in some
of them, the engine's guard against a hit elsewhere, and a snapshot that judges one namespace while
every other namespace's findings stand untouched."""

from datetime import timedelta
from types import SimpleNamespace

import pytest

from exposure.analysis.context import Context
from exposure.analysis.hits import Hit
from exposure.analysis.settings import AnalysisSettings
from exposure.engine import evaluate
from exposure.models import Finding
from exposure.rules import ALL_RULES, RULES
from exposure.rules.base import Rule
from inventory.history import StoredObject, namespaces_touched, write_versions
from inventory.kept_fields import digest, keep
from inventory.models import Cluster
from inventory.state import SnapshotState
from inventory.tasks import snapshot_now
from tests.factories import obj, pod
from tests.test_incremental_analysis import assert_same_as_full_analysis, simulated_cluster

UID_GID = RULES["uid-gid-not-a-boundary"]
ROLE = "node-role.kubernetes.io/storage"
RUN_AS_USER = frozenset({"Pod:spec.securityContext"})


def test_a_change_through_its_local_kinds_judges_the_namespaces_it_touched():
    touched = {"Pod": frozenset({"team-a"}), "Namespace": frozenset({"team-b"})}
    assert UID_GID.namespaces_to_judge(RUN_AS_USER, touched) == {"team-a"}
    assert UID_GID.namespaces_to_judge(RUN_AS_USER | {"Namespace"}, touched) == {"team-a", "team-b"}
    # A change it does not read is no reason to judge it whole.
    assert UID_GID.namespaces_to_judge(RUN_AS_USER | {"RoleBinding"}, touched) == {"team-a"}


@pytest.mark.parametrize(
    "changes, touched",
    [
        (RUN_AS_USER | {"PersistentVolume"}, {"Pod": frozenset({"team-a"})}),  # cluster-scoped input
        (RUN_AS_USER | {"Node:metadata.labels"}, {"Pod": frozenset({"team-a"})}),
        # Trident's objects live in one namespace yet bear on every namespace's volumes.
        (frozenset({"TridentVolume"}), {"TridentVolume": frozenset({"trident"})}),
        (RUN_AS_USER, {}),  # which namespaces the pods were in is not known
    ],
    ids=["a persistent volume", "a node's labels", "a Trident volume", "namespaces unknown"],
)
def test_any_other_change_judges_it_whole(changes, touched):
    assert UID_GID.namespaces_to_judge(changes, touched) is None


def test_only_its_own_kinds_can_be_declared_namespace_local():
    with pytest.raises(AssertionError):
        Rule(**{**UID_GID.__dict__, "namespace_local": ("RoleBinding",)})  # not among its reads
    assert all(set(rule.namespace_local) <= set(rule.reads) for rule in ALL_RULES)


@pytest.mark.django_db
def test_the_namespaces_a_kinds_writes_touched():
    cluster = Cluster.objects.create(name="touched")

    def written(seq, kind, objects):
        stored = {}
        for item in objects:
            data = keep(kind, item)
            stored[(item["metadata"].get("namespace") or "", item["metadata"]["name"])] = StoredObject(
                "", data, digest(data)
            )
        return namespaces_touched(kind, write_versions(cluster.pk, seq, kind, stored))

    assert written(1, "Pod", [pod("web", "team-a"), pod("web", "team-b")]) == {"team-a", "team-b"}
    changed = pod("web", "team-b", securityContext={"runAsUser": 7})
    assert written(2, "Pod", [pod("web", "team-a"), changed]) == {"team-b"}  # changed in place
    assert written(3, "Pod", [changed]) == {"team-a"}  # gone
    assert written(4, "Pod", [changed]) == set()
    assert written(1, "Namespace", [obj("Namespace", "team-a")]) == {"team-a"}  # its own name
    assert written(1, "PersistentVolume", [obj("PersistentVolume", "pv-1")]) is None  # cluster-scoped


def test_a_hit_outside_the_judged_namespaces_fails_the_rule():
    def evaluate_astray(ctx):
        for namespace in ("team-a", "team-b"):
            yield Hit(("x",), "info", "t", [namespace], {}, [], [])

    astray = Rule(**{**UID_GID.__dict__, "slug": "astray", "evaluate": evaluate_astray})
    context = Context(SnapshotState(SimpleNamespace(facts={}), {}, {}, {}), AnalysisSettings())
    assert evaluate(context, [astray]).hits["astray"]  # judged whole, both are its own
    evaluation = evaluate(context, [astray], within={"astray": frozenset({"team-a"})})
    assert "about ['team-b']" in evaluation.failed["astray"]
    assert "astray" not in evaluation.hits and "astray" not in evaluation.within  # its findings held


@pytest.mark.django_db
@pytest.mark.postgres_too
def test_a_pod_changed_in_one_namespace_re_judges_that_namespace_only(tmp_path):
    with simulated_cluster(tmp_path) as (simulation, cluster):
        first = snapshot_now(cluster)
        findings = Finding.objects.filter(cluster=cluster, rule=UID_GID.slug, status="open")
        before = {f.pk: (f.namespaces, f.changed_seq) for f in findings}
        namespaces = {ns for attributed, _ in before.values() for ns in attributed}
        assert len(namespaces) > 2, "findings in several namespaces to tell apart"
        judged = sorted(namespaces)[0]

        # Every pod of one namespace drops its ids, so that its claims' findings may move.
        simulation.advance_to(simulation.clock + timedelta(minutes=10))
        for item in simulation.stored("Pod"):
            if item["metadata"]["namespace"] == judged:
                simulation.change(item, _without_ids)
        second = snapshot_now(cluster)
        analysis = assert_same_as_full_analysis(second)
        assert analysis["within"] == {UID_GID.slug: 1}
        after = {f.pk: (f.namespaces, f.changed_seq) for f in Finding.objects.filter(pk__in=before)}
        elsewhere = {pk for pk, (ns, _) in before.items() if ns != [judged]}
        assert {pk: after[pk] for pk in elsewhere} == {pk: before[pk] for pk in elsewhere}  # untouched
        assert all(seq == first.seq for _, seq in before.values())
        assert any(after[pk][1] == second.seq for pk in before.keys() - elsewhere), "the judged one moved"

        # A node relabelled: the join's input moved, the rule is judged whole again.
        simulation.advance_to(simulation.clock + timedelta(minutes=10))
        node = next(iter(simulation.stored("Node")))
        simulation.change(node, lambda o: o["metadata"].setdefault("labels", {}).update({ROLE: ""}))
        analysis = assert_same_as_full_analysis(snapshot_now(cluster))
        assert not analysis.get("reused"), "the node's change was stored"
        assert UID_GID.slug not in analysis["within"] and UID_GID.slug not in analysis["carried"]


def _without_ids(item: dict) -> None:
    spec = item["spec"]
    spec["securityContext"] = {}
    for container in spec.get("containers") or []:
        container.pop("securityContext", None)
