"""A worker's kept forms of the Kubernetes objects it last read of a cluster, reused while each
object's resourceVersion stands.

Kubernetes gives an object a new resourceVersion on every write, status included, so an object
listed again with the same uid and resourceVersion is the object read last time: its kept fields,
their digest and their look for secrets are those of the last read.  Projecting, serialising and
hashing it again was about a third of a 1% churn snapshot's profiled time at the bench scale.

Guards, so that this memory can only save work, never decide what is stored:
- A form is reused only while it is also the object's current stored version (the same digest,
  stored under this SCHEMA_VERSION).  A run that died and was undone, a database emptied or
  restored, or a later snapshot taken by another process: the database disagrees, and the object is
  kept anew.
- At most `REUSED_FOR` snapshots in a row, then every object is kept anew: an etcd restored
  without `--bump-revision` can hand an old resourceVersion to new content, which every informer
  would miss too; this bounds how long we would.
- Only objects with both a uid and a resourceVersion.  Array records have neither: theirs is the
  digest of the record as the array answered it (secrets dropped), so a record is reused only while
  the array answers it byte for byte as before (`record_finder`).

Memory: the forms are those each snapshot holds anyway (a reused one is the same object, shared);
between snapshots a worker keeps the last read of at most `settings.KEPT_FORMS_REUSED_CLUSTERS`
clusters (0: none).
"""

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from inventory.cluster_memory import ClusterMemory

if TYPE_CHECKING:
    from inventory.history import StoredObject, Versions

logger = logging.getLogger(__name__)

REUSED_FOR = 24
# Array records have no uid: this stands in for one (their version is their content's digest).
_ARRAY_RECORD = "array record"

ObjectKey = tuple[str, str]
# kind -> (namespace, name) -> (uid, resourceVersion, stored form)
Forms = dict[str, dict[ObjectKey, tuple[str, str, "StoredObject"]]]

# cluster id -> (the forms of its last read in this process, reads since every object was kept anew)
_REMEMBERED: ClusterMemory[tuple[Forms, int]] = ClusterMemory()


class KeptFormReuse:
    """One read of a cluster: offers the last read's forms, notes this read's."""

    def __init__(self, cluster_id: int):
        self.cluster_id = cluster_id
        previous, reads = _REMEMBERED.get(cluster_id, ({}, 0))
        if reads >= REUSED_FOR:
            previous, reads = {}, 0
        self.previous, self.reads = previous, reads
        self.read: Forms = {}
        self.reused = 0

    def remembers(self, kind: str) -> bool:
        """Whether the last read left forms of this kind to reuse."""
        return bool(self.previous.get(kind))

    def form(self, kind: str, key: ObjectKey, raw: dict, current: "Versions") -> "StoredObject | None":
        """The last read's form of this object, if it may stand for this one."""
        return self.form_at(kind, key, *_version(raw), current)

    def form_at(
        self, kind: str, key: ObjectKey, uid: str, version: str, current: "Versions"
    ) -> "StoredObject | None":
        """form(), for an object known by its uid and resourceVersion (text; "" when it has none)."""
        stored = _reusable(self.previous.get(kind, {}).get(key), uid, version, current.get(key))
        if stored is not None:
            self.reused += 1
        return stored

    def finder(
        self, kind: str, current: "Versions"
    ) -> "Callable[[ObjectKey, str, str], StoredObject | None]":
        """`form_at` and `note_at` in one, for the many objects of one kind's pages (373,058 at the
        bench scale), a reused object noted by the very entry the last read noted, not a new one."""
        previous, read = self.previous.get(kind, {}), self.read.setdefault(kind, {})

        def found(key: ObjectKey, uid: str, version: str) -> "StoredObject | None":
            remembered = previous.get(key)
            stored = _reusable(remembered, uid, version, current.get(key))
            if stored is not None:
                self.reused += 1
                read[key] = remembered
            return stored

        return found

    def record_finder(
        self, kind: str, current: "Versions"
    ) -> "Callable[[ObjectKey, str], StoredObject | None]":
        """`finder` for an array's records (`kind`: the array's name and the stored kind): the last
        read's form of a record the array answered with the same content (`content`: its digest)."""
        found = self.finder(kind, current)
        return lambda key, content: found(key, _ARRAY_RECORD, content)

    def note_record(self, kind: str, key: ObjectKey, content: str, stored: "StoredObject") -> None:
        self.note_at(kind, key, _ARRAY_RECORD, content, stored)

    def note(self, kind: str, key: ObjectKey, raw: dict, stored: "StoredObject") -> None:
        self.note_at(kind, key, *_version(raw), stored)

    def note_at(self, kind: str, key: ObjectKey, uid: str, version: str, stored: "StoredObject") -> None:
        if uid and version:
            self.read.setdefault(kind, {})[key] = (uid, version, stored)

    def remember(self) -> None:
        """Keep this read's forms for the next (a read that failed keeps the older ones)."""
        noted = sum(map(len, self.read.values()))
        logger.debug(  # the snapshot's own line says what was read and written (one line per snapshot)
            "cluster %s: kept forms of %d of %d objects reused (unchanged since this worker's last read)",
            self.cluster_id,
            self.reused,
            noted,
        )
        _REMEMBERED.put(self.cluster_id, (self.read, self.reads + 1))


def _reusable(remembered, uid: str, version: str, known) -> "StoredObject | None":
    """The remembered (uid, version, form) of an object, if its form may stand for the object read
    now: the same uid and (non-empty) version, and that form is the current stored version (`known`:
    its row id, digest and whether it was stored under this SCHEMA_VERSION)."""
    if remembered is None or not version or remembered[1] != version or remembered[0] != uid:
        return None
    stored = remembered[2]
    if known is None or not known[2] or known[1] != stored.digest:
        return None
    return stored


def _version(raw: dict) -> tuple[str, str]:
    metadata = raw.get("metadata")
    if not isinstance(metadata, dict):
        return "", ""
    uid, version = metadata.get("uid"), metadata.get("resourceVersion")
    return (uid if type(uid) is str else ""), (version if type(version) is str else "")
