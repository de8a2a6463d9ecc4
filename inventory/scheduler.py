"""The embedded scheduler: without a broker, run the same dispatch task in-process.

In production `celery beat` plays this part; here a daemon thread ticks the dispatcher, whose
tasks run eagerly (CELERY_TASK_ALWAYS_EAGER) in this thread.
"""

import logging
import threading

from django.db import close_old_connections

from inventory.tasks import dispatch_due_snapshots

logger = logging.getLogger(__name__)


class EmbeddedScheduler:
    def __init__(self, tick_seconds: float = 30.0):
        self.tick_seconds = tick_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="embedded-scheduler", daemon=True)

    def start(self) -> "EmbeddedScheduler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                dispatch_due_snapshots()
            except Exception:  # keep ticking: one bad cluster must not stop the others' schedule
                logger.exception("scheduled snapshot dispatch failed")
            finally:
                close_old_connections()
            self._stop.wait(self.tick_seconds)
