"""Celery tasks: a dispatcher that queues each cluster on its own interval, and the snapshot task.

Production: `celery beat` runs `dispatch_due_snapshots` every minute and workers run
`snapshot_cluster`.  The embedded default (no broker) runs the very same functions in-process
(see inventory/scheduler.py).  A per-cluster lock, a conditional UPDATE on the cluster row,
guarantees two workers never snapshot one cluster at once, and expires so a dead worker
cannot hold a cluster forever.
"""

import logging
import secrets
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from .array_reading import read_arrays
from .models import Cluster, Snapshot
from .snapshotting import queue_snapshot, run_snapshot

logger = logging.getLogger(__name__)


def lock_ttl() -> timedelta:
    # Outlives the hard time limit (by a margin for workers' clocks that disagree, at most a minute),
    # so a lock is never released under a still-running task, yet a short limit means a short lock.
    limit = settings.CELERY_TASK_TIME_LIMIT
    return timedelta(seconds=limit + min(60, limit))


def acquire_cluster_lock(cluster_id: int) -> str | None:
    token = secrets.token_hex(16)
    now = timezone.now()
    taken = (
        Cluster.objects.filter(pk=cluster_id)
        .filter(Q(lock_expires_at__isnull=True) | Q(lock_expires_at__lt=now))
        .update(lock_token=token, lock_expires_at=now + lock_ttl())
    )
    return token if taken == 1 else None


def release_cluster_lock(cluster_id: int, token: str) -> None:
    Cluster.objects.filter(pk=cluster_id, lock_token=token).update(lock_token="", lock_expires_at=None)


def live_source(cluster: Cluster):
    """The callable that reads a registered cluster through its Kubernetes API, then the arrays
    its Trident backends use (only those an admin configured)."""
    from .sources.kubernetes import api_client_from_kubeconfig, collect_kubernetes

    def read():
        client = api_client_from_kubeconfig(
            cluster.kubeconfig_path or None,
            cluster.context or None,
            in_cluster=cluster.source == Cluster.Source.IN_CLUSTER,
        )
        with client:
            collection = collect_kubernetes(client)
        read_arrays(cluster, collection)
        return collection

    return read


def snapshot_now(cluster: Cluster, snapshot: Snapshot | None = None, source=None) -> Snapshot:
    """Take one snapshot of `cluster` under its lock; the queued snapshot is failed if the lock is busy.

    Only a snapshot that is still queued runs.  A task redelivered after its worker died (acks_late)
    finds its snapshot running, or failed by the later run that undid its writes, and leaves it be:
    running it now would write an old sequence number over newer history.
    """
    snapshot = snapshot or queue_snapshot(cluster)
    token = acquire_cluster_lock(cluster.pk)
    if token is None:
        # Conditional: a dead run's snapshot must stay running until the run that undoes it fails it.
        Snapshot.objects.filter(pk=snapshot.pk, status=Snapshot.Status.QUEUED).update(
            status=Snapshot.Status.FAILED,
            error="skipped: another worker is snapshotting this cluster",
            finished_at=timezone.now(),
        )
        snapshot.refresh_from_db()
        return snapshot
    try:
        snapshot.refresh_from_db()
        if snapshot.status != Snapshot.Status.QUEUED:
            logger.warning("not running %s again: it is %s already", snapshot, snapshot.status)
            return snapshot
        return run_snapshot(snapshot, source or live_source(cluster))
    finally:
        release_cluster_lock(cluster.pk, token)


@shared_task(name="inventory.tasks.snapshot_cluster", acks_late=True)
def snapshot_cluster(cluster_id: int, snapshot_id: int | None = None) -> dict:
    cluster = Cluster.objects.get(pk=cluster_id)
    snapshot = Snapshot.objects.get(pk=snapshot_id) if snapshot_id else None
    done = snapshot_now(cluster, snapshot)
    return {"snapshot": done.pk, "seq": done.seq, "status": done.status}


def due_clusters(now=None):
    """Live clusters whose last snapshot (of any outcome) is older than their interval."""
    now = now or timezone.now()
    for cluster in Cluster.objects.filter(enabled=True).exclude(source=Cluster.Source.OFFLINE):
        last = cluster.snapshots.order_by("-seq").values_list("taken_at", "status").first()
        if last is None:
            yield cluster
            continue
        taken_at, status = last
        # A queued/running run older than the lock's lifetime belongs to a dead worker.
        pending = status in (Snapshot.Status.QUEUED, Snapshot.Status.RUNNING) and taken_at > now - lock_ttl()
        if not pending and taken_at <= now - timedelta(minutes=cluster.interval_minutes):
            yield cluster


@shared_task(name="inventory.tasks.dispatch_due_snapshots")
def dispatch_due_snapshots() -> list[int]:
    queued = []
    for cluster in due_clusters():
        snapshot = queue_snapshot(cluster)
        snapshot_cluster.delay(cluster.pk, snapshot.pk)
        queued.append(snapshot.pk)
    return queued
