"""findings/: the pages' filter through the API, the finding's one shape (the CLI's too), cursor
pagination in each ordering to the last page, 400 on unknown values, suppress / unsuppress, and
the pages' redaction for a tenant."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from exposure.findings import suppress
from exposure.models import Finding, Suppression
from inventory.times import rfc3339
from tests.api_support import *  # noqa: F403 (its fixtures)
from tests.api_support import error_of
from tests.cases.runner import TAKEN_AT
from tests.factories import made_findings

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]

REQUIRED = {
    "id", "rule", "severity", "status", "cluster", "namespaces", "title", "evidence", "remediation",
    "first_seen", "at_least_since", "last_seen", "resolved_at", "suppression",
}  # fmt: skip


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.API_THROTTLE_RATE = None


def ids(findings) -> set[int]:
    return {f.pk for f in findings}


def listed(api, **query) -> list[int]:
    return [f["id"] for f in api.every("findings/", **query)]


def test_each_filter_selects_what_it_names(clusters, admin_api):
    everything = Finding.objects.all()
    assert set(listed(admin_api, status="all")) == ids(everything)
    assert set(listed(admin_api, status="all", rule="privileged-container")) == ids(
        everything.filter(rule="privileged-container")
    )
    assert set(listed(admin_api, status="all", severity=["info", "medium"])) == ids(
        everything.filter(severity__in=["info", "medium"])
    )
    assert set(listed(admin_api, status="all", cluster="shared")) == ids(
        everything.filter(cluster__name="shared")
    )
    in_alpha_db = everything.filter(cluster__name="shared", attributions__namespace="alpha-db")
    assert len(in_alpha_db) == 2
    assert set(listed(admin_api, cluster="shared", namespace="alpha-db")) == ids(in_alpha_db)
    beta = everything.filter(attributions__namespace__in=["beta-app", "beta-jobs"]).distinct()
    assert set(listed(admin_api, tenant="beta")) == ids(beta)
    # Dates: first seen, resolved, after (inclusive) and before (exclusive).
    gone = everything.get(rule="privileged-container", title__contains="toolbox")
    resolved_at = TAKEN_AT + timedelta(days=3)
    Finding.objects.filter(pk=gone.pk).update(status="resolved", resolved_at=resolved_at, resolved_seq=2)
    assert gone.pk not in listed(admin_api)
    assert listed(admin_api, status="resolved") == [gone.pk]
    assert listed(admin_api, status="resolved", resolved_after=resolved_at.isoformat()) == [gone.pk]
    assert listed(admin_api, status="resolved", resolved_after="2026-06-04T12:00:01Z") == []
    assert listed(admin_api, status="resolved", resolved_before="2026-06-04T12:00:01Z") == [gone.pk]
    assert listed(admin_api, status="resolved", resolved_before=resolved_at.isoformat()) == []
    assert set(listed(admin_api, status="all", first_seen_after="2026-06-01")) == ids(everything)
    assert listed(admin_api, status="all", first_seen_after="2026-06-01T12:00:01Z") == []
    assert listed(admin_api, status="all", first_seen_before="2026-06-01T12:00:00Z") == []
    assert set(listed(admin_api, status="all", first_seen_before="2026-06-02")) == ids(everything)


def test_unknown_values_are_a_400_that_echoes_nothing(clusters, admin_api):
    for query in (
        {"rule": "<b>no-such-rule</b>"},
        {"severity": "nope"},
        {"status": "closed"},
        {"cluster": "nowhere"},
        {"tenant": "nobody"},
        {"first_seen_after": "yesterday"},
        {"resolved_before": "2026-13-45"},
        {"ordering": "random"},
        {"cursor": "not-a-cursor"},
        {"page_size": "0"},
        {"page_size": "100000"},
    ):
        status, body = admin_api.get("findings/", **query)
        assert status == 400, query
        error = error_of(body)
        assert error["code"] == "invalid" and set(error["details"]) == set(query), (query, error)
        value = next(iter(query.values()))
        assert len(value) < 4 or value not in json.dumps(body), "the value is not echoed"
    # A namespace that exists nowhere (or is another tenant's) selects nothing: no error.
    assert admin_api.get("findings/", namespace="nowhere")[1]["results"] == []


def test_a_finding_has_the_contracts_fields_in_the_clis_shape(clusters, admin_api, admin):
    finding = Finding.objects.get(rule="privileged-container", title__contains="toolbox")
    suppress(finding, "debug pod, accepted", timezone.now() + timedelta(days=3), admin)
    status, shown = admin_api.get(f"findings/{finding.pk}/")
    assert status == 200 and REQUIRED <= set(shown)
    assert shown["status"] == "suppressed" and shown["suppression"]["reason"] == "debug pod, accepted"
    assert shown["suppression"]["by"] == "root"
    assert shown["cluster"] == "prod" and shown["rule"] == "privileged-container"
    assert shown["last_seen"] == rfc3339(TAKEN_AT), "an open finding was seen in the latest snapshot"
    assert [e["kind"] for e in shown["history"]] == ["opened", "suppressed"]
    out = StringIO()
    call_command("findings", "--status", "all", "--format", "json", stdout=out)
    from_cli = {row["id"]: row for row in json.loads(out.getvalue())}
    listed_rows = {row["id"]: row for row in admin_api.every("findings/", status="all")}
    assert set(from_cli) == set(listed_rows)
    for pk, row in from_cli.items():
        api_row = {k: v for k, v in listed_rows[pk].items() if k not in ("url", "redacted")}
        assert api_row == row, pk
    assert from_cli[finding.pk]["first_seen"] == TAKEN_AT.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize("ordering", ["-severity", "severity", "-first_seen", "first_seen", "id", "-id"])
def test_every_ordering_pages_to_the_last_page_and_back_without_gaps_or_repeats(
    clusters, admin_api, ordering
):
    _many_graded("prod", "alpha-web", 23)
    # Ties on severity and first_seen: the unique id breaks them, and the cursor keeps them apart.
    Finding.objects.filter(title__startswith="made").update(first_seen=TAKEN_AT + timedelta(hours=1))
    expected = list(Finding.objects.values_list("pk", flat=True))
    forward, pages, url = [], 0, None
    status, body = admin_api.get("findings/", status="all", ordering=ordering, page_size="7")
    while True:
        assert status == 200, body
        assert body["previous"] is None if pages == 0 else body["previous"]
        forward += [f["id"] for f in body["results"]]
        pages += 1
        url = body["next"]
        if not url:
            break
        last = body
        status, body = admin_api.get(url.split("testserver", 1)[1])
    assert sorted(forward) == sorted(expected) and len(forward) == len(set(forward))
    assert pages == -(-len(expected) // 7)
    # Back from the last page: the same pages in reverse.
    backward = [f["id"] for f in body["results"]]
    while body["previous"]:
        status, body = admin_api.get(body["previous"].split("testserver", 1)[1])
        backward = [f["id"] for f in body["results"]] + backward
    assert backward == forward
    assert last["next"]
    ranks = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
    rows = {f.pk: f for f in Finding.objects.all()}
    key = {
        "-severity": lambda pk: (-ranks[rows[pk].severity], -rows[pk].first_seen.timestamp(), pk),
        "severity": lambda pk: (ranks[rows[pk].severity], -rows[pk].first_seen.timestamp(), pk),
        "-first_seen": lambda pk: (-rows[pk].first_seen.timestamp(), -ranks[rows[pk].severity], pk),
        "first_seen": lambda pk: (rows[pk].first_seen.timestamp(), -ranks[rows[pk].severity], pk),
        "id": lambda pk: pk,
        "-id": lambda pk: -pk,
    }[ordering]
    assert forward == sorted(expected, key=key)


def test_a_cursor_is_bound_to_its_ordering(clusters, admin_api):
    status, body = admin_api.get("findings/", status="all", page_size="2")
    cursor = body["next"].split("cursor=")[1].split("&")[0]
    status, body = admin_api.get("findings/", status="all", page_size="2", ordering="id", cursor=cursor)
    assert status == 400 and error_of(body)["details"] == {"cursor": ["Not a cursor this list gave."]}


def test_tenant_a_gets_only_its_findings_redacted_as_on_the_pages(clusters, alice_api, admin):
    everything = Finding.objects.all()
    alphas = everything.filter(attributions__namespace__in=["alpha-web", "alpha-db"]).distinct()
    only_b = everything.exclude(pk__in=alphas.values("pk"))
    assert only_b.exists()
    rows = alice_api.every("findings/", status="all")
    assert {f["id"] for f in rows} == ids(alphas)
    for finding in only_b:
        status, body = alice_api.get(f"findings/{finding.pk}/")
        assert status == 404 and error_of(body)["code"] == "not_found"
    assert alice_api.get("findings/", namespace="beta-jobs", status="all")[1]["results"] == []
    status, body = alice_api.get("findings/", cluster="shared", tenant="beta", status="all")
    assert status == 400, "a tenant the caller does not see is not one of the values offered"
    spanning = everything.get(rule="export-policy-shared", namespaces=["alpha-db", "beta-jobs"])
    suppress(spanning, "beta-jobs asked for it", timezone.now() + timedelta(days=3), admin)
    shown = alice_api.get(f"findings/{spanning.pk}/")[1]
    assert shown["namespaces"] == ["alpha-db"] and shown["redacted"] is True
    assert shown["evidence"] == {} and shown["suppression"]["reason"] == ""
    assert "beta" not in json.dumps(shown)
    assert "beta" not in json.dumps(alice_api.every("findings/", status="all"))


def test_an_admin_suppresses_and_unsuppresses(clusters, admin_api, alice_api):
    finding = Finding.objects.get(rule="privileged-container", title__contains="toolbox")
    url = f"findings/{finding.pk}/suppress/"
    until = (timezone.now() + timedelta(days=10)).isoformat()
    past = (timezone.now() - timedelta(days=1)).isoformat()
    for body in (
        {"reason": "x", "expires_at": past},
        {"reason": " ", "expires_at": until},
        {},
        {"reason": "x"},
    ):
        status, answer = admin_api.post(url, body)
        assert status == 400 and error_of(answer)["code"] == "invalid", body
    assert not Suppression.objects.exists()
    hers = Finding.objects.filter(attributions__namespace="alpha-web").first()
    status, answer = alice_api.post(f"findings/{hers.pk}/suppress/", {"reason": "mine", "expires_at": until})
    assert status == 403 and error_of(answer)["code"] == "permission_denied"
    beta_only = Finding.objects.get(rule="volume-shared-by-annotation", namespaces=["sandbox"])
    assert (
        alice_api.post(f"findings/{beta_only.pk}/suppress/", {"reason": "x", "expires_at": until})[0] == 404
    )
    status, answer = admin_api.post(url, {"reason": "accepted: debug pod", "expires_at": until})
    assert status == 200 and answer["status"] == "suppressed"
    assert listed(admin_api, status="suppressed") == [finding.pk]
    assert finding.pk not in listed(admin_api)
    status, answer = admin_api.post(f"findings/{finding.pk}/unsuppress/")
    assert status == 200 and answer["status"] == "open" and answer["suppression"] is None
    assert finding.pk in listed(admin_api)
    assert [e["kind"] for e in answer["history"]][-2:] == ["suppressed", "unsuppressed"]
    assert admin_api.response("get", url).status_code == 405


def _many_graded(cluster_name: str, namespace: str, count: int, **fields):
    return made_findings(cluster_name, namespace, count, severities=("low", "high", "medium"), **fields)
