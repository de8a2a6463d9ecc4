"""The cyclic garbage collector paused while a request is answered.

A page at the bench scale decodes and builds hundreds of thousands of acyclic containers (rows,
findings' JSON, paths, template contexts): with the collector on, they trigger full collections
that each rescan all of them, 70 to 230 ms a request, which made most of the key pages' 95th
percentile (BENCHMARKS.md).  Shared with the snapshot runs' pause (inventory/sources/parsing.py),
so that threads of one process never resume it under each other.

Reference counting frees most of what a request leaves, not all: a DRF response, its view, its
request and its serializers refer to each other and to what they wrote out (on a page of the
findings API, 14,000 containers in cycles).  Left to the collector's own schedule, ten requests'
worth was freed at once inside a later request: 190 ms.  So each request first collects the young
generations, which hold what the requests before it left: a few milliseconds, every time.
"""

import gc

from inventory.sources.parsing import gc_paused


class CollectorPausedDuringRequest:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # Not while a snapshot run (or another request) of this process has the collector paused: its
        # young generation then holds everything that run has built.
        if gc.isenabled():
            gc.collect(1)
        with gc_paused():
            return self.get_response(request)
