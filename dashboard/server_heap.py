"""A serving process's heap, settled once it has loaded the pages: what is alive then (Django, every
view, plotly, the array and Kubernetes libraries: 130,000 to 150,000 containers) is frozen out of
the cyclic collector's reach.

The collector is paused while a request is answered (dashboard/collector_pause.py), and collects
between requests.  Each full collection rescanned this whole startup heap: 124 to 156 ms in a
fresh process on the bench's database, about 0 with it frozen (BENCHMARKS.md).  The startup heap
holds no garbage to collect (modules, classes, settings, the URL configuration); what the process
builds later is collected as before.
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
