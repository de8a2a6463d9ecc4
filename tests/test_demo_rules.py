"""The demo's seeded cases against the rules: every rule fires on its firing cases and stays quiet on
its near misses, on the simulated cluster and arrays read over loopback by the real clients.

A manifest entry (simulator/cases) names its key object first; a firing entry is met by a
violation of its rule that refers to that object (identity, objects or paths) and, when the entry
names a namespace, is attributed to it.  A near miss is broken by any violation of its rule whose
identity or objects hold its key object.
"""

from contextlib import contextmanager
from datetime import timedelta

import pytest

from arrays.models import Array
from exposure.analysis.context import Context
from exposure.analysis.settings import AnalysisSettings
from exposure.engine import evaluate
from exposure.findings import content_key, fingerprint
from exposure.models import Finding
from exposure.rules import RULES
from inventory.models import Cluster, Snapshot
from inventory.state import SnapshotState
from simulator.serving import SimulatedEstate
from simulator.world import Simulation
from tests.path_checks import dangling_refs, unexplained
from tests.rules_md import rule_slugs
from tests.test_join import START, register_arrays

# The demo's settings that are the admin's to make: the node agents' namespaces confirmed as platform.
DAYS_LATER = 21
DEMO_PLATFORM = ["kube-system", "trident", "calico-system", "logging"]


@contextmanager
def demo_on_day_21(tmp_path_factory, django_db_blocker, name: str):
    """The demo cluster snapshotted on day 1, then on day 21: (the simulation, the day-21 snapshot).
    Its rows are made outside the tests' transactions (module fixtures): none are left behind."""
    simulation = Simulation(seed=0, start=START)
    simulation.advance_to(START + timedelta(days=1))
    served = SimulatedEstate(simulation, tmp_path_factory.mktemp("estate")).start()
    with django_db_blocker.unblock():
        register_arrays(served)
        cluster = Cluster.objects.create(
            name=name,
            source=Cluster.Source.KUBECONFIG,
            kubeconfig_path=str(served.kubeconfig),
            tenant_label="capsule.clastix.io/tenant",
            platform_namespaces=DEMO_PLATFORM,
        )
        from inventory.tasks import snapshot_now

        assert snapshot_now(cluster).status == Snapshot.Status.COMPLETE
        # Day 21: worker-retiring left on day 20 (stale-node-access needs a node seen before and gone now),
        # and the storage automation's cluster-wide PV writes are bound (days 19 to 23).
        simulation.advance_to(START + timedelta(days=DAYS_LATER))
        snapshot = snapshot_now(cluster)
        assert snapshot.status == Snapshot.Status.COMPLETE, snapshot.unread or snapshot.error
        try:
            yield simulation, snapshot
        finally:
            cluster.delete()
            Array.objects.all().delete()
    served.stop()


@pytest.fixture(scope="module")
def demo(tmp_path_factory, django_db_setup, django_db_blocker):
    with demo_on_day_21(tmp_path_factory, django_db_blocker, "demo-rules") as (simulation, snapshot):
        context = Context(SnapshotState.load(snapshot), AnalysisSettings.for_cluster(snapshot.cluster))
        yield simulation.case_manifest(), context, evaluate(context)


def _refs(hit) -> set[str]:
    refs = set(hit.identity) | set(hit.objects)
    for path in hit.paths:
        refs |= set(path.refs())
    return refs


def _key_refs(hit) -> set[str]:
    return set(hit.identity) | set(hit.objects)


@pytest.mark.django_db
@pytest.mark.parametrize("slug", sorted(rule_slugs()))
def test_rule_fires_on_its_cases_and_not_on_its_near_misses(slug, demo):
    manifest, context, evaluation = demo
    assert slug in RULES, f"no module for {slug}"
    assert slug not in evaluation.failed, evaluation.failed[slug]
    violations = [hit for hit in evaluation.hits.get(slug, []) if hit.violation]
    cases = manifest.get(slug, {"fires": [], "near_misses": []})
    assert cases["fires"], f"the demo seeds no firing case of {slug}"
    for case in cases["fires"]:
        key = case["objects"][0]
        met = [
            h
            for h in violations
            if key in _refs(h) and (case["namespace"] is None or case["namespace"] in h.namespaces)
        ]
        assert met, f"{slug} did not fire on {case}; it fired on {[h.identity for h in violations]}"
        if case.get("severity"):
            assert {h.severity for h in met} == {case["severity"]}, case
    for case in cases["near_misses"]:
        key = case["objects"][0]
        wrong = [h for h in violations if key in _key_refs(h)]
        wrong = [
            h
            for h in wrong
            if case["namespace"] is None or not h.namespaces or case["namespace"] in h.namespaces
        ]
        assert not wrong, f"{slug} fired on near miss {case}: {[(h.identity, h.title) for h in wrong]}"


@pytest.mark.django_db
def test_every_violation_is_explained_by_paths_made_of_snapshot_objects(demo):
    _, context, evaluation = demo
    assert unexplained(evaluation) == []
    assert dangling_refs(context, evaluation) == []


@pytest.mark.django_db
def test_each_rules_own_indexes_go_when_it_finishes_and_the_rest_when_the_rules_end(demo):
    """The worker's peak memory is where the rules end (exposure/analysis/context.py)."""
    _, context, evaluation = demo
    assert any(key.startswith("storage-network-reachable:") for key in _memo_keys_while_running(context))
    assert [key for key in context._memo if key.split(":", 1)[0] in RULES] == []
    assert "pods" in context.__dict__ and context._memo
    released = Context(context.state, context.settings)
    evaluate(released)
    released.release_indexes()
    assert not released._memo and "pods" not in released.__dict__
    # What is left still answers: a rule run again finds what it found.
    again = evaluate(released)
    assert {slug: [h.identity for h in hits] for slug, hits in again.hits.items()} == {
        slug: [h.identity for h in hits] for slug, hits in evaluation.hits.items()
    }


def _memo_keys_while_running(context: Context) -> set[str]:
    """The memo keys a fresh context holds just before each rule's indexes are dropped."""
    fresh, seen = Context(context.state, context.settings), set()
    forget = fresh.forget_own
    fresh.forget_own = lambda slug: (seen.update(fresh._memo), forget(slug))
    evaluate(fresh)
    return seen


@pytest.mark.django_db
def test_the_demo_snapshot_leaves_an_open_finding_of_every_rule(demo):
    _, context, _ = demo
    snapshot = context.state.snapshot
    assert "error" not in snapshot.facts["analysis"]
    rules = set(
        Finding.objects.filter(cluster=snapshot.cluster, status="open").values_list("rule", flat=True)
    )
    assert rules == rule_slugs()


@pytest.mark.django_db
@pytest.mark.parametrize("slug", sorted(rule.slug for rule in RULES.values() if rule.namespace_local))
def test_a_namespace_local_rule_judged_namespace_by_namespace_finds_what_judged_whole_does(slug, demo):
    _, context, evaluation = demo
    rule = RULES[slug]
    whole = {fingerprint(slug, hit.identity): content_key(rule, hit) for hit in evaluation.hits[slug]}
    assert whole and all(len(hit.namespaces) == 1 for hit in evaluation.hits[slug])
    found = {}
    for namespace in context.state.namespace_names():
        judged = evaluate(context, [rule], within={slug: frozenset({namespace})})
        assert slug not in judged.failed, judged.failed
        found.update((fingerprint(slug, hit.identity), content_key(rule, hit)) for hit in judged.hits[slug])
    assert found == whole
