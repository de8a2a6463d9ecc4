"""Each rule reads nothing but its declared inputs (`Rule.inputs`: its `reads`, and for a rule on array
records the join's kinds, the records and the access records), and of each object no field that does
not serve it (inventory/kept_fields.py, inventory/field_changes.py): a snapshot whose change set
misses them re-runs no rule that depends on them (exposure/analyse.py), so an undeclared input would
leave a finding standing on something that changed.  Each rule runs alone on a fresh context of the
demo cluster (every seeded case, on day 21) whose inventory (down to each object's fields), array
records, access records, departed nodes and facts note which parts anyone looks at."""

import pytest

from arrays.volume_access import records_as_of
from exposure.analysis.context import Context
from exposure.analysis.settings import AnalysisSettings
from exposure.engine import evaluate
from exposure.rules import ALL_RULES
from inventory import field_changes
from inventory.constants import ACCESS_RECORDS, ARRAY_RECORDS
from inventory.field_changes import FIELD_SEPARATOR, field_change, fields_of
from inventory.models import Snapshot
from inventory.state import SnapshotState
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


class NotingFields(dict):
    """An object's kept data (or a mapping on the way to a field) that notes each field anyone reads:
    `Kind:root` (inventory/field_changes.py).  Dicts only pass through `dict`'s own methods, which
    these override; the values of a field come back as they are."""

    def __init__(self, data: dict, kind: str, path: str, noted: set):
        super().__init__(data)
        self._kind, self._path, self._noted = kind, path, noted

    def _reached(self, key, value):
        path = f"{self._path}.{key}" if self._path else str(key)
        fields = fields_of(self._kind)
        if path in fields:
            self._noted.add(field_change(self._kind, path))
            return value
        beneath = [root for root in fields if root.startswith(path + ".")]
        if beneath and isinstance(value, dict):
            return NotingFields(value, self._kind, path, self._noted)
        self._noted.update(field_change(self._kind, root) for root in beneath)
        return value

    def __getitem__(self, key):
        return self._reached(key, super().__getitem__(key))

    def get(self, key, default=None):
        return self._reached(key, super().get(key, default))

    def __contains__(self, key):
        self._reached(key, None)
        return super().__contains__(key)

    def _walked(self):
        for key in super().keys():
            self._reached(key, None)

    def __iter__(self):
        self._walked()
        return super().__iter__()

    def keys(self):
        self._walked()
        return super().keys()

    def values(self):
        self._walked()
        return [self._reached(key, value) for key, value in super().items()]

    def items(self):
        self._walked()
        return [(key, self._reached(key, value)) for key, value in super().items()]


@pytest.fixture(scope="module")
def day_21(tmp_path_factory, django_db_setup, django_db_blocker):
    with demo_on_day_21(tmp_path_factory, django_db_blocker, "rule-inputs") as (_, snapshot):
        state = SnapshotState.load(snapshot)
        records = records_as_of(snapshot)
        yield snapshot, state, records, AnalysisSettings.for_cluster(snapshot.cluster)


def noting_context(snapshot, state, records, settings) -> tuple[Context, set]:
    noted: set[str] = set()
    detached = Snapshot(cluster=snapshot.cluster, seq=snapshot.seq, unread=snapshot.unread)
    detached.facts = Noting(snapshot.facts, noted, lambda key: FACT_INPUTS.get(key, {f"fact {key}"}))
    objects = {
        kind: {key: NotingFields(data, kind, "", noted) for key, data in by_key.items()}
        for kind, by_key in state.objects.items()
    }
    noting_state = SnapshotState(
        detached,
        Noting(objects, noted, lambda kind: {kind}),
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
    kinds = {input for input in noted if FIELD_SEPARATOR not in input}
    assert kinds <= rule.inputs, f"{rule.slug} reads {sorted(kinds - rule.inputs)} undeclared"
    fields = [tuple(input.split(FIELD_SEPARATOR)) for input in noted - kinds]
    undeclared = sorted(f"{kind}:{root}" for kind, root in fields if not rule.reads_field(kind, root))
    assert not undeclared, f"{rule.slug} reads fields that do not serve it: {undeclared}"


@pytest.mark.django_db
def test_the_noting_context_notices_an_undeclared_read(day_21):
    """The check itself: a rule declared to read less than it does is caught."""
    from dataclasses import replace

    rule = next(rule for rule in ALL_RULES if rule.slug == "storage-network-reachable")
    narrowed = replace(rule, reads=("Pod",), reads_arrays=False)
    context, noted = noting_context(*day_21)
    evaluate(context, [narrowed])
    assert "NetworkPolicy" in noted - narrowed.inputs and ACCESS_RECORDS in noted


@pytest.mark.django_db
def test_the_noting_context_notices_a_field_read_that_does_not_serve_the_rule(day_21, monkeypatch):
    """The check at the grain of a field: a rule's field no longer declared to serve it is caught."""
    rule = next(rule for rule in ALL_RULES if rule.slug == "uid-gid-not-a-boundary")
    declared = field_changes.fields_of

    def narrowed(kind):
        fields = dict(declared(kind))
        if kind == "Pod":
            fields["spec.securityContext"] = frozenset({"privileged-container"})
        return fields

    context, noted = noting_context(*day_21)
    evaluate(context, [rule])
    assert "Pod:spec.securityContext" in noted and rule.reads_field("Pod", "spec.securityContext")
    monkeypatch.setattr(field_changes, "fields_of", narrowed)
    assert not rule.reads_field("Pod", "spec.securityContext")
