"""Each rule reads nothing but its declared inputs (`Rule.inputs`: its `reads`, and for a rule on array
records the join's kinds, the records and the access records): a snapshot whose change set misses
them re-runs no rule that depends on them (exposure/analyse.py), so an undeclared input would leave
a finding standing on something that changed.  Each rule runs alone on a fresh context of the demo
cluster (every seeded case, on day 21) whose inventory, array records, access records, departed
nodes and facts note which parts anyone looks at."""

import pytest

from exposure.analysis.context import Context
from exposure.analysis.settings import AnalysisSettings
from exposure.engine import evaluate
from exposure.rules import ALL_RULES
from inventory.constants import ACCESS_RECORDS, ARRAY_RECORDS
from inventory.models import InventoryObject, Snapshot
from inventory.state import DERIVED_SCOPE, SnapshotState
from tests.test_demo_rules import demo_on_day_21

# What each of a snapshot's facts is made of (the rest of them no rule may read).
FACT_INPUTS = {"backends": {"TridentBackend", ARRAY_RECORDS}, "join": {ACCESS_RECORDS}}


class Noting(dict):
    """A dict that notes the inputs behind every key anyone looks up or walks over."""

    def __init__(self, data: dict, noted: set, inputs_of):
        super().__init__(data)
        self._noted, self._inputs_of = noted, inputs_of

    def _note(self, keys) -> None:
        for key in keys:
            self._noted.update(self._inputs_of(key))

    def __getitem__(self, key):
        self._note([key])
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._note([key])
        return super().get(key, default)

    def __contains__(self, key):
        self._note([key])
        return super().__contains__(key)

    def __iter__(self):
        self._note(super().keys())
        return super().__iter__()

    def keys(self):
        self._note(super().keys())
        return super().keys()

    def values(self):
        self._note(super().keys())
        return super().values()

    def items(self):
        self._note(super().keys())
        return super().items()


@pytest.fixture(scope="module")
def day_21(tmp_path_factory, django_db_setup, django_db_blocker):
    with demo_on_day_21(tmp_path_factory, django_db_blocker, "rule-inputs") as (_, snapshot):
        state = SnapshotState.load(snapshot)
        records = {}
        derived = InventoryObject.objects.as_of(snapshot).filter(scope=DERIVED_SCOPE)
        for kind, namespace, name, data in derived.values_list("kind", "namespace", "name", "data"):
            records.setdefault(kind, {})[(namespace, name)] = data
        yield snapshot, state, records, AnalysisSettings.for_cluster(snapshot.cluster)


def noting_context(snapshot, state, records, settings) -> tuple[Context, set]:
    noted: set[str] = set()
    detached = Snapshot(cluster=snapshot.cluster, seq=snapshot.seq, unread=snapshot.unread)
    detached.facts = Noting(snapshot.facts, noted, lambda key: FACT_INPUTS.get(key, {f"fact {key}"}))
    noting_state = SnapshotState(
        detached,
        Noting(state.objects, noted, lambda kind: {kind}),
        Noting(state.arrays, noted, lambda _: {ARRAY_RECORDS}),
        Noting(state.departed_nodes, noted, lambda _: {"Node", "TridentNode"}),
    )
    return Context(noting_state, settings, Noting(records, noted, lambda _: {ACCESS_RECORDS})), noted


@pytest.mark.django_db
@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda rule: rule.slug)
def test_a_rule_reads_only_its_declared_inputs(rule, day_21):
    context, noted = noting_context(*day_21)
    evaluation = evaluate(context, [rule])
    assert not evaluation.failed, evaluation.failed
    assert evaluation.hits[rule.slug], "a rule that finds nothing here proves nothing about its inputs"
    assert noted <= rule.inputs, f"{rule.slug} reads {sorted(noted - rule.inputs)} undeclared"


@pytest.mark.django_db
def test_the_noting_context_notices_an_undeclared_read(day_21):
    """The check itself: a rule declared to read less than it does is caught."""
    from dataclasses import replace

    rule = next(rule for rule in ALL_RULES if rule.slug == "storage-network-reachable")
    narrowed = replace(rule, reads=("Pod",), reads_arrays=False)
    context, noted = noting_context(*day_21)
    evaluate(context, [narrowed])
    assert "NetworkPolicy" in noted - narrowed.inputs and ACCESS_RECORDS in noted
