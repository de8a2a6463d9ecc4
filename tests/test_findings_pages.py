"""The findings pages: the filtered, paginated list, its CSV export, a finding's page with its history,
and admins' suppress / lift; everything over what the reader may see, redacted like every page."""

import csv
import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard.exports import FINDING_COLUMNS, cell
from dashboard.filters import FindingFilter
from dashboard.queries import listed_findings, redacted_findings
from exposure.findings import suppress
from exposure.models import Finding, FindingEvent, FindingNamespace, Suppression
from tenancy.access import scope_of
from tenancy.models import Grant
from tests.cases.runner import TAKEN_AT
from tests.factories import made_findings

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]


@pytest.fixture
def alice(clusters):
    """Tenant alpha's reader, on both clusters."""
    user = User.objects.create_user("alice")
    for cluster in ("prod", "shared"):
        Grant.objects.create(user=user, cluster_id=_cluster_id(cluster), tenant="alpha")
    return user


def _cluster_id(name):
    from inventory.models import Cluster

    return Cluster.objects.get(name=name).pk


def listed(client, user, query="") -> list[int]:
    client.force_login(user)
    response = client.get(f"/findings/{query}")
    assert response.status_code == 200, query
    return [int(pk) for pk in re.findall(r'<a href="/findings/(\d+)/">', response.content.decode())]


def exported(client, user, query="") -> list[dict]:
    client.force_login(user)
    response = client.get(f"/findings/export.csv{query}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def ids(findings) -> set[int]:
    return {f.pk for f in findings}


def test_each_filter_selects_what_it_names(client, clusters, admin):
    everything = Finding.objects.all()
    assert set(listed(client, admin, "?status=all")) == ids(everything)
    assert set(listed(client, admin, "?rule=privileged-container")) == ids(
        everything.filter(rule="privileged-container")
    )
    assert set(listed(client, admin, "?severity=info&severity=medium")) == ids(
        everything.filter(severity__in=["info", "medium"])
    )
    assert set(listed(client, admin, "?cluster=shared")) == ids(everything.filter(cluster__name="shared"))
    in_alpha_db = everything.filter(cluster__name="shared", attributions__namespace="alpha-db")
    assert len(in_alpha_db) == 2
    assert set(listed(client, admin, "?cluster=shared&namespace=alpha-db")) == ids(in_alpha_db)
    beta = everything.filter(attributions__namespace__in=["beta-app", "beta-jobs"]).distinct()
    assert set(listed(client, admin, "?tenant=beta")) == ids(beta)
    on_array = [f for f in everything if "array:nas-legacy" in f.depends]
    assert 0 < len(on_array) < len(everything)
    assert set(listed(client, admin, "?array=nas-legacy")) == ids(on_array)
    assert listed(client, admin, "?status=resolved") == []
    assert listed(client, admin, "?first_seen_since=2026-06-02") == []
    assert set(listed(client, admin, "?first_seen_since=2026-06-01")) == ids(everything)
    # Status: resolving one moves it from open to resolved, and `resolved since` finds it.
    gone = everything.get(rule="privileged-container", title__contains="toolbox")
    Finding.objects.filter(pk=gone.pk).update(status="resolved", resolved_at=TAKEN_AT + timedelta(days=3))
    assert gone.pk not in listed(client, admin)
    assert listed(client, admin, "?status=resolved") == [gone.pk]
    assert listed(client, admin, "?status=resolved&resolved_since=2026-06-04") == [gone.pk]
    assert listed(client, admin, "?status=resolved&resolved_since=2026-06-05") == []


def test_an_invalid_filter_lists_nothing_and_echoes_nothing(client, clusters, admin):
    client.force_login(admin)
    page = client.get("/findings/?rule=<b>no-such-rule</b>&status=open").content.decode()
    alert = re.search(r'<p class="warn" role="alert">(.*?)</p>', page, re.S).group(1)
    assert "Not one of the values offered" in alert and "no-such-rule" not in alert
    assert "<b>no-such-rule" not in page
    assert re.findall(r'<a href="/findings/(\d+)/">', page) == []
    assert client.get("/findings/export.csv?severity=nope").status_code == 400


def test_sorted_by_severity_or_first_seen(client, clusters, admin):
    worst_first = listed(client, admin, "?status=all")
    ranks = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}
    severities = [ranks[Finding.objects.get(pk=pk).severity] for pk in worst_first]
    assert severities == sorted(severities, reverse=True) and severities[0] > severities[-1]
    least_first = [
        ranks[Finding.objects.get(pk=pk).severity]
        for pk in listed(client, admin, "?status=all&sort=severity")
    ]
    assert least_first == sorted(least_first)
    newest = Finding.objects.get(rule="privileged-container", title__contains="toolbox")
    Finding.objects.filter(pk=newest.pk).update(first_seen=TAKEN_AT + timedelta(days=1))
    assert listed(client, admin, "?status=all&sort=-first_seen")[0] == newest.pk
    assert listed(client, admin, "?status=all&sort=first_seen")[-1] == newest.pk


def test_paginated_and_counted(client, clusters, admin):
    made_findings("prod", "alpha-web", 120)
    total = Finding.objects.count()
    client.force_login(admin)
    first = client.get("/findings/?cluster=prod").content.decode()
    on_prod = Finding.objects.filter(cluster__name="prod").count()
    assert f"{on_prod} findings" in first
    by_severity = dict(re.findall(r'<span class="sev sev-(\w+)">(\d+) \w+</span>', first))
    expected = Finding.objects.filter(cluster__name="prod").values_list("severity", flat=True)
    assert {s: int(n) for s, n in by_severity.items()} == {s: list(expected).count(s) for s in set(expected)}
    assert len(re.findall(r'<a href="/findings/(\d+)/">', first)) == 50
    assert 'href="?cluster=prod&amp;page=2" rel="next">Next</a>' in first
    seen = set()
    for number in (1, 2, 3):
        seen |= set(listed(client, admin, f"?cluster=prod&page={number}"))
    assert len(seen) == on_prod < total
    assert len(exported(client, admin, "?cluster=prod")) == on_prod, "the export is every page"


def test_the_list_costs_the_same_queries_for_10_or_300_findings(
    client, clusters, alice, django_assert_max_num_queries
):
    client.force_login(alice)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/findings/?status=all").status_code == 200
    made_findings("prod", "alpha-web", 300)
    made_findings("shared", "alpha-db", 300)
    with django_assert_max_num_queries(len(few)):
        page = client.get("/findings/?status=all")
    assert page.status_code == 200 and "made finding" in page.content.decode()


def test_csv_is_what_the_page_lists_with_formulas_defused(client, clusters, admin):
    (hostile,) = made_findings("prod", "alpha-web", 1)
    Finding.objects.filter(pk=hostile.pk).update(
        title='=HYPERLINK("http://x")', detail="@SUM(A1)", severity="high"
    )
    query = "?cluster=prod&severity=high&status=all"
    rows = exported(client, admin, query)
    assert [int(r["id"]) for r in rows] == listed(client, admin, query)
    row = next(r for r in rows if int(r["id"]) == hostile.pk)
    assert row["title"] == '\'=HYPERLINK("http://x")' and row["detail"] == "'@SUM(A1)"
    assert row["namespaces"] == "alpha-web" and row["tenants"] == "alpha" and row["cluster"] == "prod"
    shared = next(r for r in rows if "<script>" in r["title"])  # tenant text, kept verbatim but inert
    assert shared["namespaces"] == "sandbox"


def test_the_export_reads_only_its_columns_yet_redacts_exactly_as_the_pages(clusters, alice, admin):
    """The export's rows (`listed_findings`: the columns shown, and the paths' namespaces and data)
    are the whole redacted summaries' (`redacted_findings`) for every reader, suppressed and
    spanning findings included."""
    spanning = Finding.objects.get(rule="export-policy-shared", namespaces=["alpha-db", "beta-jobs"])
    suppress(spanning, "asked for", timezone.now() + timedelta(days=3), admin)
    columns = [c for c in FINDING_COLUMNS if c != "tenants"]
    for user in (alice, admin):
        scope = scope_of(user)
        findings = FindingFilter({"status": "all"}, scope).findings
        exported = [
            {c: row[c] for c in columns} for row in listed_findings(findings(Finding.objects.all()), scope)
        ]
        whole = [{c: row[c] for c in columns} for row in redacted_findings(findings(), scope)]
        assert exported == whole and len(whole) > 3, user
        assert any(row["title"].endswith("involving namespaces of another tenant") for row in whole) == (
            user == alice
        )


def test_cell_quotes_what_a_spreadsheet_would_run():
    for text in ("=1+1", "+1", "-1", "@x", "\tx", "\rx"):
        assert cell(text) == "'" + text
    assert cell("a=b") == "a=b" and cell(None) == "" and cell(["a", "b"]) == "a b" and cell(3) == "3"


def test_tenant_a_never_gets_tenant_bs_findings(client, clusters, alice):
    everything = Finding.objects.all()
    alphas = everything.filter(attributions__namespace__in=["alpha-web", "alpha-db"]).distinct()
    only_b = everything.exclude(pk__in=alphas.values("pk"))
    assert only_b.exists()
    assert set(listed(client, alice, "?status=all")) == ids(alphas)
    assert {int(r["id"]) for r in exported(client, alice, "?status=all")} == ids(alphas)
    for finding in only_b:
        assert client.get(f"/findings/{finding.pk}/").status_code == 404
    # Naming B's namespace or tenant selects nothing, rather than B's side of a shared finding.
    assert listed(client, alice, "?namespace=beta-jobs&status=all") == []
    assert listed(client, alice, "?cluster=shared&tenant=beta&status=all") == []
    assert exported(client, alice, "?namespace=beta-jobs&status=all") == []


def test_a_finding_spanning_tenants_shows_each_side_only_its_own(client, clusters, alice, admin):
    spanning = Finding.objects.get(rule="export-policy-shared", namespaces=["alpha-db", "beta-jobs"])
    FindingEvent.objects.create(
        finding=spanning,
        at=timezone.now(),
        kind="evidence-changed",
        detail={"evidence": {"ns": ["beta-jobs"]}},
    )
    suppress(spanning, "beta-jobs asked for it", timezone.now() + timedelta(days=3), admin)
    client.force_login(alice)
    page = client.get(f"/findings/{spanning.pk}/").content.decode()
    assert "alpha-db" in page and "beta-jobs" not in page and "beta-app" not in page
    assert "evidence-changed" in page, "the history is shown, its evidence is not"
    assert "suppressed" in page and "asked for it" not in page, "an admin's reason may name the other side"
    rows = {int(r["id"]): r for r in exported(client, alice, "?status=all")}
    assert spanning.pk in rows
    assert rows[spanning.pk]["namespaces"] == "alpha-db" and "beta" not in str(rows[spanning.pk])
    listing = client.get("/findings/?status=all").content.decode()
    assert "beta-jobs" not in listing
    client.force_login(admin)
    assert "beta-jobs" in client.get(f"/findings/{spanning.pk}/").content.decode()


def test_a_findings_page_shows_evidence_remediation_guideline_and_history(client, clusters, admin):
    finding = Finding.objects.get(rule="volume-shared-by-annotation", namespaces=["sandbox"])
    client.force_login(admin)
    page = client.get(f"/findings/{finding.pk}/").content.decode()
    for text in (
        "Remediation",
        "Guideline",
        "At least since",
        "2025-06-01",
        "First seen",
        "opened",
        "Evidence",
    ):
        assert text in page, text
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert "2026-06-01 12:00 UTC" in page and "2026-06-01T12:00" not in page, "dates are read, not ISO"
    listing = client.get("/findings/").content.decode()
    assert "2026-06-01 12:00" in listing and "T12:00" not in listing
    # The namespace page links to it, and the navigation to the list.
    ns_page = client.get("/clusters/prod/namespaces/sandbox/").content.decode()
    assert f'href="/findings/{finding.pk}/"' in ns_page and 'href="/findings/"' in ns_page


def test_an_admin_suppresses_and_lifts_a_finding(client, clusters, admin):
    finding = Finding.objects.get(rule="privileged-container", title__contains="toolbox")
    client.force_login(admin)
    page = client.get(f"/findings/{finding.pk}/").content.decode()
    assert f'action="/findings/{finding.pk}/suppress/"' in page and "csrfmiddlewaretoken" in page
    until = (timezone.now() + timedelta(days=10)).date().isoformat()
    past = (timezone.now() - timedelta(days=1)).date().isoformat()
    refused = client.post(f"/findings/{finding.pk}/suppress/", {"reason": "debug pod", "until": past})
    assert refused.status_code == 400 and not Suppression.objects.exists()
    assert (
        client.post(f"/findings/{finding.pk}/suppress/", {"reason": " ", "until": until}).status_code == 400
    )
    done = client.post(f"/findings/{finding.pk}/suppress/", {"reason": "accepted: debug pod", "until": until})
    assert done.status_code == 302 and done["Location"] == f"/findings/{finding.pk}/"
    assert listed(client, admin, "?status=suppressed") == [finding.pk]
    assert finding.pk not in listed(client, admin)
    page = client.get(f"/findings/{finding.pk}/").content.decode()
    assert "accepted: debug pod" in page and f'action="/findings/{finding.pk}/lift/"' in page
    assert client.post(f"/findings/{finding.pk}/lift/").status_code == 302
    assert finding.pk in listed(client, admin)
    kinds = list(FindingEvent.objects.filter(finding=finding).values_list("kind", flat=True))
    assert kinds[-2:] == ["suppressed", "unsuppressed"]


def test_csrf_is_required_to_suppress(clusters, admin):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin)
    finding = Finding.objects.first()
    until = (timezone.now() + timedelta(days=10)).date().isoformat()
    assert (
        strict.post(f"/findings/{finding.pk}/suppress/", {"reason": "x", "until": until}).status_code == 403
    )
    assert not Suppression.objects.exists()


def test_a_non_admin_never_sees_the_form_and_cannot_post_it(client, clusters, alice):
    own = Finding.objects.get(rule="volume-shared-by-annotation", namespaces=["alpha-web"])
    theirs = Finding.objects.filter(attributions__namespace="beta-app").first()
    client.force_login(alice)
    page = client.get(f"/findings/{own.pk}/").content.decode()
    assert "/suppress/" not in page and "/lift/" not in page
    until = (timezone.now() + timedelta(days=10)).date().isoformat()
    assert client.post(f"/findings/{own.pk}/suppress/", {"reason": "x", "until": until}).status_code == 403
    assert client.post(f"/findings/{theirs.pk}/suppress/", {"reason": "x", "until": until}).status_code == 404
    assert client.post(f"/findings/{own.pk}/lift/").status_code == 403
    assert not Suppression.objects.exists()
    assert client.get(f"/findings/{own.pk}/suppress/").status_code == 405


def test_attributions_restrict_to_the_readers_namespaces(clusters, alice):
    """What the namespace and tenant filters select through (it raised a FieldError for non-admins)."""
    seen = FindingNamespace.objects.restrict(scope_of(alice))
    assert set(seen.values_list("namespace", flat=True)) == {"alpha-web", "alpha-db"}
    assert FindingNamespace.objects.restrict(scope_of(User.objects.create_user("nobody"))).count() == 0


def test_a_row_names_a_few_of_many_namespaces(client, clusters, admin):
    (wide,) = made_findings("prod", "alpha-web", 1)
    Finding.objects.filter(pk=wide.pk).update(namespaces=[f"ns-{n:02}" for n in range(12)])
    client.force_login(admin)
    page = client.get("/findings/?cluster=prod&severity=low").content.decode()
    assert "/namespaces/ns-04/" in page and "/namespaces/ns-05/" not in page and "and 7 more" in page
    (row,) = [r for r in exported(client, admin, "?cluster=prod&severity=low") if int(r["id"]) == wide.pk]
    assert row["namespaces"].split() == [f"ns-{n:02}" for n in range(12)], "the export names them all"
