"""Each snapshot's derived record of every volume's access: array object, gates, admitted parties.

Computed once per snapshot from its inventory (the join, then ONTAP's evaluation and the verdicts)
and stored like inventory, under the scope "derived": an unchanged volume costs no row, and
pages, the API and the rules read the same record.  Kinds: `VolumeAccess` (one per PV, in the
namespace of its claim) and `InlineVolumeAccess` (one per inline pod volume, in the pod's).
"""

from dataclasses import dataclass

from django.db.models.fields.json import KT

from arrays.access_summary import ACCESS_SUMMARY, summaries
from arrays.admission import Admissions, node_set_of
from arrays.join import Resolution, join_snapshot
from arrays.stored_parties import ADMITTED_PARTIES, PartyListStore, with_admitted
from inventory.history import StoredObject, WriteStats, write_versions
from inventory.kept_fields import digest
from inventory.models import InventoryObject, Snapshot
from inventory.state import DERIVED_SCOPE, SnapshotState, Written

VOLUME_ACCESS = "VolumeAccess"
INLINE_VOLUME_ACCESS = "InlineVolumeAccess"
# Bump when the join, the evaluation or the record shape changes: the next snapshot then derives anew.
# 4: with each namespace's summary (arrays/access_summary.py); 5: the inputs name rules by their digest;
# 6: parties stored once per segment (arrays/stored_parties.py).
DERIVATION_VERSION = 6


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


@dataclass
class Derivation:
    stats: WriteStats
    # When derived (not skipped): the loaded state and the records, so the rules reuse both.
    state: SnapshotState | None = None
    records: dict[str, dict] | None = None  # kind -> (namespace, name) -> record


def derive(snapshot: Snapshot, inventory_changed: bool = True, written: Written | None = None) -> Derivation:
    """Derive and store the snapshot's access records.

    The records are a function of the inventory alone, so when this snapshot wrote no inventory
    row (a quiet cluster) the previous records stand as they are: nothing is computed or written.
    `written`: what the run just stored (inventory/state.py), used as it is rather than read back.
    """
    previous = (
        Snapshot.objects.filter(
            cluster_id=snapshot.cluster_id, seq__lt=snapshot.seq, status__in=Snapshot.VISIBLE
        )
        .order_by("-seq")
        .first()
    )
    if not inventory_changed and previous and (previous.facts or {}).get("derivation") == DERIVATION_VERSION:
        snapshot.facts = {
            **(snapshot.facts or {}),
            "join": previous.facts.get("join"),
            "derivation": DERIVATION_VERSION,
        }
        return Derivation(WriteStats())
    state = SnapshotState.load(snapshot, written)
    joined = join_snapshot(state)
    node_inputs = _node_inputs(state)
    evaluate = _Evaluation(snapshot.cluster_id, Admissions(node_set_of(state), node_inputs))
    volumes: dict[tuple[str, str], StoredObject] = {}
    records: dict[str, dict] = {VOLUME_ACCESS: {}, INLINE_VOLUME_ACCESS: {}}
    for pv_name, resolution in joined.volumes.items():
        namespace = resolution.namespaces[0] if resolution.namespaces else ""
        key = (namespace, pv_name)
        volumes[key], records[VOLUME_ACCESS][key] = evaluate(VOLUME_ACCESS, key, resolution)
    inline: dict[tuple[str, str], StoredObject] = {}
    for resolution in joined.inline:
        key = (resolution.namespaces[0], resolution.subject.removeprefix("Pod/").split("/", 1)[1])
        inline[key], records[INLINE_VOLUME_ACCESS][key] = evaluate(INLINE_VOLUME_ACCESS, key, resolution)
    snapshot.facts = {
        **(snapshot.facts or {}),
        "join": {"unbacked": joined.unbacked, "broken_links": joined.broken_links},
        "derivation": DERIVATION_VERSION,
    }
    stats = write_versions(snapshot.cluster_id, snapshot.seq, VOLUME_ACCESS, volumes, scope=DERIVED_SCOPE)
    stats += write_versions(
        snapshot.cluster_id, snapshot.seq, INLINE_VOLUME_ACCESS, inline, scope=DERIVED_SCOPE
    )
    stats += write_versions(
        snapshot.cluster_id, snapshot.seq, ADMITTED_PARTIES, evaluate.parties.segments, scope=DERIVED_SCOPE
    )
    stats += write_versions(
        snapshot.cluster_id, snapshot.seq, ACCESS_SUMMARY, summaries(records), scope=DERIVED_SCOPE
    )
    return Derivation(stats, state, records)


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
    previous records back, each with its own copies of the same parties (twice the memory).

    A record is a function of the volume's resolution (object, gates with their rules and
    initiators) and of the node set: their digest is the record's `inputs`, each gate's rules in it
    by the digest of their list (thousands of volumes share a list: it is serialised once, not once
    per volume).  A record whose inputs did not change is the stored one, so it keeps that one's
    digest rather than hashing it again."""

    def __init__(self, cluster_id: int, admissions: Admissions):
        self.admissions = admissions
        self.parties = PartyListStore()
        self.node_inputs = admissions.nodes_inputs or ""
        self.previous = {  # (kind, namespace, name) -> (inputs, digest) of the current records
            (kind, namespace, name): (inputs, stored_digest)
            for kind, namespace, name, inputs, stored_digest in InventoryObject.objects.current()
            .filter(
                cluster_id=cluster_id, scope=DERIVED_SCOPE, kind__in=(VOLUME_ACCESS, INLINE_VOLUME_ACCESS)
            )
            .values_list("kind", "namespace", "name", KT("data__inputs"), "digest")
            .iterator(chunk_size=2000)
        }

    def __call__(self, kind: str, key: tuple[str, str], resolution: Resolution) -> tuple[StoredObject, dict]:
        """The record as stored, and whole (with its parties: what the analysis reads)."""
        inputs = inputs_of(resolution, self.admissions, self.node_inputs)
        segments = self.admissions.segments_of(resolution)
        whole = record(resolution, self.admissions.joined(segments), inputs)
        data = self.parties.stored_form(whole, segments)
        whole["party_lists"] = data["party_lists"]  # as a stored record is read back (`records_as_of`)
        previous_inputs, previous_digest = self.previous.get((kind, *key), (None, None))
        stored = StoredObject("", data, previous_digest if previous_inputs == inputs else digest(data))
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
