"""The embedded scheduler: without a broker, run the beat schedule's tasks in-process.

In production `celery beat` plays this part; here a daemon thread runs each entry of
CELERY_BEAT_SCHEDULE (the snapshot dispatcher, the digest dispatcher) on its interval, and the
tasks they queue run eagerly (CELERY_TASK_ALWAYS_EAGER) in this thread.  Tasks are found by name in
the Celery app, so this module imports no app above the inventory.
"""

import logging
import threading
import time

from celery import current_app
from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)


class EmbeddedScheduler:
    def __init__(self, tick_seconds: float = 30.0):
        self.tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="embedded-scheduler", daemon=True)
        self._last_run: dict[str, float] = {}
        current_app.loader.import_default_modules()  # every app's tasks module, as a worker loads them

    def start(self) -> "EmbeddedScheduler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def run_due(self) -> list[str]:
        """Run every schedule entry whose interval has passed since it last ran (each on the first
        tick); returns their names."""
        ran = []
        for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
            started = time.monotonic()
            last = self._last_run.get(name)
            # Half a tick early is on time: a 60 s entry ticked every 30 s runs every 60 s, not 90.
            if last is not None and started - last < float(entry["schedule"]) - self.tick_seconds / 2:
                continue
            self._last_run[name] = started
            ran.append(name)
            try:
                current_app.tasks[entry["task"]]()
            except Exception:  # keep ticking: one failing dispatcher must not stop the others
                logger.exception("scheduled %s failed", name)
            finally:
                close_old_connections()
        return ran

    def _run(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            self._stop.wait(self.tick_seconds)
