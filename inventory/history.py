"""The versioned inventory store: writes a snapshot's objects as changes only.

A snapshot with sequence S compares each object's kept-field digest with the current version:
unchanged objects cost nothing; a changed one closes its old version (valid_to = S) and opens a
new one (valid_from = S); a vanished one is closed.  Writes go in short batches, never one giant
transaction, and stay invisible until the snapshot is marked complete or partial, because every
reader asks for the state as of a *visible* snapshot's sequence.  A run that dies midway is
undone by `undo_snapshot_writes` before the next run of that cluster starts.
"""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction

from inventory.bulk_insert import insert_rows
from inventory.kept_fields import SCHEMA_VERSION, canonical_json, digest, digest_of, keep
from inventory.models import InventoryObject
from inventory.storable import NUL_IN_JSON, storable

if TYPE_CHECKING:  # a type only: the store keeps array records without knowing the arrays layer
    from arrays.array_kinds import ArrayKind

BATCH_SIZE = 2000

ObjectKey = tuple[str, str]  # (namespace, name)


@dataclass
class StoredObject:
    uid: str
    data: dict
    digest: str
    nul_replaced: bool = False  # held a NUL character, stored as U+FFFD (inventory/storable.py)


@dataclass
class WriteStats:
    inserted: int = 0
    closed: int = 0

    def __add__(self, other: "WriteStats") -> "WriteStats":
        return WriteStats(self.inserted + other.inserted, self.closed + other.closed)

    def as_dict(self) -> dict:
        return {"inserted": self.inserted, "closed": self.closed}


def prepare(kind: str, raw_objects: list[dict], kept: bool = False) -> dict[ObjectKey, StoredObject]:
    """Reduce raw API objects to their stored form, keyed by (namespace, name).  `kept`: the source
    reduced them to their kept fields already, as it read them."""
    prepared: dict[ObjectKey, StoredObject] = {}
    for raw in raw_objects:
        stored = _stored(raw if kept else keep(kind, raw))
        metadata = stored.data.get("metadata") or {}
        stored.uid = metadata.get("uid") or ""
        prepared[(metadata.get("namespace") or "", metadata.get("name") or "")] = stored
    return prepared


def prepare_array_records(array_kind: "ArrayKind", records: list[dict]) -> dict[ObjectKey, StoredObject]:
    """Reduce an array's records to their stored form, keyed by ("", array-scoped name)."""
    prepared: dict[ObjectKey, StoredObject] = {}
    for record in records:
        if not isinstance(record, dict):
            continue
        derived = array_kind.derive(record) if array_kind.derive else {}
        stored = _stored(keep(array_kind.kind, {**record, **derived}))
        stored.uid = storable(str(record.get("uuid") or ""))
        prepared[("", storable(array_kind.name_of(record)))] = stored
    return prepared


def _stored(data: dict) -> StoredObject:
    """Kept fields as stored: digested, with any NUL replaced (one scan of the bytes digested anyway)."""
    canonical = canonical_json(data)
    if NUL_IN_JSON not in canonical:
        return StoredObject(uid="", data=data, digest=digest_of(canonical))
    data = storable(data)
    return StoredObject(uid="", data=data, digest=digest(data), nul_replaced=True)


def write_versions(
    cluster_id: int, seq: int, kind: str, objects: dict[ObjectKey, StoredObject], scope: str = ""
) -> WriteStats:
    """Record `kind`'s objects (of `scope`: "" for Kubernetes, else an array's name) as seen by
    snapshot `seq`; only call for kinds that were read."""
    current = {
        (ns, name): (pk, old_digest)
        for pk, ns, name, old_digest in InventoryObject.objects.current()
        .filter(cluster_id=cluster_id, scope=scope, kind=kind)
        .values_list("pk", "namespace", "name", "digest")
        .iterator(chunk_size=BATCH_SIZE)
    }
    to_close: list[int] = []
    to_insert: list[ObjectKey] = []
    for key, obj in objects.items():
        existing = current.get(key)
        if existing is not None and existing[1] == obj.digest:
            continue
        if existing is not None:
            to_close.append(existing[0])
        to_insert.append(key)
    to_close.extend(pk for key, (pk, _) in current.items() if key not in objects)

    # Close before inserting: at most one current version per object, enforced by the database.
    for start in range(0, len(to_close), BATCH_SIZE):
        with transaction.atomic():
            InventoryObject.objects.filter(pk__in=to_close[start : start + BATCH_SIZE]).update(valid_to=seq)
    for start in range(0, len(to_insert), BATCH_SIZE):
        rows = [  # made batch by batch: a first snapshot's rows are never all in memory at once
            InventoryObject(
                cluster_id=cluster_id,
                scope=scope,
                kind=kind,
                namespace=key[0],
                name=key[1],
                uid=objects[key].uid,
                data=objects[key].data,
                digest=objects[key].digest,
                schema_version=SCHEMA_VERSION,
                valid_from=seq,
            )
            for key in to_insert[start : start + BATCH_SIZE]
        ]
        with transaction.atomic():
            insert_rows(InventoryObject, rows)
    return WriteStats(inserted=len(to_insert), closed=len(to_close))


def undo_snapshot_writes(cluster_id: int, seq: int) -> int:
    """Remove what an unfinished snapshot wrote, restoring the state before it (idempotent)."""
    with transaction.atomic():
        removed, _ = InventoryObject.objects.filter(cluster_id=cluster_id, valid_from=seq).delete()
        reopened = InventoryObject.objects.filter(cluster_id=cluster_id, valid_to=seq).update(valid_to=None)
    return removed + reopened
