"""Running one snapshot: queue it, read a source, store the changes, and say how it went.

The source is any callable returning a `Collection` (the live Kubernetes API, or an offline
dump).  A snapshot ends complete (every kind read), partial (some kinds not read: which and
why), or failed (nothing usable; nothing it wrote stays).  Kinds that were not read keep their
previous versions untouched, so a partial snapshot never makes objects vanish.
"""

import logging
import time
from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from arrays.array_kinds import ARRAY_KINDS
from arrays.array_reading import backends_unread
from arrays.volume_access import derive as derive_volume_access
from exposure.analyse import Judgement, judge, record
from inventory import versions_memory
from inventory.constants import ACCESS_RECORDS, ARRAY_RECORDS
from inventory.history import (
    Versions,
    WriteStats,
    change_set_of,
    current_versions,
    namespaces_touched,
    prepare,
    prepare_array_records,
    stored_kinds,
    undo_snapshot_writes,
    write_versions,
)
from inventory.kept_fields import SCHEMA_VERSION
from inventory.kinds import KIND_NAMES, TRIDENT_KINDS
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.phase_clock import PhaseClock, laps_text
from inventory.planner_statistics import refresh_after
from inventory.sources import Collection, KindByKindSource, SourceError
from inventory.sources.parsing import gc_paused
from inventory.state import DERIVED_SCOPE, Written
from inventory.storable import nul_warning, storable
from inventory.written_behind import rows_written_behind

logger = logging.getLogger(__name__)


def queue_snapshot(
    cluster: Cluster, *, taken_at: datetime | None = None, origin=Snapshot.Origin.LIVE
) -> Snapshot:
    """Create the next snapshot of `cluster` in state queued."""
    for _ in range(5):  # two dispatchers may race for the same sequence number
        try:
            with transaction.atomic():
                last = Snapshot.objects.filter(cluster=cluster).aggregate(m=Max("seq"))["m"] or 0
                return Snapshot.objects.create(
                    cluster=cluster, seq=last + 1, origin=origin, taken_at=taken_at or timezone.now()
                )
        except IntegrityError:
            continue
    raise RuntimeError(f"could not allocate a snapshot sequence for cluster {cluster.name}")


def abandon_unfinished(cluster: Cluster, *, before_seq: int) -> None:
    """Undo and mark failed any earlier run of this cluster that never finished (a dead worker).

    Only called while holding the cluster's lease, so no earlier run can still be alive.
    """
    stale = Snapshot.objects.filter(
        cluster=cluster, seq__lt=before_seq, status__in=[Snapshot.Status.RUNNING, Snapshot.Status.QUEUED]
    )
    for snapshot in stale:
        undo_snapshot_writes(cluster.pk, snapshot.seq)
        snapshot.status = Snapshot.Status.FAILED
        snapshot.error = (
            snapshot.error or "interrupted: the run ended before finishing; its writes were undone"
        )
        snapshot.finished_at = snapshot.finished_at or timezone.now()
        snapshot.save(update_fields=["status", "error", "finished_at"])


def run_snapshot(snapshot: Snapshot, source: Callable[[], Collection]) -> Snapshot:
    """Read `source` into `snapshot` and store the changes. Returns the finished snapshot.

    The cyclic garbage collector is paused for the run: what a snapshot builds (the kept objects,
    the loaded state, the access records, the analysis' context) lives until the run ends and holds
    almost no reference cycles (a few dozen objects' worth), yet each full collection rescanned all
    of it: 40% of a 1% churn snapshot's CPU at scale 200.  It resumes once the run's data is freed."""
    with gc_paused():
        _run(snapshot, source)
    return snapshot


def _run(snapshot: Snapshot, source: Callable[[], Collection]) -> None:
    cluster = snapshot.cluster
    abandon_unfinished(cluster, before_seq=snapshot.seq)
    started = time.monotonic()
    clock = PhaseClock()
    snapshot.status = Snapshot.Status.RUNNING
    snapshot.started_at = timezone.now()
    snapshot.schema_version = SCHEMA_VERSION
    snapshot.save(update_fields=["status", "started_at", "schema_version"])
    versions_memory.begin(snapshot)
    try:
        store = _Store(snapshot)
        # PostgreSQL takes the rows in while the run goes on; the analysis reads after the block.
        with rows_written_behind():
            # A source that hands on each kind as it reads it has it stored meanwhile ("read" then
            # includes storing those kinds).
            collection = source(store.kind) if isinstance(source, KindByKindSource) else source()
            clock.lap("read")
            distrust_absence(cluster.pk, collection, before_seq=snapshot.seq)
            if not (set(collection.objects) & set(KIND_NAMES)):
                raise SourceError(
                    "no kind could be read: " + "; ".join(f"{k}: {v}" for k, v in collection.unread.items())
                )
            stats, written, changed = store.rest(collection)
            clock.lap("store")
            del collection  # the raw objects (gigabytes at scale) are handed on; free them before deriving
            derivation = derive_volume_access(
                snapshot,
                inventory_changed=bool(stats["inserted"] or stats["closed"]),
                written=written,
                changed=frozenset(changed),
            )
            del written
            clock.lap("derive")
            if derivation.stats.inserted or derivation.stats.closed:
                changed.add(ACCESS_RECORDS)
            # With the state in memory the rules read nothing written behind: they judge while
            # PostgreSQL takes in the last rows, and what they found is recorded after the block.
            judgement = (
                None
                if derivation.state is None
                else judge(snapshot, derivation, frozenset(changed), store.touched)
            )
            clock.lap("judge")
        clock.lap("written")  # the wait for the rows still behind
        stats["inserted"] += derivation.stats.inserted
        stats["closed"] += derivation.stats.closed
    except Exception as error:  # any failure leaves nothing visible and nothing half-written
        undo_snapshot_writes(cluster.pk, snapshot.seq)
        versions_memory.forget(cluster.pk)
        snapshot.counts, snapshot.rows_written = {}, {}  # nothing it counted was kept
        snapshot.status = Snapshot.Status.FAILED
        snapshot.error = _describe(error)
        logger.warning("snapshot %s failed: %s", snapshot, snapshot.error)
    else:
        snapshot.status = Snapshot.Status.PARTIAL if snapshot.unread else Snapshot.Status.COMPLETE
        snapshot.rows_written = stats
        _analyse(judgement or judge(snapshot, derivation, frozenset(changed), store.touched))
        clock.lap("analyse")
        refresh_after(stats["inserted"] + stats["closed"])
    snapshot.finished_at = timezone.now()
    snapshot.duration_seconds = round(time.monotonic() - started, 3)
    snapshot.save()
    if snapshot.is_visible:  # a failure was logged above, with its reason
        stages = ((snapshot.facts or {}).get("analysis") or {}).get("stage_seconds")
        analysis = f"; the analysis's {laps_text(stages)}" if stages else ""
        logger.info("%s; took %s%s", summary_line(snapshot), clock, analysis)


def summary_line(snapshot: Snapshot) -> str:
    """One line per snapshot for the log: what was read, what not, what was written and found.  The
    sources log their details at DEBUG."""
    read = ", ".join(f"{source} {n}" for source, n in snapshot.count_summary())
    parts = [
        f"snapshot {snapshot.cluster.name}#{snapshot.seq} {snapshot.status} in {snapshot.duration_seconds} s"
    ]
    parts.append(f"read {read or 'nothing'}")
    if snapshot.unread:
        parts.append(f"not read: {', '.join(sorted(snapshot.unread))}")
    written = snapshot.rows_written or {}
    parts.append(f"rows +{written.get('inserted', 0)} -{written.get('closed', 0)}")
    analysis = (snapshot.facts or {}).get("analysis") or {}
    said = {"opened": "opened", "reopened": "reopened", "resolved": "resolved", "held": "held open"}
    # A quiet snapshot reuses the previous analysis (its counts are that analysis'): nothing changed.
    changes = (
        []
        if analysis.get("reused")
        else [f"{analysis[key]} {w}" for key, w in said.items() if analysis.get(key)]
    )
    if changes:
        parts.append("findings " + ", ".join(changes))
    if snapshot.analysis_failure:
        parts.append(f"analysis incomplete: {snapshot.analysis_failure}")
    return "; ".join(parts)


def distrust_absence(cluster_id: int, collection: Collection, before_seq: int | None = None) -> None:
    """A kind the source found absent (its API not served) is unread if this cluster ever stored it.

    An API that answered before and now says 404 is far likelier a moment's fault than an
    uninstall, and believing it would close every version and resolve every finding resting on it.
    """
    if not collection.absent:
        return
    stored = InventoryObject.objects.filter(cluster_id=cluster_id, scope="", kind__in=list(collection.absent))
    if before_seq is not None:
        stored = stored.filter(valid_from__lt=before_seq)
    had = set(stored.values_list("kind", flat=True).distinct())
    if had & set(TRIDENT_KINDS):  # a cluster that had Trident: no Trident kind of it is believed absent
        had |= set(TRIDENT_KINDS)
    for kind in sorted(had & set(collection.absent)):
        reason = collection.absent.pop(kind)
        collection.objects.pop(kind, None)
        collection.unread[kind] = (
            f"{reason}, yet earlier snapshots stored {kind} objects: not read, not absent"
        )
    if had & set(TRIDENT_KINDS) and collection.facts.get("trident_installed") is False:
        collection.facts["trident_installed"] = None  # unknown, not "not installed"


def _analyse(judgement: Judgement) -> None:
    """Findings, paths and grades of what the rules judged.  The inventory stands whatever happens
    here: an analysis that fails is recorded and resolves nothing (the next snapshot analyses anew)."""
    snapshot = judgement.snapshot
    try:
        record(judgement)
    except Exception as error:
        logger.exception("analysis of snapshot %s failed", snapshot)
        snapshot.facts = {**(snapshot.facts or {}), "analysis": {"error": _describe(error), "failed": True}}


class _Store:
    """What a snapshot stores, kind by kind: each Kubernetes kind as a `KindByKindSource` hands it
    on (`kind`), the rest once the source has returned (`rest`)."""

    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        self.counts: dict[str, int] = {}
        self.with_nul: dict[str, int] = {}
        self.written: Written = {}
        self.changed: set[str] = set()
        # Kind -> the namespaces its writes touched (namespaced kinds and Namespace objects).
        self.touched: dict[str, frozenset[str]] = {}
        self.inserted = self.closed = 0

    def kind(self, kind: str, objects: list, current: Versions | None, kept: bool = True) -> None:
        """Store the objects of one Kubernetes kind read whole; `current`: its current versions, when
        the source read them already."""
        snapshot = self.snapshot
        prepared = prepare(kind, objects, kept=kept)
        self.counts[kind] = len(prepared)
        self.with_nul[kind] = sum(stored.nul_replaced for stored in prepared.values())
        stats = write_versions(snapshot.cluster_id, snapshot.seq, kind, prepared, current=current)
        self.written[("", kind)] = {key: stored.data for key, stored in prepared.items()}
        self.inserted += stats.inserted
        self.closed += stats.closed
        self.changed |= change_set_of(kind, stats, self.written[("", kind)])
        touched = namespaces_touched(kind, stats)
        if touched:
            self.touched[kind] = touched

    def rest(self, collection: Collection) -> tuple[dict, Written, set[str]]:
        """Store what was read and not stored yet; returns the rows written, the kept data of each
        kind stored (for the derivation and the analysis to use as they are rather than read back),
        and the change set: the kinds it wrote versions of (or only their fields that changed:
        inventory/field_changes.py), and ARRAY_RECORDS if any array's records changed."""
        snapshot = self.snapshot
        unread = {kind: reason for kind, reason in collection.unread.items() if kind in KIND_NAMES}
        for kind in KIND_NAMES:
            if kind not in collection.objects:
                unread.setdefault(kind, "not read")
            elif kind not in self.counts:
                self.kind(
                    kind, collection.objects[kind], collection.versions.get(("", kind)), collection.kept
                )
        array_counts, array_unread, array_stats = _store_arrays(
            snapshot, collection, self.with_nul, self.written
        )
        if collection.kept_reuse is not None:  # every form of this read is made: the next may reuse them
            collection.kept_reuse.remember()
        if array_stats.inserted or array_stats.closed:
            self.changed.add(ARRAY_RECORDS)
        counts = {kind: self.counts[kind] for kind in KIND_NAMES if kind in self.counts} | array_counts
        unread.update(array_unread)
        # What the source said may quote names and values too: stored with the same replacement.
        snapshot.counts = storable(counts)
        snapshot.unread = storable(unread)
        snapshot.facts = storable(collection.facts)
        snapshot.warnings = storable(collection.warnings) + _nul_warnings(snapshot, self.with_nul)
        stats = {
            "inserted": self.inserted + array_stats.inserted,
            "closed": self.closed + array_stats.closed,
            "deleted": 0,
        }
        return stats, self.written, self.changed


def _nul_warnings(snapshot: Snapshot, with_nul: dict[str, int]) -> list[str]:
    """One warning per kind holding NUL characters (logged once, not once per object)."""
    warnings = []
    for what, count in with_nul.items():
        if count:
            warnings.append(nul_warning(storable(what), count))
            logger.warning("snapshot %s: %s", snapshot, warnings[-1])
    return warnings


def _store_arrays(
    snapshot: Snapshot, collection: Collection, with_nul: dict[str, int], written: Written
) -> tuple[dict, dict, WriteStats]:
    """Store each array reading under the array's scope; an array no longer linked is emptied."""
    counts, unread, stats = {}, {}, WriteStats()
    array_facts = {
        array: reading.collection.facts
        for array, reading in collection.arrays.items()
        if reading.collection.facts
    }
    if array_facts:  # e.g. FC not served by an array, the Element API version
        collection.facts["arrays"] = array_facts
    for name, reading in collection.arrays.items():
        array = storable(name)  # a dump's backend file may name the array
        for array_kind in ARRAY_KINDS:
            if array_kind.family != reading.family:
                continue
            if array_kind.source_key not in reading.collection.objects:
                reason = reading.collection.unread.get(array_kind.source_key, "not read")
                unread[f"{array}:{array_kind.source_key}"] = reason
                continue
            current = current_versions(snapshot.cluster_id, array_kind.kind, array, snapshot.seq)
            records = reading.collection.objects[array_kind.source_key]
            prepared = prepare_array_records(array_kind, records, current, collection.kept_reuse, array)
            counts[f"{array}:{array_kind.kind}"] = len(prepared)
            with_nul[f"{array}:{array_kind.kind}"] = sum(stored.nul_replaced for stored in prepared.values())
            stats += write_versions(
                snapshot.cluster_id, snapshot.seq, array_kind.kind, prepared, scope=array, current=current
            )
            written[(array, array_kind.kind)] = {key: stored.data for key, stored in prepared.items()}
    read = {"", DERIVED_SCOPE, *map(storable, collection.arrays)}
    stored = sorted((scope, kind) for scope, kind in stored_kinds(snapshot.cluster_id) if scope not in read)
    missing = backends_unread(collection)
    for backend, reason in missing.items():  # even when a sibling's file held the same array's answers
        unread[f"backend {backend}"] = reason
    if (
        "TridentBackend" in collection.objects and not missing
    ):  # we know which arrays matter: forget the others
        for scope, kind in list(stored):
            stats += write_versions(snapshot.cluster_id, snapshot.seq, kind, {}, scope=scope)
            written[(scope, kind)] = {}
    else:  # which arrays matter is not known: those stored before were not read, not emptied
        why = (
            "not read: the TridentBackends that lead to it were not read"
            if "TridentBackend" not in collection.objects
            else f"not read: the array answers of Trident backend(s) {', '.join(sorted(missing))} are missing"
        )
        for scope in sorted({scope for scope, _ in stored}):
            unread[f"{scope}:*"] = why
    return counts, unread, stats


def _describe(error: Exception) -> str:
    if isinstance(error, SourceError):
        return storable(str(error))
    return storable(f"{type(error).__name__}: {error}")
