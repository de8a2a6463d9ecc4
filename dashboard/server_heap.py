"""A serving process's heap, settled once it has loaded the pages: what is alive then (Django, every
view, plotly, the array and Kubernetes libraries: about 190,000 containers) is frozen out of the
cyclic collector's reach.

The collector is paused while a request is answered (dashboard/collector_pause.py).  As it resumes
after a request, the collection that follows scanned this whole startup heap whenever it was a full
one: 100 to 240 ms at the bench scale, spent before the response went out (BENCHMARKS.md).  Frozen,
the startup heap is never scanned again; it holds no garbage to collect (modules, classes, settings,
the URL configuration), and what the process builds later is collected as before.
"""

import gc

from django.urls import get_resolver


def settle_heap() -> int:
    """Import what the pages import, collect once, and freeze what is left; returns how many objects
    are frozen."""
    get_resolver().url_patterns  # noqa: B018 (the URL configuration imports every view, and plotly)
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
