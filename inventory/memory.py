"""Giving a snapshot's memory back once it is done.

A snapshot of a large cluster builds hundreds of megabytes of small objects and frees them at its
end, but CPython's allocator and glibc keep the freed pages: the worker would sit at its high-water
mark until the next snapshot, and that one would start from there.  Collecting the cycles and
asking glibc to trim its heap returns them to the system between snapshots.

What survives a snapshot is mostly what the worker remembers of its clusters for the next one
(kept forms, the derivation's and the analysis's work: inventory/cluster_memory.py), millions of
containers at the bench scale that hold no cycles: each collection rescanned them all, about 5 s
after every bench-scale snapshot.  So what survives a collection is frozen out of the collector's
reach; the next collection scans only what was made since.  Frozen objects are still freed when
their last reference goes; only a cycle among them would wait, so every `FULL_EVERY`-th release
unfreezes everything first and collects the whole heap.
"""

import ctypes
import ctypes.util
import gc
import threading

FULL_EVERY = 24

_lock = threading.Lock()  # the embedded mode runs snapshot tasks in threads of one process
_since_full = 0


def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim with
        return None


_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    global _since_full
    with _lock:
        _since_full += 1
        if _since_full >= FULL_EVERY:
            _since_full = 0
            gc.unfreeze()
        gc.collect()
        gc.freeze()
    if _TRIM is not None:
        _TRIM(0)
