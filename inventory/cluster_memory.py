"""What a worker process keeps of its last snapshot of a cluster, for the next snapshot of it.

A worker keeps it for at most `settings.KEPT_FORMS_REUSED_CLUSTERS` clusters (0: none), the
cluster snapshotted longest ago forgotten first.  Every user of it checks what it finds against
the snapshot at hand before reusing any of it, so a memory that is stale costs time, never a
wrong answer.
"""

import threading
from collections import OrderedDict
from typing import Generic, TypeVar

from django.conf import settings

V = TypeVar("V")

_ALL: "list[ClusterMemory]" = []  # every memory (module globals, made once each)


class ClusterMemory(Generic[V]):
    def __init__(self):
        self._kept: OrderedDict[int, V] = OrderedDict()
        self._lock = threading.Lock()  # the embedded mode snapshots clusters in threads of one process
        _ALL.append(self)

    def get(self, cluster_id: int, default: V | None = None) -> V | None:
        with self._lock:
            return self._kept.get(cluster_id, default)

    def put(self, cluster_id: int, value: V) -> None:
        limit = settings.KEPT_FORMS_REUSED_CLUSTERS
        if limit <= 0:
            return
        with self._lock:
            self._kept[cluster_id] = value
            self._kept.move_to_end(cluster_id)
            while len(self._kept) > limit:
                self._kept.popitem(last=False)  # the cluster snapshotted longest ago

    def pop(self, cluster_id: int) -> V | None:
        with self._lock:
            return self._kept.pop(cluster_id, None)

    def clear(self) -> None:
        with self._lock:
            self._kept.clear()


def forget_all() -> None:
    """Drop everything every memory keeps (tests: a new database reuses cluster ids)."""
    for memory in _ALL:
        memory.clear()
