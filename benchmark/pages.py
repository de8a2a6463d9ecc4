"""Item 7 and the `pages` extra: pages' server time and queries through dashboard/bench_pages.py.

The key pages (the overview, the namespaces list, a namespace's exposure view, the findings list and
the findings API) are timed `runs` times each, as an admin and as a tenant; every page of the URL
configuration (the admin site's included) a few times.  A URL parameter's value comes from the
measured cluster: its name, the tenant's namespace shown, its heaviest open finding, its latest
snapshot; a page whose parameter the bench cannot fill is reported as not measured.
"""

import os
import re
from pathlib import Path

from django.apps import apps
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType

from dashboard.bench_pages import page_urls, time_pages
from exposure.models import Finding
from inventory.models import Cluster, Snapshot
from tenancy.models import Grant

# The tenant whose reader the pages are timed for, and its namespace shown: seeded at every scale,
# with paths from other tenants into it.
PAGE_TENANT, PAGE_NAMESPACE = "acme", "acme-web"
# Item 7's pages: URL name -> what the issue calls it.
KEY_PAGES = {
    "overview": "overview",
    "namespaces": "namespaces list",
    "namespace": "namespace exposure view",
    "findings": "findings list",
    "api-finding-list": "findings API",
}


def _urls(readers: dict) -> tuple[dict[str, str], dict[str, str]]:
    shown = {
        Cluster: readers["cluster"],
        Snapshot: readers["snapshot"],
        Finding: readers["finding"],
        Grant: readers["grant"],
        User: readers["admin"],
        Group: readers["group"],
    }
    return page_urls(lambda parameter, name: _page_value(parameter, name, shown))


def key_pages(readers: dict, runs: int) -> list[dict]:
    urls, _ = _urls(readers)
    # `make bench PROFILE=1`: each key page also profiled, beside the worker's tasks' profiles.
    profiles = os.environ.get("BENCH_PROFILE_DIR")
    timings = time_pages(
        readers["clients"],
        {name: urls[name] for name in KEY_PAGES},
        runs,
        Path(profiles) if profiles else None,
    )
    return [{"page": KEY_PAGES[t.name], **t.as_dict(), "runs": runs} for t in timings]


def all_pages(readers: dict, runs: int) -> dict:
    urls, unfilled = _urls(readers)
    return {
        "runs": runs,
        "reader_tenant": PAGE_TENANT,
        "namespace": PAGE_NAMESPACE,
        "timings": [t.as_dict() for t in time_pages(readers["clients"], urls, runs)],
        "not_measured": unfilled,
    }


def _page_value(parameter: str, name: str, shown: dict) -> str | None:
    """A URL parameter's value for the bench's pages; None: the bench has none (reported)."""
    if parameter == "cluster":
        return shown[Cluster].name
    if parameter == "namespace":
        return PAGE_NAMESPACE
    if parameter == "finding":
        return str(shown[Finding].pk) if shown[Finding] else None
    if parameter == "snapshot":  # the API's snapshots/<id>/: the latest
        return str(shown[Snapshot].pk)
    if parameter == "app_label":
        return "inventory"
    if parameter == "content_type_id":
        return str(ContentType.objects.get_for_model(Finding).pk)
    if parameter in ("object_id", "id"):
        model = _admin_model(name) or Finding  # the admin's "view on site" names its content type
        found = shown.get(model) or model.objects.order_by("pk").first()
        return str(found.pk) if found else None
    return None


def _admin_model(name: str):
    """The model of an admin site URL name (`admin:<app label>_<model name>_<view>`)."""
    for model in apps.get_models():
        if re.match(rf"admin:{model._meta.app_label}_{model._meta.model_name}_[a-z_]+$", name):
            return model
    return None
