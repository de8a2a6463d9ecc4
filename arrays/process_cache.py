"""Values a worker process keeps from one snapshot to the next, found by their content.

A worker runs snapshot after snapshot, of one cluster or of several: what is a function of content
alone (an export policy read from its rules, a chain of rules evaluated against a node set) is
the same whichever snapshot or cluster asks for it, so it is kept under a key made of that
content, never of a cluster or a snapshot.  Bounded: the least recently used values go first.
"""

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class BoundedCache(Generic[V]):
    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._values: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()  # the embedded scheduler may run two snapshots in threads

    def get_or_make(self, key: Hashable, make: Callable[[], V]) -> V:
        """The value kept under `key`, or the one `make()` returns, kept from now on."""
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
                return value
        value = make()  # outside the lock: another thread may make the same value meanwhile
        with self._lock:
            self._values[key] = value
            while len(self._values) > self.maxsize:
                self._values.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._values)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
