"""Every page's server time and query count, for `manage.py bench`.

Every named URL pattern of the URL configuration (the admin site's included) is requested in
process through Django's test client (middleware, view, queries and template; no network, no
browser) by each reader: once to count its queries, then `runs` times timed (median, 95th
percentile, slowest).  Parameters are filled
by name by the caller; a pattern whose parameter it cannot fill is reported as not measured, never
skipped silently.  Unnamed patterns (the admin site's redirects to a change page, its catch-all) are
not pages.  The query-count test (tests/test_page_query_counts.py) holds the counts' independence
of the cluster's size; this measures times, which tests must not assert.
"""

import cProfile
import gc
import logging
import re
import statistics
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import override_settings
from django.urls import NoReverseMatch, URLResolver, get_resolver, reverse

from dashboard.server_heap import settle_heap


@dataclass(frozen=True)
class PageTiming:
    name: str  # the URL's name, namespaced ("admin:inventory_cluster_change")
    url: str
    reader: str
    status: int
    median_ms: float
    p95_ms: float  # the 95th percentile (the slowest of fewer than 20 runs)
    max_ms: float
    queries: int
    # The cyclic collector's pauses during the timed runs: what of the times is this process's heap
    # (its size, not the page's work, sets how long a full collection takes).
    gc_ms: float = 0.0  # in all the runs
    gc_max_ms: float = 0.0  # the longest one

    def as_dict(self) -> dict:
        return asdict(self)


def named_patterns(patterns=None, namespace: str = "", parameters: tuple = ()):
    """(namespaced URL name, its parameters' names) of every named view of the URL configuration."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        found = (*parameters, *pattern.pattern.regex.groupindex)
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from named_patterns(pattern.url_patterns, inner, found)
        elif pattern.name:
            yield namespace + pattern.name, found


def page_urls(value: Callable[[str, str], str | None]) -> tuple[dict[str, str], dict[str, str]]:
    """name -> URL for every named pattern whose parameters `value(parameter, name)` fills, and
    name -> why not for the others."""
    urls, unfilled = {}, {}
    for name, parameters in named_patterns():
        values = {parameter: value(parameter, name) for parameter in parameters}
        missing = [parameter for parameter, filled in values.items() if filled is None]
        if missing:
            unfilled[name] = f"no value for <{missing[0]}>"
            continue
        try:
            urls[name] = reverse(name, kwargs=values)
        except NoReverseMatch:
            unfilled[name] = f"no URL for {values}"
    return urls, unfilled


class CollectorPauses:
    """The cyclic garbage collector's pauses while installed (`gc.callbacks`), in seconds."""

    def __init__(self):
        self.pauses: list[float] = []
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._started)

    def __enter__(self) -> "CollectorPauses":
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self)


class QueryCounter:
    """Counts the queries run on the default connection while installed (`connection.execute_wrapper`)."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def _quiet_refusals():
    """The pages answer some readers 403/404/405 on purpose: Django logs each; not the bench's news."""
    logger = logging.getLogger("django.request")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def _get(client: Client, url: str) -> int:
    response = client.get(url, secure=True)  # as a TLS deployment serves it: no redirect to https
    if response.streaming:  # an export does its work while it is read
        b"".join(response.streaming_content)
    return response.status_code


def time_pages(
    clients: dict[str, Client], urls: dict[str, str], runs: int, profile_dir: Path | None = None
) -> list[PageTiming]:
    """Each URL for each reader: its status, median and slowest of `runs` timed requests, and the
    number of queries of one (counted apart: recording queries costs time).  With `profile_dir`,
    one more request each is profiled into `page-<name>-<reader>.pstats` there (not timed)."""
    # Content types are cached once per process: the first scale of a run would count them.
    ContentType.objects.get_for_models(*apps.get_models())
    settle_heap()  # as a serving process settles its heap once it has loaded the pages
    try:
        return _timed(clients, urls, runs, profile_dir)
    finally:
        gc.unfreeze()  # what this process does next (other items, other tests) is not a server's


def _timed(
    clients: dict[str, Client], urls: dict[str, str], runs: int, profile_dir: Path | None
) -> list[PageTiming]:
    timings = []
    # The in-process client is not a host the deployment names: allow its default one.
    with override_settings(ALLOWED_HOSTS=["testserver"]), _quiet_refusals():
        for name, url in urls.items():
            for reader, client in clients.items():
                counter = QueryCounter()
                with connection.execute_wrapper(counter):
                    status = _get(client, url)
                seconds = []
                with CollectorPauses() as collector:
                    for _ in range(runs):
                        started = time.perf_counter()
                        _get(client, url)
                        seconds.append(time.perf_counter() - started)
                if profile_dir is not None:
                    _profiled(
                        client, url, profile_dir / f"page-{re.sub(r'[^a-z0-9-]', '-', name)}-{reader}.pstats"
                    )
                timings.append(
                    PageTiming(
                        name,
                        url,
                        reader,
                        status,
                        round(statistics.median(seconds) * 1000, 1),
                        round(_p95(seconds) * 1000, 1),
                        round(max(seconds) * 1000, 1),
                        counter.count,
                        round(sum(collector.pauses) * 1000, 1),
                        round(max(collector.pauses, default=0.0) * 1000, 1),
                    )
                )
    return timings


class QueryTimer:
    """Each query's time and SQL, slowest first: what of a page's time the database spends."""

    def __init__(self):
        self.queries: list[tuple[float, str]] = []

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.queries.append((time.perf_counter() - started, sql))

    def report(self) -> str:
        rows = sorted(self.queries, reverse=True)
        return "".join(f"{seconds * 1000:8.1f} ms  {sql}\n" for seconds, sql in rows)


def _profiled(client: Client, url: str, path: Path) -> None:
    """The request under cProfile into `path`, its queries' times beside it (`.sql.txt`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    profile, timer = cProfile.Profile(), QueryTimer()
    with connection.execute_wrapper(timer):
        profile.runcall(_get, client, url)
    profile.dump_stats(path)
    path.with_suffix(".sql.txt").write_text(timer.report())


def _p95(seconds: list[float]) -> float:
    """The 95th percentile: of 20 runs or more the quantile, of fewer the slowest."""
    return statistics.quantiles(seconds, n=20)[18] if len(seconds) >= 20 else max(seconds)
