"""Each snapshot's derived record of every volume's access: array object, gates, admitted parties.

Computed once per snapshot from its inventory (the join, then ONTAP's evaluation and the verdicts)
and stored like inventory, under the scope "derived": an unchanged volume costs no row, and
pages, the API and the rules read the same record.  Kinds: `VolumeAccess` (one per PV, in the
namespace of its claim) and `InlineVolumeAccess` (one per inline pod volume, in the pod's).
"""

from dataclasses import dataclass
from functools import cached_property

from django.db.models.fields.json import KT

from arrays.access_summary import ACCESS_SUMMARY, summaries
from arrays.admission import Admissions, node_set_of
from arrays.join import JoinMemo, JoinResult, Resolution, join_remembered
from arrays.stored_parties import ADMITTED_PARTIES, PartyListStore, with_admitted
from inventory.cluster_memory import ClusterMemory
from inventory.constants import ARRAY_RECORDS
from inventory.field_changes import kind_reached
from inventory.history import StoredObject, WriteStats, write_versions
from inventory.kept_fields import JOIN, digest
from inventory.models import InventoryObject, Snapshot
from inventory.state import DERIVED_SCOPE, SnapshotState, Written
from inventory.versions_memory import run_of

VOLUME_ACCESS = "VolumeAccess"
INLINE_VOLUME_ACCESS = "InlineVolumeAccess"
# Bump when the join, the evaluation or the record shape changes: the next snapshot then derives anew.
# 4: with each namespace's summary (arrays/access_summary.py); 5: the inputs name rules by their digest;
# 6: parties stored once per segment (arrays/stored_parties.py).
DERIVATION_VERSION = 6
# The kinds the records are derived from: the join's (arrays/join.py) and pods, for their inline
# volumes.  Node and TridentNode count whole: every record's inputs name the node set.
DERIVATION_KINDS = (
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Pod",
    "TridentBackend",
    "TridentBackendConfig",
    "TridentVolume",
    "Node",
    "TridentNode",
)
_DERIVATION_INPUTS = frozenset((*DERIVATION_KINDS, ARRAY_RECORDS))


def record(resolution: Resolution, parties: list[dict], inputs: str) -> dict:
    return {
        "inputs": inputs,
        "subject": resolution.subject,
        "namespaces": resolution.namespaces,
        "path": resolution.path,
        "backend": resolution.backend,
        "driver": resolution.driver,
        "array": resolution.array,
        "array_status": resolution.array_status,
        "object": {"kind": resolution.object_kind, "name": resolution.object_name}
        if resolution.object_name
        else None,
        "protocol": resolution.protocol,
        "problem": resolution.problem,
        "gates": [
            {
                "kind": g.kind,
                "name": g.name,
                "where": g.where,
                "role": g.role,
                "rules": len(g.rules),
                "unread": g.unread,
                "unreadable": g.unreadable,
            }
            for g in resolution.gates
        ],
        # Some gate was not read, or not readably: who it admits is unknown (never "admits no one").
        "unknown": any(g.unread or g.unreadable for g in resolution.gates),
        "admitted": parties,
    }


# A record as last derived: the resolution it was made of (the join's very object, reused while
# the volume's inputs are equal: arrays/join.py `JoinMemo`), it as stored, whole, and its segments.
_RecordWork = tuple[Resolution, StoredObject, dict, tuple[list[dict], ...]]


@dataclass
class RecordMemo:
    """A derivation's records, for the next derivation of the cluster: a record whose resolution is
    the one it was made of, against the same nodes (`node_inputs`), is the record made then.
    `made_for`: the run whose stored records they are (inventory/versions_memory.py `run_of`), so
    that a next run whose inputs did not change may take them whole (`_reused`)."""

    node_inputs: str
    records: dict[tuple[str, str, str], _RecordWork]  # (kind, namespace, name) ->
    made_for: tuple | None = None

    def whole(self) -> dict[str, dict]:
        """Kind -> (namespace, name) -> record, as the derivation hands them to the rules."""
        found: dict[str, dict] = {VOLUME_ACCESS: {}, INLINE_VOLUME_ACCESS: {}}
        for (kind, namespace, name), work in self.records.items():
            found[kind][(namespace, name)] = work[2]
        return found


# cluster id -> what this worker's last derivation of it worked out (the join's and the records' memos)
_LAST_DERIVATION: ClusterMemory[tuple[JoinMemo, RecordMemo]] = ClusterMemory()


@dataclass
class Derivation:
    stats: WriteStats
    # When derived (not skipped): the loaded state and the records, so the rules reuse both.
    state: SnapshotState | None = None
    records: dict[str, dict] | None = None  # kind -> (namespace, name) -> record


def derivation_changed_by(changes: frozenset[str]) -> bool:
    """Whether a change set (kinds, fields of a kind, array records) touches what the access records
    are a function of: `DERIVATION_KINDS` whole or their fields that serve the join (`JOIN`, or a
    purpose every reader may read), the array records (tests/test_derivation_inputs.py checks it)."""
    return any(kind_reached(change, _DERIVATION_INPUTS, JOIN) for change in changes)


def derive(
    snapshot: Snapshot,
    inventory_changed: bool = True,
    written: Written | None = None,
    changed: frozenset[str] | None = None,
) -> Derivation:
    """Derive and store the snapshot's access records.

    The records are a function of the inventory alone, so when this snapshot wrote no inventory
    row (a quiet cluster) the previous records stand as they are: nothing is computed or written;
    when its change set (`changed`) touches none of their inputs, the records the worker's last
    derivation made stand (`_reused`).  `written`: what the run just stored (inventory/state.py),
    used as it is rather than read back.
    """
    previous = (
        Snapshot.objects.filter(
            cluster_id=snapshot.cluster_id, seq__lt=snapshot.seq, status__in=Snapshot.VISIBLE
        )
        .order_by("-seq")
        .first()
    )
    comparable = previous is not None and (previous.facts or {}).get("derivation") == DERIVATION_VERSION
    memos = _LAST_DERIVATION.get(snapshot.cluster_id) or (None, None)
    if not inventory_changed and comparable:
        _carry_facts(snapshot, previous)
        if memos[1] is not None and memos[1].made_for == run_of(previous):
            memos[1].made_for = run_of(snapshot)  # the records it made are still the stored ones
        return Derivation(WriteStats())
    state = SnapshotState.load(snapshot, written)
    if comparable and changed is not None and not derivation_changed_by(changed):
        reused = _reused(snapshot, previous, state, memos[1])
        if reused is not None:
            return reused
    made = _derive_all(state, snapshot.cluster_id, memos)
    snapshot.facts = {
        **(snapshot.facts or {}),
        "join": {"unbacked": made.joined.unbacked, "broken_links": made.joined.broken_links},
        "derivation": DERIVATION_VERSION,
    }
    stats = write_versions(
        snapshot.cluster_id, snapshot.seq, VOLUME_ACCESS, made.volumes, scope=DERIVED_SCOPE
    )
    stats += write_versions(
        snapshot.cluster_id, snapshot.seq, INLINE_VOLUME_ACCESS, made.inline, scope=DERIVED_SCOPE
    )
    stats += write_versions(
        snapshot.cluster_id,
        snapshot.seq,
        ADMITTED_PARTIES,
        made.evaluate.parties.segments,
        scope=DERIVED_SCOPE,
    )
    stats += write_versions(
        snapshot.cluster_id, snapshot.seq, ACCESS_SUMMARY, summaries(made.records), scope=DERIVED_SCOPE
    )
    # Whatever becomes of this run: the memos say only what given inputs resolve and evaluate to
    # (`made_for` names the run, so only a run directly after it, finished, takes them as stored).
    record_memo = RecordMemo(made.evaluate.node_inputs, made.evaluate.made, run_of(snapshot))
    _LAST_DERIVATION.put(snapshot.cluster_id, (made.join_memo, record_memo))
    return Derivation(stats, state, made.records)


def derive_records(state: SnapshotState) -> dict[str, dict]:
    """Kind -> (namespace, name) -> record: the access records of `state`, derived from scratch and
    not stored (tests/test_derivation_inputs.py)."""
    return _derive_all(state, None, (None, None)).records


@dataclass
class _Derived:
    joined: JoinResult
    join_memo: JoinMemo
    evaluate: "_Evaluation"
    volumes: dict[tuple[str, str], StoredObject]
    inline: dict[tuple[str, str], StoredObject]
    records: dict[str, dict]  # kind -> (namespace, name) -> record


def _derive_all(state: SnapshotState, cluster_id: int | None, memos: tuple) -> _Derived:
    join_memo, record_memo = memos
    joined, join_memo = join_remembered(state, join_memo)
    node_inputs = _node_inputs(state)
    evaluate = _Evaluation(cluster_id, Admissions(node_set_of(state), node_inputs), record_memo)
    volumes: dict[tuple[str, str], StoredObject] = {}
    inline: dict[tuple[str, str], StoredObject] = {}
    records: dict[str, dict] = {VOLUME_ACCESS: {}, INLINE_VOLUME_ACCESS: {}}
    for pv_name, resolution in joined.volumes.items():
        namespace = resolution.namespaces[0] if resolution.namespaces else ""
        key = (namespace, pv_name)
        volumes[key], records[VOLUME_ACCESS][key] = evaluate(VOLUME_ACCESS, key, resolution)
    for resolution in joined.inline:
        key = (resolution.namespaces[0], resolution.subject.removeprefix("Pod/").split("/", 1)[1])
        inline[key], records[INLINE_VOLUME_ACCESS][key] = evaluate(INLINE_VOLUME_ACCESS, key, resolution)
    return _Derived(joined, join_memo, evaluate, volumes, inline, records)


def _reused(
    snapshot: Snapshot, previous: Snapshot, state: SnapshotState, memo: "RecordMemo | None"
) -> Derivation | None:
    """The records the worker's last derivation made, when they are the stored ones (made for the
    previous snapshot, which read everything, as this one did, against the same nodes and backend
    links) and nothing they rest on changed since: none is computed or written."""
    if (
        memo is None
        or memo.made_for != run_of(previous)
        or snapshot.unread
        or previous.unread
        or (previous.facts or {}).get("backends") != (snapshot.facts or {}).get("backends")
        or memo.node_inputs != _node_inputs(state)
    ):
        return None
    _carry_facts(snapshot, previous)
    memo.made_for = run_of(snapshot)
    return Derivation(WriteStats(), state, memo.whole())


def _carry_facts(snapshot: Snapshot, previous: Snapshot) -> None:
    snapshot.facts = {
        **(snapshot.facts or {}),
        "join": previous.facts.get("join"),
        "derivation": DERIVATION_VERSION,
    }


def records_as_of(
    snapshot: Snapshot, kinds: tuple[str, ...] = (VOLUME_ACCESS, INLINE_VOLUME_ACCESS)
) -> dict[str, dict[tuple[str, str], dict]]:
    """Kind -> (namespace, name) -> record, every access record of `kinds` as of `snapshot`, whole
    (with its admitted parties: arrays/stored_parties.py)."""
    records: dict[str, dict] = {kind: {} for kind in kinds}
    rows = InventoryObject.objects.as_of(snapshot).filter(scope=DERIVED_SCOPE, kind__in=kinds)
    for kind, namespace, name, data in rows.values_list("kind", "namespace", "name", "data"):
        records[kind][(namespace, name)] = data
    with_admitted(snapshot, (data for by_key in records.values() for data in by_key.values()))
    return records


def _node_inputs(state: SnapshotState) -> str:
    """What every verdict depends on besides the volume's own gates: the nodes, current and gone."""
    departed = sorted(state.departed_nodes.items())
    return digest(
        {
            "nodes": sorted(map(list, state.of_kind("Node").items())),
            "trident": sorted(map(list, state.of_kind("TridentNode").items())),
            "departed": departed,
        }
    )


class _Evaluation:
    """Each volume's record, evaluated anew each time: with each chain of rules evaluated once per
    snapshot and the parties shared (arrays/admission.py), that costs no more than reading the
    previous records back, each with its own copies of the same parties (twice the memory).  A
    record whose resolution and nodes are those the worker's last derivation of the cluster made it
    of is that one (`RecordMemo`).

    A record is a function of the volume's resolution (object, gates with their rules and
    initiators) and of the node set: their digest is the record's `inputs`, each gate's rules in it
    by the digest of their list (thousands of volumes share a list: it is serialised once, not once
    per volume).  A record whose inputs did not change is the stored one, so it keeps that one's
    digest rather than hashing it again."""

    def __init__(self, cluster_id: int, admissions: Admissions, memo: RecordMemo | None = None):
        self.cluster_id = cluster_id
        self.admissions = admissions
        self.parties = PartyListStore()
        self.node_inputs = admissions.nodes_inputs or ""
        self.earlier = memo.records if memo is not None and memo.node_inputs == self.node_inputs else {}
        self.made: dict[tuple[str, str, str], _RecordWork] = {}

    @cached_property
    def previous(self) -> dict[tuple[str, str, str], tuple[str, str]]:
        """(kind, namespace, name) -> (inputs, digest) of the current records; read only when some
        record is made anew."""
        return {
            (kind, namespace, name): (inputs, stored_digest)
            for kind, namespace, name, inputs, stored_digest in InventoryObject.objects.current()
            .filter(
                cluster_id=self.cluster_id,
                scope=DERIVED_SCOPE,
                kind__in=(VOLUME_ACCESS, INLINE_VOLUME_ACCESS),
            )
            .values_list("kind", "namespace", "name", KT("data__inputs"), "digest")
            .iterator(chunk_size=2000)
        }

    def __call__(self, kind: str, key: tuple[str, str], resolution: Resolution) -> tuple[StoredObject, dict]:
        """The record as stored, and whole (with its parties: what the analysis reads)."""
        earlier = self.earlier.get((kind, *key))
        if earlier is not None and earlier[0] is resolution:
            _, stored, whole, segments = self.made[(kind, *key)] = earlier
            self.parties.named(segments)
            return stored, whole
        inputs = inputs_of(resolution, self.admissions, self.node_inputs)
        segments = self.admissions.segments_of(resolution)
        whole = record(resolution, self.admissions.joined(segments), inputs)
        data = self.parties.stored_form(whole, segments)
        whole["party_lists"] = data["party_lists"]  # as a stored record is read back (`records_as_of`)
        previous_inputs, previous_digest = self.previous.get((kind, *key), (None, None))
        stored = StoredObject("", data, previous_digest if previous_inputs == inputs else digest(data))
        self.made[(kind, *key)] = (resolution, stored, whole, segments)
        return stored, whole


def inputs_of(resolution: Resolution, admissions: Admissions, node_inputs: str) -> str:
    """The digest of what a record is a function of: every field of the resolution and of its gates
    (`vars`: a field added later is in too), each gate's rules by the digest of their list, and
    the node set (`node_inputs`)."""
    gates = [{**vars(gate), "rules": admissions.rules_digest(gate.rules)} for gate in resolution.gates]
    return digest(
        {
            "derivation": DERIVATION_VERSION,
            "resolution": {**vars(resolution), "gates": gates},
            "nodes": node_inputs,
        }
    )
