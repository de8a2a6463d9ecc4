"""The canary crawl of tests/test_canary.py over every endpoint of the API's router, with a token:
tenant A's token never gets anything of tenant B, a request without one gets nothing at all.

(test_canary.py crawls the same URLs with a session, as part of the whole URL configuration.)"""

import pytest
from django.test import Client
from django.urls import get_resolver

from api.tokens import issue
from api.urls import router
from tests import test_canary as canary
from tests import url_crawl

pytestmark = pytest.mark.django_db
world = canary.world  # two clusters, tenant B's marker planted; tenant A granted on both


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.API_THROTTLE_RATE = None


def api_urls() -> dict[str, list[str]]:
    """URL name -> every URL of it, for each API endpoint (router's and the others), with real values."""
    urls = {}
    for parts, name in url_crawl.leaf_patterns(get_resolver().url_patterns):
        if str(parts[0]) != "api/v1/":
            continue
        expanded = url_crawl.expand(parts)
        if name in canary.FILTERED:
            expanded = [url + query for url in expanded for query in canary._filter_queries()]
        urls[name] = expanded
    return urls


def _body(response) -> str:
    return response.content.decode("utf-8", "replace")


def test_every_router_endpoint_is_crawled(world):
    crawled = api_urls()
    for prefix, _viewset, basename in router.registry:
        names = [name for name in crawled if name.startswith(basename + "-")]
        assert names, f"the crawl reaches no URL of {prefix}/"


def test_tenant_a_token_never_gets_tenant_b(world):
    key = issue(world, "crawl")[1]
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    answered = {}
    for name, urls in api_urls().items():
        for url in urls:
            response = client.get(url)
            body = _body(response)
            if canary.MARKER in url.partition("?")[2]:
                twin = client.get(url.replace(canary.MARKER, canary.UNKNOWN))
                assert (response.status_code, body.replace(canary.MARKER, canary.UNKNOWN)) == (
                    twin.status_code,
                    _body(twin),
                ), f"{url} answers differently for tenant B's name than for a name that exists nowhere"
            else:
                assert canary.MARKER not in body, f"{url} shows tenant B's marker"
            assert response.status_code < 500, url
            answered.setdefault(name, set()).add(response.status_code)
    # The crawl really read A's data: every list answered 200 (a leak-free 404 everywhere would pass).
    for name in (
        "api-cluster-list",
        "api-finding-list",
        "api-namespace-list",
        "api-volume-list",
        "api-rule-list",
    ):
        assert 200 in answered[name], name
    assert answered["api-namespace-detail"] >= {200, 404}
    assert answered["api-finding-detail"] >= {200, 404}


def test_without_a_token_nothing_answers_but_401(world):
    for token in (None, "sed_not-a-key"):
        client = Client(**({"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}))
        for name, urls in api_urls().items():
            if name == "api-docs":  # a page for people: to the login page
                assert client.get(urls[0]).status_code == 302
                continue
            for url in urls[:3]:
                response = client.get(url)
                assert response.status_code == 401, url
                assert canary.MARKER not in _body(response)
