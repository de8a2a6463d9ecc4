"""The per-cluster lease: at most one run snapshots a cluster, and a dead run's hold lapses quickly.

A run takes its cluster's `ClusterLease` row with a conditional UPDATE (free, or expired), then a
heartbeat thread renews it every sixth of `SNAPSHOT_LEASE_SECONDS`.  A killed worker stops renewing,
so its lease lapses within one lease length and the next run (the dispatcher restarts the dead one)
may take over and undo what it half wrote.

A run that could not renew for three quarters of a lease, or whose lease was taken over, is fenced:
every query it makes from then on raises `LeaseLost`, so a stalled run that wakes up cannot write
over the history of the run that replaced it.  The database is the only source of truth: nothing
here relies on the broker.
"""

import logging
import os
import secrets
import socket
import threading
import time
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection, connections
from django.db.models import Q
from django.utils import timezone

from inventory.models import ClusterLease

logger = logging.getLogger(__name__)

RENEWALS_PER_LEASE = 6  # a few missed renewals (a slow database) do not lose the lease
FENCE_AFTER = 0.75  # of a lease without a renewal: stop before anyone may take the lease over


class LeaseLost(RuntimeError):
    """This run no longer owns its cluster: another run may be writing its history."""


class ClusterBusy(RuntimeError):
    """Another live run holds the cluster's lease; this one was turned away (not a failure)."""


def lease_seconds() -> float:
    return float(settings.SNAPSHOT_LEASE_SECONDS)


def lease_alive(cluster_id: int, now=None) -> bool:
    now = now or timezone.now()
    return ClusterLease.objects.filter(cluster_id=cluster_id, expires_at__gt=now).exists()


def try_acquire(cluster_id: int) -> str | None:
    """The holder name if this run now holds the cluster's lease, else None (a live run holds it)."""
    ClusterLease.objects.get_or_create(cluster_id=cluster_id)
    holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(6)}"
    now = timezone.now()
    taken = (
        ClusterLease.objects.filter(cluster_id=cluster_id)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__lte=now))
        .update(holder=holder, acquired_at=now, expires_at=now + timedelta(seconds=lease_seconds()))
    )
    return holder if taken == 1 else None


def renew(cluster_id: int, holder: str) -> bool:
    expires_at = timezone.now() + timedelta(seconds=lease_seconds())
    renewed = ClusterLease.objects.filter(cluster_id=cluster_id, holder=holder).update(expires_at=expires_at)
    return renewed == 1


def release(cluster_id: int, holder: str) -> None:
    ClusterLease.objects.filter(cluster_id=cluster_id, holder=holder).update(
        holder="", expires_at=timezone.now()
    )


class Heartbeat:
    """Renews a held lease from a thread of its own (own database connection) and fences the run."""

    def __init__(self, cluster_id: int, holder: str):
        self.cluster_id = cluster_id
        self.holder = holder
        self.lost = False
        self._renewed(time.monotonic())
        self._renewing_inline = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{cluster_id}", daemon=True)

    def _renewed(self, sent: float) -> None:
        if sent + FENCE_AFTER * lease_seconds() > getattr(self, "_deadline", 0.0):  # either thread
            self._renew_inline_after = sent + lease_seconds() / 2
            self._deadline = sent + FENCE_AFTER * lease_seconds()

    def _renew_inline(self) -> None:
        """The run renews through its own connection when the heartbeat fell behind: the heartbeat
        may be waiting on a long transaction of this run (SQLite locks the whole database).  Inside
        that transaction the renewal is not visible yet, but it holds the lease row, so no one can
        take the lease over before it commits."""
        self._renewing_inline = True
        try:
            sent = time.monotonic()
            if renew(self.cluster_id, self.holder):
                self._renewed(sent)
            else:
                self.lost = True
        finally:
            self._renewing_inline = False

    def fence(self, execute, sql, params, many, context):
        """A database execute wrapper: no query once the lease may belong to someone else."""
        if self._renewing_inline:
            return execute(sql, params, many, context)
        if not self.lost and self._renew_inline_after < time.monotonic() <= self._deadline:
            self._renew_inline()
        if self.lost or time.monotonic() > self._deadline:
            self.lost = True
            raise LeaseLost(f"the lease on cluster {self.cluster_id} lapsed or was taken over; stopping")
        return execute(sql, params, many, context)

    def _run(self) -> None:
        interval = lease_seconds() / RENEWALS_PER_LEASE
        try:
            while not self._stop.wait(interval):
                sent = time.monotonic()
                try:
                    renewed = renew(self.cluster_id, self.holder)
                except Exception:  # a database hiccup: try again next beat; the fence guards the rest
                    logger.warning("could not renew the lease on cluster %s", self.cluster_id, exc_info=True)
                    continue
                if not renewed:
                    logger.error("the lease on cluster %s was taken over; fencing this run", self.cluster_id)
                    self.lost = True
                    return
                self._renewed(sent)
        finally:
            connections.close_all()  # this thread's connections only

    @contextmanager
    def running(self):
        self._thread.start()
        try:
            with connection.execute_wrapper(self.fence):
                yield self
        finally:
            self._stop.set()
            self._thread.join()


@contextmanager
def cluster_lease(cluster_id: int, name: str = ""):
    """Hold the cluster's lease for the block, renewed by a heartbeat; raises ClusterBusy if a live
    run holds it.  Inside a caller's transaction the lease row stays locked until it commits, so no
    heartbeat (which could not see the row) runs."""
    holder = try_acquire(cluster_id)
    if holder is None:
        raise ClusterBusy(f"cluster {name or cluster_id} is being snapshotted by another run")
    try:
        if connection.in_atomic_block:
            yield None
        else:
            with Heartbeat(cluster_id, holder).running() as heartbeat:
                yield heartbeat
    finally:
        release(cluster_id, holder)  # conditional: a lease taken over stays with its new holder
