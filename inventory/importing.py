"""Offline import: a dump directory becomes a snapshot of a (possibly new, offline) cluster."""

from datetime import datetime
from pathlib import Path

from django.utils import timezone

from arrays.array_reading import attach_dumped_arrays
from arrays.sources.backend_dump import read_backends
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.snapshotting import queue_snapshot
from inventory.sources import SourceError
from inventory.sources.dump import read_dump
from inventory.state import DERIVED_SCOPE
from inventory.tasks import snapshot_now


def import_dump(cluster_name: str, directory: str | Path, taken_at: datetime | None = None) -> Snapshot:
    """Import `directory` as a snapshot; a bad dump raises before anything is stored."""
    collection = read_dump(directory)  # validates every file first: errors store nothing
    dumped_arrays = read_backends(directory)
    taken_at = taken_at or timezone.now()
    cluster = Cluster.objects.filter(name=cluster_name).first()
    if cluster is not None:
        latest = cluster.snapshots.filter(status__in=Snapshot.VISIBLE).order_by("-taken_at").first()
        if latest is not None and taken_at < latest.taken_at:
            raise SourceError(
                f"refused: the dump is dated {taken_at.isoformat()}, before the cluster's latest snapshot "
                f"#{latest.seq} of {latest.taken_at.isoformat()}; history only moves forward"
            )
    else:
        cluster = Cluster.objects.create(name=cluster_name, source=Cluster.Source.OFFLINE)
    # Once a cluster has array records, a dump without them has not read them (it does not prove them gone).
    had_arrays = (
        InventoryObject.objects.current()
        .filter(cluster=cluster)
        .exclude(scope__in=["", DERIVED_SCOPE])
        .exists()
    )
    if "TridentBackend" in collection.objects or dumped_arrays:
        attach_dumped_arrays(collection, dumped_arrays, arrays_expected=bool(dumped_arrays) or had_arrays)
    snapshot = queue_snapshot(cluster, taken_at=taken_at, origin=Snapshot.Origin.DUMP)
    return snapshot_now(cluster, snapshot, source=lambda: collection)
