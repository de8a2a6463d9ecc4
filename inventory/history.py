"""The versioned inventory store: writes a snapshot's objects as changes only.

A snapshot with sequence S compares each object's kept-field digest with the current version:
unchanged objects cost nothing; a changed one closes its old version (valid_to = S) and opens a
new one (valid_from = S); a vanished one is closed.  Writes go in short batches, never one giant
transaction, and stay invisible until the snapshot is marked complete or partial, because every
reader asks for the state as of a *visible* snapshot's sequence.  A run that dies midway is
undone by `undo_snapshot_writes` before the next run of that cluster starts.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import orjson
from django.db import connection, transaction

from inventory import versions_memory
from inventory.field_changes import changed_fields, field_change
from inventory.json_column import SerialisedJSON
from inventory.kept_fields import KEPT_FIELDS, SCHEMA_VERSION, digest, digest_of, keep_serialised
from inventory.kept_reuse import KeptFormReuse
from inventory.kinds import BY_KIND
from inventory.models import InventoryObject
from inventory.storable import NUL_IN_JSON, storable
from inventory.versions_memory import ObjectKey, Versions  # (namespace, name); its row id, digest, schema
from inventory.written_behind import insert_batch

if TYPE_CHECKING:  # a type only: the store keeps array records without knowing the arrays layer
    from arrays.array_kinds import ArrayKind

BATCH_SIZE = 2000
# Above this many objects of a kind changed in place, the kind counts as changed whole in the change
# set: reading back their previous versions would cost more than the rules it could spare.
MOST_COMPARED = 20_000


@dataclass
class StoredObject:
    uid: str
    data: dict | SerialisedJSON  # serialised: made as JSON by its writer, who digested that JSON
    digest: str
    nul_replaced: bool = False  # held a NUL character, stored as U+FFFD (inventory/storable.py)
    # A Kubernetes object's (namespace, name) as stored, worked out once with its form: a form reused
    # snapshot after snapshot is keyed without reading its metadata again (inventory/kept_reuse.py).
    key: ObjectKey | None = None


@dataclass
class WriteStats:
    inserted: int = 0
    closed: int = 0
    # The objects present before and after whose version changed -> their previous version's row id.
    replaced: dict[ObjectKey, int] = field(default_factory=dict, repr=False)
    # Every object a version was inserted or closed for (changed, appeared or gone).
    keys: list[ObjectKey] = field(default_factory=list, repr=False)

    @property
    def only_replaced(self) -> bool:
        """Whether every version written replaced one of the same object (none appeared or went)."""
        return self.inserted == self.closed == len(self.replaced)

    def __add__(self, other: "WriteStats") -> "WriteStats":
        return WriteStats(self.inserted + other.inserted, self.closed + other.closed)

    def as_dict(self) -> dict:
        return {"inserted": self.inserted, "closed": self.closed}


def current_versions(cluster_id: int, kind: str, scope: str = "", seq: int | None = None) -> Versions:
    """The current versions of `kind` (of `scope`): (namespace, name) -> (row id, digest, stored
    under this SCHEMA_VERSION).  `seq`: the run asking, which this worker's memory of its last run
    may answer (inventory/versions_memory.py); the dict returned is never to be changed."""
    if seq is not None:
        remembered = versions_memory.remembered(cluster_id, seq, scope, kind)
        if remembered is not None:
            return remembered
    versions = _read_versions(cluster_id, kind, scope)
    if seq is not None:
        versions_memory.looked_up(cluster_id, seq, scope, kind, versions)
    return versions


def stored_kinds(cluster_id: int) -> set[tuple[str, str]]:
    """The (scope, kind) pairs of which the cluster has a current version.  On PostgreSQL each pair
    is found by one probe of the current versions' unique index (a loose index scan): `DISTINCT`
    read every current version, 0.15-0.3 s at the bench scale, each time a run asked."""
    current = InventoryObject.objects.current().filter(cluster_id=cluster_id)
    if connection.vendor != "postgresql":
        return set(current.values_list("scope", "kind").distinct())
    with connection.cursor() as cursor:
        cursor.execute(_STORED_KINDS, [cluster_id, cluster_id])
        return set(cursor.fetchall())


# The next (scope, kind) after each found, from the unique index on (cluster, scope, kind, namespace,
# name) of the current versions (tests/test_history.py checks the table is the model's).
_STORED_KINDS = """
WITH RECURSIVE stored AS (
    (SELECT scope, kind FROM inventory_inventoryobject WHERE cluster_id = %s AND valid_to IS NULL
     ORDER BY scope, kind LIMIT 1)
    UNION ALL
    SELECT later.scope, later.kind FROM stored, LATERAL (
        SELECT scope, kind FROM inventory_inventoryobject
        WHERE cluster_id = %s AND valid_to IS NULL AND (scope, kind) > (stored.scope, stored.kind)
        ORDER BY scope, kind LIMIT 1
    ) AS later
)
SELECT scope, kind FROM stored
"""


def _read_versions(cluster_id: int, kind: str, scope: str) -> Versions:
    # Fetched at once, not through a server-side cursor in batches: the dict holds every row anyway,
    # and the batches' round trips cost a third more (1.2–1.4 s instead of 0.9 for the bench's
    # 564,560 versions).
    return {
        (namespace, name): (pk, stored_digest, schema == SCHEMA_VERSION)
        for pk, namespace, name, stored_digest, schema in InventoryObject.objects.current()
        .filter(cluster_id=cluster_id, scope=scope, kind=kind)
        .values_list("pk", "namespace", "name", "digest", "schema_version")
    }


def _looked_at_digest(current: Versions | None, key: ObjectKey) -> str | None:
    """The digest of the object's current version when that version was looked at for secrets by
    today's rules (stored under this SCHEMA_VERSION: bumped whenever what is kept or dropped changes);
    None otherwise, so that an object stored under older rules is looked at again."""
    _, stored_digest, current_schema = (current or {}).get(key, (0, None, False))
    return stored_digest if current_schema else None


def stored_form(kind: str, raw: dict, current: Versions | None = None) -> StoredObject:
    """A raw API object as stored: its kept fields (secrets dropped), digested.  `current`: the
    kind's current versions, to which an unchanged object's kept fields need no new look."""
    stored = _stored(*keep_serialised(kind, raw, _looked_at_digest(current, _key(raw))))
    stored.uid = (stored.data.get("metadata") or {}).get("uid") or ""
    stored.key = _key(stored.data)
    return stored


class StoredForms:
    """The live source's reducer for a snapshot (inventory/tasks.py): each object's stored form as
    its page arrives, judged against the current versions of its kind, read when the kind's first
    object comes and kept in `current` for write_versions.  An object unchanged since this process
    last read the cluster keeps the form made then (inventory/kept_reuse.py)."""

    def __init__(self, cluster_id: int, seq: int | None = None):
        self.cluster_id, self.seq = cluster_id, seq
        self.current: dict[str, Versions] = {}
        self.reuse = KeptFormReuse(cluster_id)

    def __call__(self, kind: str, raw: dict) -> StoredObject:
        current = self._current(kind)
        key = _key(raw)
        stored = self.reuse.form(kind, key, raw, current) or stored_form(kind, raw, current)
        self.reuse.note(kind, key, raw, stored)
        return stored

    def remembers(self, kind: str) -> bool:
        """Whether `reused` may find forms of this kind (the source then reads its pages lazily)."""
        return self.reuse.remembers(kind)

    def finder(self, kind: str) -> Callable[[ObjectKey, str, str], StoredObject | None]:
        """For each object of `kind` known only by its key, uid and resourceVersion (the source has
        not built it: inventory/sources/lazy_pages.py), the last read's form, noted as read; None
        when the object must be read whole and given to this reducer."""
        return self.reuse.finder(kind, self._current(kind))

    def _current(self, kind: str) -> Versions:
        current = self.current.get(kind)
        if current is None:
            current = self.current[kind] = current_versions(self.cluster_id, kind, seq=self.seq)
        return current


def prepare(kind: str, objects: list, kept: bool = False) -> dict[ObjectKey, StoredObject]:
    """Raw API objects in their stored form, keyed by (namespace, name).  `kept`: the source made
    each one's stored form already (`stored_form`), as it read them."""
    return {
        stored.key or _key(stored.data): stored
        for stored in (objects if kept else (stored_form(kind, o) for o in objects))
    }


def prepare_array_records(
    array_kind: "ArrayKind",
    records: list[dict],
    current: Versions | None = None,
    reuse: KeptFormReuse | None = None,
    array: str = "",
) -> dict[ObjectKey, StoredObject]:
    """Reduce an array's records to their stored form, keyed by ("", array-scoped name); `current`
    as for stored_form.  `reuse`: the worker's kept forms of `array`'s records from its last read
    of the cluster, reused for a record the array answered exactly as then."""
    prepared: dict[ObjectKey, StoredObject] = {}
    remembered_as = f"{array}:{array_kind.kind}"
    find = reuse.record_finder(remembered_as, current or {}) if reuse is not None else None
    for record in records:
        if not isinstance(record, dict):
            continue
        key = ("", storable(array_kind.name_of(record)))
        content = _content_digest(record) if reuse is not None else None
        stored = find(key, content) if content else None  # a reused form is noted as it was
        if stored is None:
            derived = array_kind.derive(record) if array_kind.derive else {}
            stored = _stored(
                *keep_serialised(array_kind.kind, {**record, **derived}, _looked_at_digest(current, key))
            )
            stored.uid = storable(str(record.get("uuid") or ""))
            if content:
                reuse.note_record(remembered_as, key, content, stored)
        prepared[key] = stored
    return prepared


def _content_digest(record: dict) -> str | None:
    """The digest of a record as the array answered it (2-3 µs, where keeping it costs 11-16)."""
    try:
        return digest_of(orjson.dumps(record))
    except (TypeError, orjson.JSONEncodeError):  # not JSON's types: kept anew, never reused
        return None


def _key(data: dict) -> ObjectKey:
    """(namespace, name) of an object, raw or kept."""
    metadata = data.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    return metadata.get("namespace") or "", metadata.get("name") or ""


def _stored(data: dict, canonical: bytes, digested: str) -> StoredObject:
    """Kept fields (with their canonical JSON and its digest) as stored: any NUL replaced."""
    if NUL_IN_JSON not in canonical:
        return StoredObject(uid="", data=data, digest=digested)
    data = storable(data)
    return StoredObject(uid="", data=data, digest=digest(data), nul_replaced=True)


def write_versions(
    cluster_id: int,
    seq: int,
    kind: str,
    objects: dict[ObjectKey, StoredObject],
    scope: str = "",
    current: Versions | None = None,
) -> WriteStats:
    """Record `kind`'s objects (of `scope`: "" for Kubernetes, else an array's name) as seen by
    snapshot `seq`; only call for kinds that were read.  `current`: their current versions, when
    read already (`current_versions`)."""
    if current is None:
        current = current_versions(cluster_id, kind, scope, seq)
    to_insert: list[ObjectKey] = []
    replaced: dict[ObjectKey, int] = {}
    for key, obj in objects.items():
        existing = current.get(key)
        if existing is not None and existing[1] == obj.digest:
            continue
        if existing is not None:
            replaced[key] = existing[0]
        to_insert.append(key)
    # The objects gone, by set difference in C: iterating the kind's versions in Python cost 0.3 s of
    # a 1% churn snapshot at the bench scale (profiled), nearly all for the few objects that went.
    closed = {**replaced, **{key: current[key][0] for key in current.keys() - objects.keys()}}
    to_close = list(closed.values())
    versions_memory.wrote(cluster_id, seq, scope, kind, to_insert, closed)

    # Close before inserting: at most one current version per object, enforced by the database.
    for start in range(0, len(to_close), BATCH_SIZE):
        with transaction.atomic():
            InventoryObject.objects.filter(pk__in=to_close[start : start + BATCH_SIZE]).update(valid_to=seq)
    for start in range(0, len(to_insert), BATCH_SIZE):
        rows = [  # made batch by batch: a first snapshot's rows are never all in memory at once
            {
                "cluster_id": cluster_id,
                "scope": scope,
                "kind": kind,
                "namespace": key[0],
                "name": key[1],
                "uid": objects[key].uid,
                "data": objects[key].data,
                "digest": objects[key].digest,
                "schema_version": SCHEMA_VERSION,
                "valid_from": seq,
            }
            for key in to_insert[start : start + BATCH_SIZE]
        ]
        insert_batch(InventoryObject, rows)  # behind the run, inside rows_written_behind()
    gone = [key for key in closed if key not in replaced]
    return WriteStats(inserted=len(to_insert), closed=len(to_close), replaced=replaced, keys=to_insert + gone)


def stored_data(row_ids: list[int]) -> dict[int, dict]:
    """The data of stored versions, by row id (previous versions the change set compares)."""
    found = {}
    for start in range(0, len(row_ids), BATCH_SIZE):
        batch = InventoryObject.objects.filter(pk__in=row_ids[start : start + BATCH_SIZE])
        found.update(batch.values_list("pk", "data"))
    return found


def change_set_of(kind: str, stats: WriteStats, kept: dict) -> set[str]:
    """What a snapshot's writes of `kind` change: the fields that changed when the same objects
    changed in place (each compared with its previous version, read back), else the kind whole.
    `kept`: the objects' kept data as just written."""
    if not (stats.inserted or stats.closed):
        return set()
    if not stats.only_replaced or len(stats.replaced) > MOST_COMPARED or kind not in KEPT_FIELDS:
        return {kind}
    previous = stored_data(list(stats.replaced.values()))
    changes: set[str] = set()
    for key, row_id in stats.replaced.items():
        fields = changed_fields(kind, previous[row_id], kept[key]) if row_id in previous else None
        if fields is None:
            return {kind}
        changes.update(field_change(kind, root) for root in fields)
    return changes or {kind}  # a digest changed with no field: told apart whole


def namespaces_touched(kind: str, stats: WriteStats) -> frozenset[str] | None:
    """The namespaces a snapshot's writes of Kubernetes kind `kind` touched: those of the objects
    written (a Namespace object's own name); None for another cluster-scoped kind."""
    if kind == "Namespace":
        return frozenset(name for _, name in stats.keys)
    info = BY_KIND.get(kind)
    return frozenset(namespace for namespace, _ in stats.keys) if info and info.namespaced else None


def undo_snapshot_writes(cluster_id: int, seq: int) -> int:
    """Remove what an unfinished snapshot wrote, restoring the state before it (idempotent)."""
    with transaction.atomic():
        removed, _ = InventoryObject.objects.filter(cluster_id=cluster_id, valid_from=seq).delete()
        reopened = InventoryObject.objects.filter(cluster_id=cluster_id, valid_to=seq).update(valid_to=None)
    return removed + reopened
