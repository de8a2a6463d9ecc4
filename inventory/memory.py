"""Giving a snapshot's memory back once it is done.

A snapshot of a large cluster builds hundreds of megabytes of small objects and frees them at its
end, but CPython's allocator and glibc keep the freed pages: the worker would sit at its high-water
mark until the next snapshot, and that one would start from there.  Collecting the cycles and
asking glibc to trim its heap returns them to the system between snapshots.
"""

import ctypes
import ctypes.util
import gc


def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to trim with
        return None


_TRIM = _malloc_trim()


def release_freed_memory() -> None:
    gc.collect()
    if _TRIM is not None:
        _TRIM(0)
