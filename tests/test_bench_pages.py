"""The benchmark's page timing (dashboard/bench_pages.py) keeps working: every named page of the URL
configuration gets a URL or is reported as not measured, and each is timed with its query count.
Times are not asserted (the benchmark reports them)."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from dashboard.bench_pages import named_patterns, page_urls, time_pages
from tests.url_crawl import leaf_patterns

pytestmark = pytest.mark.django_db


def test_every_named_page_gets_a_url_or_is_reported_as_not_measured():
    names = {name for name, _ in named_patterns()}
    # The crawl's view of the URL configuration names the same pages (admin names without namespace).
    assert {name.rpartition(":")[2] for name in names} == {name for _, name in leaf_patterns() if name}
    urls, unfilled = page_urls(lambda parameter, name: None if parameter == "finding" else "1")
    assert set(urls) | set(unfilled) == names
    assert unfilled["finding"] == "no value for <finding>" and "overview" in urls
    assert unfilled["admin:app_list"].startswith("no URL for"), "an app label, not 1"
    assert urls["admin:inventory_cluster_change"] == "/admin/inventory/cluster/1/change/"


def test_pages_are_timed_with_their_query_counts():
    admin = Client()
    admin.force_login(User.objects.create_superuser("root"))
    timings = time_pages(
        {"admin": admin, "nobody": Client()}, {"overview": "/", "healthz": "/healthz"}, runs=2
    )
    by_key = {(t.name, t.reader): t for t in timings}
    assert by_key["overview", "admin"].status == 200 and by_key["overview", "admin"].queries > 0
    assert by_key["overview", "nobody"].status == 302  # to the login page
    assert all(t.median_ms > 0 and t.max_ms >= t.median_ms for t in timings)
