"""The built-in demo: a simulated cluster served over real HTTP, with a month of history.

While no real cluster is registered, `make run` starts the simulator on a loopback port,
registers it as the cluster "demo" (replacing the previous run's), and backfills past-dated
snapshots of the evolving simulation through the real pipeline (HTTP source, history store),
each stamped with the simulator's clock.  Then the simulator follows wall-clock time and the
scheduler keeps snapshotting it like any cluster.
"""

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from arrays.models import Array
from inventory.models import Cluster
from inventory.snapshotting import queue_snapshot
from inventory.tasks import snapshot_now

logger = logging.getLogger(__name__)

DEMO_NAME = "demo"
DEMO_TENANT_LABEL = "capsule.clastix.io/tenant"
DEMO_OWNER_KEYS = ["owner.example.com/email", "owner.example.com/group"]
BACKFILL_DAYS = 30
BACKFILL_STEP = timedelta(hours=6)
DEMO_INTERVAL_MINUTES = 5
# The admin's one-time confirmation of the node agents (Trident, the CNI, the log shipper) as platform.
DEMO_PLATFORM_NAMESPACES = ["kube-system", "trident", "calico-system", "logging"]


@dataclass
class BackfillProgress:
    total: int = 0
    done: int = 0
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def filling(self) -> bool:
        return not self.finished.is_set()


progress = BackfillProgress()
progress.finished.set()  # nothing to fill until a demo starts


def real_cluster_registered() -> bool:
    return Cluster.objects.exclude(source__in=[Cluster.Source.DEMO]).exists()


def retire() -> bool:
    """Remove the demo's cluster, history and arrays: its simulator is gone once a real cluster is
    registered, and its endpoints are dead loopback ports.  Returns whether there was one."""
    removed, _ = Cluster.objects.filter(source=Cluster.Source.DEMO).delete()
    Array.objects.filter(demo=True).delete()
    return bool(removed)


class Demo:
    def __init__(
        self,
        data_dir: Path,
        *,
        seed: int = 0,
        scale="demo",
        now: datetime | None = None,
        days: int = BACKFILL_DAYS,
        step: timedelta = BACKFILL_STEP,
    ):
        from simulator.serving import SimulatedEstate
        from simulator.world import Simulation

        self.now = now or timezone.now()
        self.days = days
        self.step = step
        self.start_time = (self.now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
        self.simulation = Simulation(seed=seed, scale=scale, start=self.start_time)
        # The arrays' credential files go where the product may read credentials from.
        self.estate = SimulatedEstate(
            self.simulation,
            Path(data_dir) / "demo",
            credentials_dir=Path(settings.ARRAY_CREDENTIALS_DIR) / "demo",
        )
        self._stop = threading.Event()

    @property
    def server(self):
        return self.estate.kubernetes

    def start(self) -> "Demo":
        self.estate.start()
        self.cluster = self._register()
        progress.finished.clear()
        threading.Thread(target=self._backfill_then_follow_clock, name="demo-clock", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.estate.stop()

    def snapshot_once(self):
        """Serve the simulation just long enough for one snapshot of it as it is now (the command line)."""
        self.estate.start()
        try:
            cluster = self._register()
            self.simulation.advance_to(self.now)
            return snapshot_now(cluster, queue_snapshot(cluster, taken_at=self.now))
        finally:
            self.estate.stop()

    def _register(self) -> Cluster:
        # Restarted on every run: the previous demo's history belongs to a simulation that is gone.
        Cluster.objects.filter(source=Cluster.Source.DEMO).delete()
        Array.objects.filter(demo=True).delete()
        for served in self.estate.arrays:
            Array.objects.create(**served.array_settings(), demo=True)
        return Cluster.objects.create(
            name=DEMO_NAME,
            source=Cluster.Source.DEMO,
            kubeconfig_path=str(self.estate.kubeconfig),
            interval_minutes=DEMO_INTERVAL_MINUTES,
            tenant_label=DEMO_TENANT_LABEL,
            owner_keys=DEMO_OWNER_KEYS,
            platform_namespaces=DEMO_PLATFORM_NAMESPACES,
            # Keep the scheduler off the demo until the backfill has written the past.
            enabled=False,
        )

    def backfill_times(self) -> list[datetime]:
        times, when = [], self.start_time
        while when < self.now:
            times.append(when)
            when += self.step
        return times

    def _backfill_then_follow_clock(self) -> None:
        try:
            times = self.backfill_times()
            progress.total, progress.done = len(times), 0
            for when in times:
                if self._stop.is_set():
                    return
                self.simulation.advance_to(when)
                snapshot_now(self.cluster, queue_snapshot(self.cluster, taken_at=when))
                progress.done += 1
            Cluster.objects.filter(pk=self.cluster.pk).update(enabled=True)
            logger.info("demo history complete: %d snapshots over %d days", progress.done, self.days)
        except Exception:
            logger.exception("demo backfill failed")
        finally:
            progress.finished.set()
            close_old_connections()
        while not self._stop.wait(15):  # from now on the simulation follows the wall clock
            self.simulation.advance_to(timezone.now())
