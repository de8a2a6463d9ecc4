"""The cyclic collector is paused while a request is answered and while a snapshot runs, across the
threads of one process (dashboard/collector_pause.py, inventory/sources/parsing.py)."""

import gc
import subprocess
import sys
import threading
import weakref

import pytest
from django.conf import settings
from django.http import HttpResponse

from dashboard.collector_pause import CollectorPausedDuringRequest
from dashboard.management.commands.serve import DashboardServer
from dashboard.server_heap import settle_heap
from inventory.sources.parsing import gc_paused


@pytest.fixture(autouse=True)
def collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    (gc.enable if was else gc.disable)()


def test_a_request_runs_with_the_collector_paused_and_resumes_it():
    seen = []
    middleware = CollectorPausedDuringRequest(lambda request: seen.append(gc.isenabled()) or HttpResponse())
    middleware(object())
    assert seen == [False] and gc.isenabled()


class _Cycle:
    def __init__(self):
        self.me = self


def _garbage_in_the_middle_generation() -> weakref.ref:
    """A reference cycle that only a collection of generation 1 or older frees, as a DRF response's
    are once the server lets go of them (a collection of generation 0 ran while they were alive)."""
    gc.collect(1)  # generation 1's own schedule restarts: no automatic collection of it comes soon
    cycle = _Cycle()
    gc.collect(0)
    assert gc.is_tracked(cycle) and cycle in gc.get_objects(generation=1)
    dead = weakref.ref(cycle)
    del cycle
    return dead


def test_a_request_first_frees_what_earlier_requests_left_in_cycles():
    left = _garbage_in_the_middle_generation()
    assert left() is not None
    freed_before_the_view = []
    middleware = CollectorPausedDuringRequest(
        lambda r: freed_before_the_view.append(left() is None) or HttpResponse()
    )
    middleware(object())
    assert freed_before_the_view == [True]


def test_no_collection_before_a_request_while_a_snapshot_run_has_the_collector_paused():
    """The run's young generation holds all it has built: collecting it at each request would rescan it."""
    left = _garbage_in_the_middle_generation()
    alive_in_the_view = []
    middleware = CollectorPausedDuringRequest(
        lambda r: alive_in_the_view.append(left() is not None) or HttpResponse()
    )
    with gc_paused():
        middleware(object())
    assert alive_in_the_view == [True]
    gc.collect()


def test_a_failing_request_resumes_it_too():
    def fail(request):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        CollectorPausedDuringRequest(fail)(object())
    assert gc.isenabled()


def test_overlapping_pauses_in_two_threads_resume_it_when_the_last_ends():
    first_in, second_in, first_out, second_done = (threading.Event() for _ in range(4))
    observed = {}

    def first():
        with gc_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with gc_paused():
            second_in.set()
            first_out.wait(5)
            observed["after the first ended"] = gc.isenabled()
        second_done.set()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert second_done.is_set()
    assert observed == {"after the first ended": False}
    assert gc.isenabled()


def test_a_pause_begun_with_the_collector_off_leaves_it_off():
    gc.disable()
    with gc_paused():
        pass
    assert not gc.isenabled()


def test_a_serving_process_freezes_its_heap_once_the_pages_are_loaded():
    """What the process holds then is never scanned again by a collection after a request."""
    gc.unfreeze()  # another test of this process may have settled it (the bench's pages do)
    try:
        assert gc.get_freeze_count() == 0
        frozen = settle_heap()
        assert frozen == gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()


def test_the_wsgi_application_and_manage_py_serve_settle_their_heap():
    """Both ways the dashboard is served: a production server's WSGI module, and `manage.py serve`'s
    gunicorn worker loading the application."""
    # The views are imported before the freeze (the URL configuration imports them), not by a first request.
    probe = "import gc, sys, dashboard.wsgi; print(gc.get_freeze_count(), 'dashboard.views' in sys.modules)"
    settled = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=settings.BASE_DIR
    )
    frozen, views_loaded = settled.stdout.split()
    assert int(frozen) > 10_000 and views_loaded == "True"
    gc.unfreeze()
    try:
        assert DashboardServer(0, services=None).load() is not None and gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
