"""One time format: every time the REST API writes, in every endpoint's answer, and every time
`manage.py findings --format json` prints (the API's shape) is RFC 3339 in UTC with `Z`."""

import json
import re
from datetime import UTC, datetime, timedelta
from importlib import import_module
from io import StringIO

import pytest
from django.apps import apps
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from api.tokens import issue
from exposure.findings import suppress
from exposure.models import Finding, FindingEvent
from inventory.models import Cluster, InventoryObject
from inventory.times import rfc3339
from tests.api_support import *  # noqa: F403 (its fixtures)
from tests.test_api_canary import api_urls

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]
RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")
LOOKS_LIKE_A_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.API_THROTTLE_RATE = None


def times_in(value, where="") -> list[tuple[str, str]]:
    """(where, text) of every string in a JSON value that holds a time."""
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in times_in(item, f"{where}.{key}")]
    if isinstance(value, list):
        return [found for item in value for found in times_in(item, f"{where}[]")]
    if isinstance(value, str) and LOOKS_LIKE_A_TIME.search(value):
        return [(where, value)]
    return []


def test_rfc3339_writes_utc_with_z():
    assert rfc3339(datetime(2026, 6, 1, 12, tzinfo=UTC)) == "2026-06-01T12:00:00Z"
    east = datetime(2026, 6, 1, 14, 0, 0, 500, tzinfo=timezone.get_fixed_timezone(120))
    assert rfc3339(east) == "2026-06-01T12:00:00.000500Z"
    assert rfc3339(datetime(2026, 6, 1, 12)) == "2026-06-01T12:00:00Z" and rfc3339(None) is None


def test_every_time_of_every_endpoint_is_rfc3339_with_z(clusters, admin, alice, admin_api):
    """Every URL of the API (the canary's crawl: every router endpoint, real values), as an admin and as
    a tenant, with a suppression, a resolved and reopened finding, and a snapshot requested."""
    finding = Finding.objects.filter(cluster__name="prod").order_by("pk").first()
    admin_api.post(
        f"findings/{finding.pk}/suppress/",
        {"reason": "accepted", "expires_at": rfc3339(timezone.now() + timedelta(days=3))},
    )
    other = Finding.objects.filter(cluster__name="shared").order_by("pk").first()
    Finding.objects.filter(pk=other.pk).update(status="resolved", resolved_at=timezone.now())
    Cluster.objects.create(name="live", source=Cluster.Source.KUBECONFIG)
    assert admin_api.post("clusters/live/snapshots/")[0] == 202
    seen: dict[str, set[str]] = {}
    for user in (admin, alice):
        client = Client(HTTP_AUTHORIZATION=f"Token {issue(user, 'times')[1]}")
        for name, urls in api_urls().items():
            if name in ("api-docs", "api-not-found"):
                continue
            for url in urls:
                response = client.get(url)
                if response.status_code != 200:
                    continue
                for where, text in times_in(response.json()):
                    assert RFC3339_UTC.fullmatch(text), f"{url} {where}: {text!r}"
                    seen.setdefault(name, set()).add(where.replace("[]", ""))
    fields = {field.rsplit(".", 1)[-1] for wheres in seen.values() for field in wheres}
    assert fields >= {
        "taken_at",
        "started_at",
        "first_seen",
        "at_least_since",
        "last_seen",
        "resolved_at",
        "expires_at",
        "created_at",
        "at",
        "grade_since",
        "start",
        "end",
        "created",
    }, fields
    # The endpoints whose answers carry times were read (not all 404s).
    for name in ("api-cluster-list", "api-snapshot-detail", "api-finding-detail", "api-timeline-list"):
        assert name in seen, name


def test_the_clis_json_writes_times_as_the_api_does(clusters, admin):
    finding = Finding.objects.filter(cluster__name="prod").order_by("pk").first()
    suppress(finding, "accepted", timezone.now() + timedelta(days=3), admin)
    out = StringIO()
    call_command("findings", "--status", "all", "--format", "json", stdout=out)
    printed = times_in(json.loads(out.getvalue()))
    assert {where.rsplit(".", 1)[-1] for where, _ in printed} >= {"first_seen", "last_seen", "expires_at"}
    for where, text in printed:
        assert RFC3339_UTC.fullmatch(text), f"{where}: {text!r}"


def test_event_details_written_before_are_rewritten_with_z(clusters):
    migration = import_module("exposure.migrations.0004_attribution_history")
    finding = Finding.objects.first()
    old = FindingEvent.objects.create(
        finding=finding,
        at=timezone.now(),
        kind="suppressed",
        detail={"reason": "r", "expires_at": "2026-07-01T00:00:00+00:00", "by": "root"},
    )
    migration.times_with_z(apps, None)
    old.refresh_from_db()
    assert old.detail == {"reason": "r", "expires_at": "2026-07-01T00:00:00Z", "by": "root"}


def test_a_time_the_cluster_wrote_is_given_in_the_one_format_too(clusters, admin_api):
    web = InventoryObject.objects.get(cluster__name="prod", kind="Namespace", name="alpha-web", valid_to=None)
    web.data["metadata"]["creationTimestamp"] = "2026-05-01T14:00:00+02:00"
    web.save(update_fields=["data"])
    assert admin_api.get("namespaces/prod/alpha-web/")[1]["created"] == "2026-05-01T12:00:00Z"
    web.data["metadata"]["creationTimestamp"] = "not a time"
    web.save(update_fields=["data"])
    assert admin_api.get("namespaces/prod/alpha-web/")[1]["created"] is None
