"""The cyclic garbage collector paused while a request is answered.

A page at the bench scale decodes and builds hundreds of thousands of acyclic containers (rows,
findings' JSON, paths, template contexts): with the collector on, they trigger full collections
that each rescan all of them, 70 to 230 ms a request, which made most of the key pages' 95th
percentile (BENCHMARKS.md).  Reference counting frees what a request leaves; the few cycles it
makes wait for the next collection after the last request in progress ends.  Shared with the
snapshot runs' pause (inventory/sources/parsing.py), so that threads of one process never resume
it under each other.
"""

from inventory.sources.parsing import gc_paused


class CollectorPausedDuringRequest:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with gc_paused():
            return self.get_response(request)
