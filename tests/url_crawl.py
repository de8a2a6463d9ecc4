"""Every URL of the URL configuration, with real values: what the crawling tests request.

The URL patterns are enumerated from the resolver, so a page added later is crawled without editing
any test; `url_values()` fills each parameter with real values from the database, and a parameter
nobody taught it fails the crawl (teach it here).  Used by the canary (tests/test_canary.py) and the
query counts (tests/test_page_query_counts.py).
"""

import re

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.urls import URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from exposure.models import Finding
from inventory.models import Cluster, InventoryObject, Snapshot


def leaf_patterns(patterns=None, prefix=()):
    """(chain of route/regex parts, URL name) of every view of the URL configuration."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from leaf_patterns(pattern.url_patterns, (*prefix, pattern.pattern))
        else:
            yield (*prefix, pattern.pattern), pattern.name


def admin_model(parts) -> type | None:
    text = "".join(str(p) for p in parts)
    found = re.match(r"admin/(\w+)/(\w+)/", text)
    if not found:
        return None
    try:
        return apps.get_model(found.group(1), found.group(2))
    except LookupError:
        return None


def url_values(parameter: str, parts) -> list[str]:
    """Real values for a URL parameter; a parameter nobody taught the crawl fails the test."""
    namespaces = sorted(set(InventoryObject.objects.filter(kind="Namespace").values_list("name", flat=True)))
    if parameter == "cluster":
        return list(Cluster.objects.values_list("name", flat=True))
    if parameter == "namespace":
        return namespaces
    if parameter in ("object_id", "id"):
        model = admin_model(parts) or ContentType
        return [str(pk) for pk in model.objects.values_list("pk", flat=True)[:200]] + ["999999"]
    if parameter == "content_type_id":
        return [str(ContentType.objects.get_for_model(Finding).pk)]
    if parameter == "app_label":
        return ["inventory", "arrays", "exposure", "tenancy", "auth"]
    if parameter == "finding":  # every finding, B's included: those must answer 404 to A
        return [str(pk) for pk in Finding.objects.values_list("pk", flat=True)] + ["999999"]
    if parameter == "snapshot":  # the API's snapshots/<id>/: every snapshot, of both clusters
        return [str(pk) for pk in Snapshot.objects.values_list("pk", flat=True)] + ["999999"]
    if parameter == "url":
        return ["nowhere/"]
    if parameter == "token":  # the digest's unsubscribe link: a real token, and one not made here
        from digest.links import unsubscribe_token

        return [unsubscribe_token("someone@example.com"), "forged:token"]
    raise AssertionError(
        f"the crawl cannot fill <{parameter}> in {parts}: teach tests/url_crawl.py url_values()"
    )


def expand(parts, values=url_values) -> list[str]:
    """Every URL a pattern (a chain of route/regex parts) stands for, with `values(parameter, parts)`."""
    urls = [""]
    for part in parts:
        if isinstance(part, RoutePattern):
            route = str(part)
            pieces = re.split(r"<(?:\w+:)?(\w+)>", route)
            for index, piece in enumerate(pieces):
                if index % 2 == 0:
                    urls = [url + piece for url in urls]
                else:
                    converter = part.converters[piece]
                    urls = [url + converter.to_url(value) for url in urls for value in values(piece, parts)]
        elif isinstance(part, RegexPattern):
            regex = part._regex.lstrip("^").rstrip("$")
            groups = re.findall(r"\(\?P<(\w+)>[^)]*\)", regex)
            for group in groups:
                expanded = []
                for url in urls:
                    for value in values(group, parts):
                        expanded.append(url + re.sub(rf"\(\?P<{group}>[^)]*\)", value, regex, count=1))
                urls = expanded
                regex = ""
            urls = [url + regex for url in urls]
        else:
            raise AssertionError(f"unknown pattern type {type(part)}")
    return ["/" + url.lstrip("/") for url in urls]
