"""Celery tasks: a dispatcher that queues each cluster on its own interval, and the snapshot task.

Production: `celery beat` runs `dispatch_due_snapshots` every DISPATCH_INTERVAL_SECONDS and workers
run `snapshot_cluster`.  The embedded default (no broker) runs the very same functions in-process
(see inventory/scheduler.py).  A run holds its cluster's lease (inventory/lease.py) so two runs
never snapshot one cluster at once; a killed run's lease lapses within SNAPSHOT_LEASE_SECONDS.

The database, not the broker, says what is due: a snapshot whose task was lost (Redis restarted
empty) or whose run died is sent again by the next tick, so nothing waits on a message.
"""

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from arrays.array_reading import read_arrays
from inventory.history import StoredForms, undo_snapshot_writes
from inventory.lease import ClusterBusy, cluster_lease
from inventory.memory import release_freed_memory
from inventory.models import Cluster, ClusterLease, Snapshot
from inventory.snapshotting import queue_snapshot, run_snapshot
from inventory.sources import Collection, KindByKindSource, KindRead

logger = logging.getLogger(__name__)

# A snapshot whose run died this many times (e.g. killed for memory each time) is given up; the
# cluster is then due again on its interval.
MAX_ATTEMPTS = 3
UNFINISHED = (Snapshot.Status.QUEUED, Snapshot.Status.RUNNING)


class LiveSource(KindByKindSource):
    """Reads a registered cluster through its Kubernetes API, then the arrays its Trident backends
    use (only those an admin configured).  Each Kubernetes kind is handed to `kind_read` as soon as
    it is read whole, with the current versions its stored forms were judged against."""

    def __init__(self, cluster: Cluster, seq: int | None = None):
        self.cluster = cluster
        self.seq = seq  # the snapshot it reads for: this worker may remember its current versions

    def __call__(self, kind_read: KindRead | None = None) -> Collection:
        from inventory.sources.kubernetes import api_client_from_kubeconfig, collect_kubernetes

        cluster = self.cluster
        client = api_client_from_kubeconfig(
            cluster.kubeconfig_path or None,
            cluster.context or None,
            in_cluster=cluster.source == Cluster.Source.IN_CLUSTER,
        )
        forms = StoredForms(cluster.pk, self.seq)
        handed_on = (lambda kind, kept: kind_read(kind, kept, forms.current.get(kind))) if kind_read else None
        with client:  # each object reduced to its stored form (kept fields, digest) as its page arrives
            collection = collect_kubernetes(
                client, reduce=forms, kind_read=handed_on, backoff_base=settings.KUBERNETES_RETRY_SECONDS
            )
        collection.versions = {("", kind): versions for kind, versions in forms.current.items()}
        collection.kept_reuse = forms.reuse  # remembered once the arrays' records are stored too
        read_arrays(cluster, collection)
        return collection


def snapshot_now(cluster: Cluster, snapshot: Snapshot | None = None, source=None) -> Snapshot:
    """Take one snapshot of `cluster` under its lease; raises ClusterBusy if a live run holds it
    (nothing is recorded then: being turned away is not a failed snapshot).

    `snapshot` is a queued one to run, or a running one whose run died (its task redelivered or sent
    again): holding the lease proves no one runs it, so it is undone and restarted.  A finished one
    (a duplicate task) is left be.
    """
    with cluster_lease(cluster.pk, cluster.name):
        snapshot = snapshot or queue_snapshot(cluster)
        snapshot.refresh_from_db()
        if snapshot.status not in UNFINISHED:
            logger.info("not running %s again: it is %s already", snapshot, snapshot.status)
            return snapshot
        if snapshot.status == Snapshot.Status.RUNNING:
            undo_snapshot_writes(cluster.pk, snapshot.seq)
            # A dead import cannot be read again: its dump is not ours to re-read.
            cannot_reread = source is None and snapshot.origin != Snapshot.Origin.LIVE
            if snapshot.attempts >= MAX_ATTEMPTS or cannot_reread:
                return _give_up(snapshot)
            logger.warning("restarting %s: its run died (attempt %d)", snapshot, snapshot.attempts + 1)
        snapshot.attempts += 1
        snapshot.save(update_fields=["attempts"])
        try:
            return run_snapshot(snapshot, source or LiveSource(cluster, snapshot.seq))
        except (KeyboardInterrupt, SystemExit):  # stopped (SIGTERM in `manage.py snapshot`): clean up now
            undo_snapshot_writes(cluster.pk, snapshot.seq)
            _give_up(snapshot, "stopped before finishing")
            raise


def _give_up(snapshot: Snapshot, why: str = "") -> Snapshot:
    snapshot.status = Snapshot.Status.FAILED
    why = why or f"its run died {snapshot.attempts} times"
    snapshot.error = f"interrupted: {why}; its writes were undone"
    snapshot.finished_at = timezone.now()
    snapshot.save(update_fields=["status", "error", "finished_at"])
    return snapshot


@shared_task(name="inventory.tasks.snapshot_cluster", acks_late=True)
def snapshot_cluster(cluster_id: int, snapshot_id: int | None = None) -> dict:
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    snapshot = Snapshot.objects.filter(pk=snapshot_id).first() if snapshot_id else None
    if cluster is None or (snapshot_id and snapshot is None):
        logger.info("cluster %s / snapshot %s no longer exists: nothing to do", cluster_id, snapshot_id)
        return {"snapshot": snapshot_id, "status": "gone"}
    try:
        done = snapshot_now(cluster, snapshot)
    except ClusterBusy:
        # Another run holds the cluster: a log line, not a failed snapshot.  If that run dies, the
        # dispatcher sends this snapshot again once its lease lapses.
        logger.info("turned away: cluster %s is being snapshotted by another run", cluster.name)
        return {"snapshot": snapshot_id, "status": "busy"}
    finally:
        release_freed_memory()  # the next snapshot starts from the idle worker's size, not this one's peak
    return {"snapshot": done.pk, "seq": done.seq, "status": done.status}


def resend_after() -> timedelta:
    """How long a queued snapshot may wait for a worker before its task counts as lost (and how long
    a sent task lives: an older copy expires rather than piling up while no worker runs)."""
    return timedelta(seconds=2 * settings.DISPATCH_INTERVAL_SECONDS)


def to_dispatch(cluster: Cluster, now) -> Snapshot | None:
    """What the database says `cluster` needs now: nothing while a live run holds its lease; its
    latest snapshot again when that never finished (its task was lost, or its run died); otherwise a
    new snapshot once its interval has passed since the latest."""
    lease = ClusterLease.objects.filter(cluster=cluster).first()
    if lease and lease.expires_at and lease.expires_at > now:
        return None
    latest = cluster.snapshots.order_by("-seq").first()
    if latest is None:
        return queue_snapshot(cluster)
    if latest.status in UNFINISHED and latest.origin == Snapshot.Origin.LIVE:
        sent = latest.dispatched_at
        lapsed_at = lease.expires_at if lease else None
        never_sent_since_it_died = latest.status == Snapshot.Status.RUNNING and (
            sent is None or lapsed_at is None or sent < lapsed_at
        )
        if sent is None or sent <= now - resend_after() or never_sent_since_it_died:
            return latest
        return None
    if latest.taken_at <= now - timedelta(minutes=cluster.interval_minutes):
        return queue_snapshot(cluster)
    return None


@shared_task(name="inventory.tasks.dispatch_due_snapshots")
def dispatch_due_snapshots() -> list[int]:
    sent = []
    for cluster in Cluster.objects.filter(enabled=True).exclude(source=Cluster.Source.OFFLINE):
        now = timezone.now()
        try:
            snapshot = to_dispatch(cluster, now)
            if snapshot is None:
                continue
            # Marked sent first: if sending fails, the snapshot is sent again like a lost one.
            Snapshot.objects.filter(pk=snapshot.pk).update(dispatched_at=now)
            snapshot_cluster.apply_async((cluster.pk, snapshot.pk), expires=resend_after().total_seconds())
        except Exception:  # one cluster's trouble must not stop the others' schedule
            logger.exception("could not dispatch a snapshot of %s", cluster.name)
            continue
        sent.append(snapshot.pk)
    return sent
