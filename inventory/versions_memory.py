"""The current versions of a cluster's objects as this worker's last snapshot of it left them, so
that its next snapshot reads back only the versions that snapshot inserted, not every one standing.

Each snapshot looks up the current versions (row id, digest, schema) of every kind it stores: at the
bench scale 564,560 rows, about a second of each snapshot.  A worker that took the previous snapshot
of the cluster knows them already: those it looked up, less those it closed, plus those it inserted,
whose row ids only the database knows (`COPY` returns none).  A run that wrote many versions (a
first snapshot) is not remembered: see MOST_CHECKED.

Guards, so that this memory can only save a read, never decide a version:
- It serves only the run that directly follows the one it remembers: the cluster's latest snapshot
  before it must be that very run (row id, seq and start time) and have finished complete or partial.
  A run of another process in between, a failed run (its writes undone), a run restarted elsewhere,
  a database restored: the previous snapshot is another, and every kind is read whole.
- The database vouches for what the remembered run wrote: the versions it inserted are read back,
  and must be exactly those it noted inserting, each the current one; the versions it closed must
  all be closed by it.  Otherwise every kind is read whole.
- At most `READ_WHOLE_EVERY` runs in a row, then every kind is read whole again.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from inventory.cluster_memory import ClusterMemory
from inventory.kept_fields import SCHEMA_VERSION
from inventory.models import InventoryObject, Snapshot

logger = logging.getLogger(__name__)

READ_WHOLE_EVERY = 24
# A run that inserted or closed more versions than this (a first snapshot, a cluster replaced
# wholesale) is not remembered, and stops noting what it writes: at the bench scale, the snapshot
# after a first one (564,560 versions inserted) took 6.8-7.3 s holding and reading back what that one
# inserted, 5.5-6.0 s reading every kind whole.
MOST_CHECKED = 20_000

ObjectKey = tuple[str, str]
Version = tuple[int, str, bool]  # row id, digest, stored under this SCHEMA_VERSION
Versions = dict[ObjectKey, Version]
Stored = tuple[str, str]  # (scope, kind)
RunIdentity = tuple[int, int, datetime | None]  # the snapshot's row id, seq, start


@dataclass
class _Run:
    """One run's current versions: as it looked them up, and what it wrote of them."""

    identity: RunIdentity
    versions: dict[Stored, Versions] = field(default_factory=dict)
    inserted: dict[Stored, set[ObjectKey]] = field(default_factory=dict)
    closed: dict[Stored, dict[ObjectKey, int]] = field(default_factory=dict)  # key -> closed row id
    runs: int = 0  # runs since every kind was read whole
    wrote_many: bool = False  # more than MOST_CHECKED versions inserted or closed: not remembered


# cluster id -> its last run in this process
_LAST_RUN: ClusterMemory[_Run] = ClusterMemory()


def run_of(snapshot: Snapshot) -> tuple:
    """Which run a snapshot is: a run restarted elsewhere, or a restored database, is another."""
    return (snapshot.pk, snapshot.seq, snapshot.started_at)


def begin(snapshot: Snapshot) -> None:
    """At the start of a run, once its start is saved: the last run's versions brought up to date,
    if the database vouches for them; otherwise nothing is remembered."""
    last = _LAST_RUN.pop(snapshot.cluster_id)
    identity = run_of(snapshot)
    versions = _brought_up_to_date(last, snapshot) if last is not None else None
    if versions is None:
        _LAST_RUN.put(snapshot.cluster_id, _Run(identity))
    else:
        _LAST_RUN.put(snapshot.cluster_id, _Run(identity, versions, runs=last.runs + 1))


def forget(cluster_id: int) -> None:
    """A run that failed: its writes are undone, what it remembers is wrong."""
    _LAST_RUN.pop(cluster_id)


def remembered(cluster_id: int, seq: int, scope: str, kind: str) -> Versions | None:
    """The current versions of `kind` (of `scope`) for run `seq`, if remembered: as they were when
    it began, so not once it has written any (it reads them from the database again)."""
    run = _run_of(cluster_id, seq)
    if run is None or (scope, kind) in run.inserted or (scope, kind) in run.closed:
        return None
    return run.versions.get((scope, kind))


def looked_up(cluster_id: int, seq: int, scope: str, kind: str, versions: Versions) -> None:
    """Run `seq` read these current versions from the database (what it closes is taken out of
    them, what it inserted read back, for its next run)."""
    run = _run_of(cluster_id, seq)
    if run is not None and not run.wrote_many:
        run.versions[(scope, kind)] = versions


def wrote(
    cluster_id: int, seq: int, scope: str, kind: str, inserted: list[ObjectKey], closed: dict[ObjectKey, int]
) -> None:
    """Run `seq` inserted versions of these objects and closed these row ids."""
    run = _run_of(cluster_id, seq)
    if run is None or run.wrote_many:
        return
    if inserted:
        run.inserted.setdefault((scope, kind), set()).update(inserted)
    if closed:
        run.closed.setdefault((scope, kind), {}).update(closed)
    if max(sum(map(len, run.inserted.values())), sum(map(len, run.closed.values()))) > MOST_CHECKED:
        run.wrote_many, run.versions, run.inserted, run.closed = True, {}, {}, {}


def _run_of(cluster_id: int, seq: int) -> _Run | None:
    run = _LAST_RUN.get(cluster_id)
    return run if run is not None and run.identity[1] == seq else None


def _brought_up_to_date(last: _Run, snapshot: Snapshot) -> dict[Stored, Versions] | None:
    """`last`'s versions with its writes applied, as the database says them; None when they may not
    stand for the database (see the module)."""
    if last.runs + 1 >= READ_WHOLE_EVERY or not last.versions:  # none kept of a run that wrote many
        return None
    previous = (
        Snapshot.objects.filter(cluster_id=snapshot.cluster_id, seq__lt=snapshot.seq)
        .order_by("-seq")
        .values_list("pk", "seq", "started_at", "status")
        .first()
    )
    if previous is None or previous[:3] != last.identity or previous[3] not in Snapshot.VISIBLE:
        return None
    seq = last.identity[1]
    closed_ids = [pk for closed in last.closed.values() for pk in closed.values()]
    if closed_ids and (
        InventoryObject.objects.filter(pk__in=closed_ids, valid_to=seq).count() != len(closed_ids)
    ):
        return _disagrees(snapshot, "a version it closed is not closed by it")
    inserted: dict[Stored, Versions] = {}
    rows = InventoryObject.objects.filter(cluster_id=snapshot.cluster_id, valid_from=seq, valid_to=None)
    for pk, scope, kind, namespace, name, stored_digest, schema in rows.values_list(
        "pk", "scope", "kind", "namespace", "name", "digest", "schema_version"
    ):
        version = (pk, stored_digest, schema == SCHEMA_VERSION)
        inserted.setdefault((scope, kind), {})[(namespace, name)] = version
    if inserted.keys() != last.inserted.keys() or any(
        those.keys() != last.inserted[what] for what, those in inserted.items()
    ):
        return _disagrees(snapshot, "the versions it inserted are not those the database holds")
    versions = {}
    for what, those in last.versions.items():
        gone, new = last.closed.get(what, {}), inserted.get(what, {})
        if not gone and not new:
            versions[what] = those  # nobody changes a run's versions once looked up: shared
            continue
        updated = {key: version for key, version in those.items() if key not in gone}
        updated.update(new)
        versions[what] = updated
    return versions


def _disagrees(snapshot: Snapshot, why: str) -> None:
    logger.warning(
        "cluster %s: the database disagrees with what this worker wrote in its last snapshot (%s): "
        "every kind's current versions are read whole",
        snapshot.cluster_id,
        why,
    )
    return None
