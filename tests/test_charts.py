"""Charts and violation timelines: findings' lives and the open-findings series are exact, scoped to
what the reader may see, cost the same queries whatever the cluster's size, and reach the pages as
JSON data that the strict CSP lets plotly.js draw."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard import charts, timelines
from dashboard.queries import open_finding_counts
from dashboard.timelines import FindingRow, Span, Window, life_spans, open_series
from exposure.findings import lift_suppression, suppress
from exposure.models import Finding, FindingEvent, NamespaceStatus, Suppression
from inventory.importing import import_dump
from inventory.models import Cluster, Snapshot
from tenancy.access import scope_of
from tenancy.models import Grant
from tenancy.scope import Scope
from tests import factories
from tests.cases.runner import CASES, TAKEN_AT, assemble, configure_cluster
from tests.factories import dashboard_admin, graded_namespaces, made_findings

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def _finding(cluster, namespace, n=0, **fields) -> Finding:
    return factories.finding(cluster, namespace, n, **{"first_seen": T0, **fields})


_suppression = factories.suppression
_events = factories.finding_events


# --- a finding's life and the steps it makes --------------------------------------------------


@pytest.mark.django_db
def test_opened_suppressed_resolved_reopened_makes_exact_spans_and_steps():
    cluster = Cluster.objects.create(name="c1", source=Cluster.Source.OFFLINE)
    # High when it opened, critical since day 7 (the row holds the severity it has now).
    finding = _finding(cluster, "team-a", severity="critical", first_seen=day(0))
    _suppression(finding, created=day(1), expires=day(30), lifted=day(2))
    _events(
        finding,
        [
            (day(0), "opened", {"severity": "high"}),
            (day(4), "resolved", {"why": "no longer seen"}),
            (day(6), "reopened", {"resolved_at": day(4).isoformat()}),
            (day(7), "severity-changed", {"from": "high"}),
        ],
    )
    admin = Scope.everything()
    assert timelines.finding_life(finding, admin, until=day(8)) == [
        Span("open", "high", day(0), day(1)),
        Span("suppressed", "high", day(1), day(2)),
        Span("open", "high", day(2), day(4)),
        Span("resolved", "high", day(4), day(6)),
        Span("open", "high", day(6), day(7)),
        Span("open", "critical", day(7), day(8), ongoing=True),
    ]
    series = timelines.cluster_open_series(cluster, admin, Window(day(-1), day(8)))
    assert series.times == [day(-1), day(0), day(1), day(2), day(4), day(6), day(7)]
    assert series.counts == {"critical": [0, 0, 0, 0, 0, 0, 1], "high": [0, 1, 0, 1, 0, 1, 0]}
    assert series.at_end() == {"critical": 1}
    # A window that starts in the middle starts with what was open then.
    later = timelines.namespace_open_series(cluster, "team-a", admin, Window(day(3), day(8)))
    assert later.times == [day(3), day(4), day(6), day(7)]
    assert later.counts == {"critical": [0, 0, 0, 1], "high": [1, 0, 1, 0]}
    # Before it opened there is nothing; a finding resolved for good before the window is not read.
    assert timelines.cluster_open_series(cluster, admin, Window(day(-5), day(-1))).counts == {}


def test_a_suppression_ends_when_lifted_expired_or_the_evidence_changed_and_resolved_wins():
    row = FindingRow(first_seen=day(0), status="resolved", resolved_at=day(5), severity="medium")
    suppressions = [
        (day(1), day(2), None),  # expires
        (day(2.5), day(30), None),  # made for the evidence before day 3's change
        (day(4), day(30), None),  # still in force when the finding resolved
    ]
    # Resolved without its event (older data): at the row's resolved_at.
    spans = life_spans(row, [(day(3), "evidence-changed", {})], suppressions, until=day(8))
    assert [(s.state, s.start, s.end) for s in spans] == [
        ("open", day(0), day(1)),
        ("suppressed", day(1), day(2)),
        ("open", day(2), day(2.5)),
        ("suppressed", day(2.5), day(3)),
        ("open", day(3), day(4)),
        ("suppressed", day(4), day(5)),
        ("resolved", day(5), day(8)),
    ]
    assert spans[-1].ongoing and not any(s.ongoing for s in spans[:-1])
    series = open_series([spans], Window(day(0), day(8)))
    assert series.times == [day(0), day(1), day(2), day(2.5), day(3), day(4)]  # day 5: none was open
    assert series.counts == {"medium": [1, 0, 1, 0, 1, 0]}
    assert open_series([spans], Window(day(9), day(10))).counts == {}


def test_steps_add_up_findings_and_merge_changes_at_the_same_moment():
    a = [Span("open", "high", day(0), day(2)), Span("resolved", "high", day(2), day(5), ongoing=True)]
    b = [Span("open", "high", day(1), day(5), ongoing=True)]
    c = [Span("open", "low", day(2), day(3)), Span("suppressed", "low", day(3), day(5), ongoing=True)]
    series = open_series([a, b, c], Window(day(0), day(5)))
    assert series.times == [day(0), day(1), day(2), day(3)]
    assert series.counts == {"high": [1, 2, 1, 1], "low": [0, 0, 1, 0]}


# --- scoping: a tenant's series and lives cover only what they may see ------------------------


@pytest.fixture
def clusters(tmp_path):
    """prod (web/hostile-share) and shared (exports/policy-shared): tenants alpha and beta on both."""
    made = {}
    for name, folder in (
        ("prod", CASES / "web" / "hostile-share"),
        ("shared", CASES / "exports" / "policy-shared"),
    ):
        made[name] = configure_cluster(name, {"cluster": {"owner_keys": ["owner.example.com/email"]}})
        assert import_dump(name, assemble(folder, tmp_path / name, {}), taken_at=TAKEN_AT).is_visible
    return made


@pytest.fixture
def alice(clusters):
    """Tenant alpha's reader, on both clusters."""
    user = User.objects.create_user("alice")
    for cluster in clusters.values():
        Grant.objects.create(user=user, cluster=cluster, tenant="alpha")
    return user


WINDOW = Window(TAKEN_AT - timedelta(days=1), TAKEN_AT + timedelta(days=10))


def _chart_data(page: str) -> dict[str, str]:
    """Chart id -> its json_script text, as the page carries it."""
    return dict(re.findall(r'<script id="(chart-[\w-]+)" type="application/json">(.*?)</script>', page, re.S))


@pytest.mark.django_db
@pytest.mark.postgres_too
def test_a_tenants_series_count_only_findings_of_namespaces_they_see(clusters, alice, client):
    prod = clusters["prod"]
    admin, tenant = Scope.everything(), scope_of(alice)
    before = timelines.cluster_open_series(prod, tenant, WINDOW)
    assert before.at_end() and before.at_end() == dict(open_finding_counts(prod, tenant))
    # Tenant beta's findings, of every severity, opened within the window.
    for n, severity in enumerate(["critical", "high", "medium", "low", "info"]):
        _finding(prod, "beta-app", n, severity=severity, first_seen=TAKEN_AT + timedelta(days=2))
    after = timelines.cluster_open_series(prod, tenant, WINDOW)
    assert (after.times, after.counts) == (before.times, before.counts), (
        "beta's findings changed alpha's series"
    )
    everything = timelines.cluster_open_series(prod, admin, WINDOW)
    assert everything.at_end() == dict(open_finding_counts(prod, admin))
    assert sum(everything.at_end().values()) > sum(after.at_end().values())
    # A namespace the reader may not see has no series and no lives, exactly like one that does not exist.
    assert timelines.namespace_open_series(prod, "beta-app", tenant, WINDOW).counts == {}
    assert timelines.namespace_lives(prod, "beta-app", tenant, WINDOW) == ([], 0)
    assert timelines.namespace_open_series(prod, "beta-app", admin, WINDOW).counts != {}
    # Grades: only the namespaces the reader sees.
    graded = NamespaceStatus.objects.filter(cluster=prod, valid_to=None).exclude(namespace="")
    seen = graded.filter(namespace__in=scope_of(alice).visible_in(prod.pk))
    assert 0 < sum(timelines.grade_distribution(prod, tenant).values()) == seen.count() < graded.count()


@pytest.mark.django_db
def test_a_tenants_chart_data_names_nothing_of_the_other_tenant(clusters, alice, client):
    prod = clusters["prod"]
    shared = Finding.objects.get(
        cluster=prod, rule="volume-shared-by-annotation", attributions__namespace="alpha-web"
    )
    assert any("beta-app" in ref for ref in shared.refs), "the case shares a volume between alpha and beta"
    client.force_login(alice)
    pages = {
        "/": {"chart-open-", "chart-grades-"},
        "/clusters/prod/namespaces/alpha-web/": {"chart-namespace-open", "chart-namespace-lives"},
        f"/findings/{shared.pk}/": {"chart-finding-life"},
    }
    for url, expected in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        data = _chart_data(response.content.decode())
        assert all(any(chart.startswith(e) for chart in data) for e in expected), (url, list(data))
        for chart, text in data.items():
            figure = json.loads(text)
            assert figure["data"] is not None and figure["layout"], chart
            assert "beta" not in text, (url, chart)
    lives = json.loads(
        _chart_data(client.get("/clusters/prod/namespaces/alpha-web/").content.decode())[
            "chart-namespace-lives"
        ]
    )
    titles = [point["about"] for trace in lives["data"] for point in trace["customdata"]]
    assert any("involving namespaces of another tenant" in t for t in titles), "the shared finding, redacted"
    # The admin's view of the same chart names the other side: redaction is per reader.
    client.force_login(dashboard_admin())
    admin_page = client.get("/clusters/prod/namespaces/alpha-web/").content.decode()
    assert "beta-app" in _chart_data(admin_page)["chart-namespace-lives"]


@pytest.mark.django_db
def test_cluster_text_in_a_chart_is_text_for_plotly(clusters):
    prod = clusters["prod"]
    _finding(prod, "alpha-web", 1, title='<a href="https://evil.example">x</a><span style="x">&</span>')
    lives, total = timelines.namespace_lives(prod, "alpha-web", Scope.everything(), WINDOW)
    figure = charts.finding_lives_chart(lives, total, WINDOW)["figure"]
    abouts = [point["about"] for trace in figure["data"] for point in trace["customdata"]]
    hostile = next(a for a in abouts if "evil" in a)
    assert "<" not in hostile and ">" not in hostile and "&amp;" in hostile
    assert (
        hostile == '&lt;a href="https://evil.example"&gt;x&lt;/a&gt;&lt;span style="x"&gt;&amp;&lt;/span&gt;'
    )


# --- cost: the same queries for a few or many findings and namespaces -------------------------


def _grow(cluster, namespace: str, count: int) -> None:
    """`count` more findings in `namespace`, each resolved and reopened and once suppressed, and as many
    graded namespaces more."""
    made = made_findings(
        cluster, namespace, count, severities=("critical", "high", "medium", "low", "info"), prefix="grown"
    )
    FindingEvent.objects.bulk_create(
        [
            FindingEvent(finding=f, at=TAKEN_AT + timedelta(days=d), kind=kind)
            for f in made
            for d, kind in ((1, "resolved"), (2, "reopened"))
        ]
    )
    Suppression.objects.bulk_create(
        [
            Suppression(finding=f, reason="r", expires_at=TAKEN_AT + timedelta(days=3), evidence_key="k")
            for f in made
        ]
    )
    Suppression.objects.filter(finding__in=made).update(created_at=TAKEN_AT + timedelta(days=2, hours=12))
    graded_namespaces(cluster, [f"grown-{n}" for n in range(count)], grade="B", counts={"low": 1})


@pytest.fixture
def own_cache(settings):
    """A cache of this test's own, which it may empty: the production pass's Redis is shared with the
    tests of other processes (their login counts, their scopes), never to be flushed."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "charts"}
    }


def _next_snapshot(cluster, now) -> None:
    """The cluster's second snapshot, finished: what the admins' kept values are kept until."""
    Snapshot.objects.create(
        cluster=cluster,
        seq=2,
        status=Snapshot.Status.COMPLETE,
        taken_at=now,
        finished_at=now + timedelta(seconds=1),
    )


def _queries(call) -> int:
    """The queries of `call` computing everything (no series kept from an earlier call)."""
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


@pytest.mark.django_db
@pytest.mark.postgres_too
def test_readers_and_pages_cost_the_same_queries_for_few_or_many_findings(clusters, alice, client, own_cache):
    prod = clusters["prod"]
    admin_user = dashboard_admin()
    finding = Finding.objects.filter(cluster=prod, attributions__namespace="alpha-web").first()
    # Each read is given a Cluster instance of its own, as each page has (readers are kept per instance).
    readers = {
        "window": lambda scope, cluster: timelines.window_of(cluster, scope),
        "cluster series": lambda scope, cluster: timelines.cluster_open_series(cluster, scope, WINDOW),
        "namespace series": lambda scope, cluster: timelines.namespace_open_series(
            cluster, "alpha-web", scope, WINDOW
        ),
        "grades": lambda scope, cluster: timelines.grade_distribution(cluster, scope),
        "finding life": lambda scope, cluster: timelines.finding_life(finding, scope),
        "lives": lambda scope, cluster: timelines.namespace_lives(cluster, "alpha-web", scope, WINDOW),
        "cluster charts": lambda scope, cluster: charts.cluster_charts(cluster, scope),
        "namespace charts": lambda scope, cluster: charts.namespace_charts(cluster, "alpha-web", scope),
    }
    pages = ["/", "/clusters/prod/namespaces/alpha-web/", f"/findings/{finding.pk}/"]
    users = {"admin": admin_user, "alice": alice}

    def measure() -> dict:
        costs = {}
        for who, user in users.items():
            scope = scope_of(user)
            for name, read in readers.items():
                cluster = Cluster.objects.get(pk=prod.pk)
                costs[who, name] = _queries(lambda read=read, scope=scope, c=cluster: read(scope, c))
            client.force_login(user)
            for url in pages:
                costs[who, url] = _queries(lambda url=url: client.get(url))
        return costs

    few = measure()
    _grow(prod, "alpha-web", 300)
    many = measure()
    assert many == few
    assert few["admin", "cluster series"] == 3, "the findings, their events, their suppressions"
    assert few["admin", "finding life"] == 2
    assert few["admin", "grades"] == 1
    # The readers really read the grown findings (else equal counts prove nothing).
    grown = timelines.namespace_open_series(prod, "alpha-web", scope_of(alice), WINDOW).counts["critical"]
    at = timelines.namespace_open_series(prod, "alpha-web", scope_of(alice), WINDOW).times.index
    assert grown[at(TAKEN_AT)] - grown[at(TAKEN_AT + timedelta(days=1))] == 60, "resolved on day 1"
    assert grown[at(TAKEN_AT + timedelta(days=2))] - grown[at(TAKEN_AT + timedelta(days=2, hours=12))] == 60


# --- on the page: data as JSON, drawn under the strict CSP, colours of the stylesheet -------------


@pytest.mark.django_db
def test_chart_pages_carry_figures_as_json_data_and_load_the_strict_build(clusters, client):
    client.force_login(dashboard_admin())
    finding = Finding.objects.filter(cluster=clusters["prod"]).first()
    for url in ["/", "/clusters/prod/namespaces/alpha-web/", f"/findings/{finding.pk}/"]:
        page = client.get(url).content.decode()
        scripts = re.findall(r"<script\b([^>]*)>", page)
        assert scripts and all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts), (
            url
        )
        assert "vendor/plotly-strict.min.js" in page and "js/charts.js" in page, url
        assert 'id="plotly.js-style-global" class="no-inline-styles"' in page, url
        assert not re.search(r"<style|\sstyle=", page), url
        summaries = re.findall(r'<p class="chart-summary">(.+?)</p>', page, re.S)
        assert summaries and len(summaries) == len(_chart_data(page)), "every chart says it in words"
        for chart, text in _chart_data(page).items():
            for string in _strings(json.loads(text)):
                assert not PLOTLY_STYLED_MARKUP.search(string), (url, chart, string)


# plotly.js draws <b>, <i>, <sup>, <sub>, <span style>, <a> in labels with a style attribute, which the CSP
# refuses (a console error, the styling lost); <br> and hovertemplate's <extra> carry none.
PLOTLY_STYLED_MARKUP = re.compile(r"<(?!br>|extra>|/extra>)[a-z/]", re.I)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def test_chart_colours_are_the_stylesheets_severity_and_grade_colours():
    css = (ROOT / "static" / "css" / "dashboard.css").read_text()

    def declared(selector: str) -> str:
        return " ".join(re.findall(rf"{re.escape(selector)}\s*\{{([^}}]*)\}}", css))

    for severity, colour in charts.SEVERITY_COLOURS.items():
        assert colour in declared(f".sev-{severity}"), severity
    for grade, colour in charts.GRADE_COLOURS.items():
        assert colour in declared(f".grade-{grade}"), grade


def test_no_style_element_of_the_installed_plotly_js_is_left_to_inject():
    """The strict CSP refuses <style> elements: every one the bundle would add on load must be
    pre-empted by an element with its id in chart_scripts.html (its own rules come from our
    stylesheet through the no-inline-styles link)."""
    bundle = ROOT / "static" / "vendor" / "plotly-strict.min.js"
    assert bundle.exists(), "run `make static/vendor/plotly-strict.min.js` (make test does)"
    text = bundle.read_text(encoding="utf-8")
    guarded = re.findall(r'getElementById\("([^"]+)"\)\)\{var \w+=document\.createElement\("style"\)', text)
    assert guarded, (
        "the bundle's injection of the map library's styles is no longer where it was: check again"
    )
    scripts = (
        Path(settings.TEMPLATES[0]["DIRS"][0]) / "dashboard" / "parts" / "chart_scripts.html"
    ).read_text()
    for element_id in guarded:
        assert f'id="{element_id}"' in scripts, element_id
    assert 'id="plotly.js-style-global" class="no-inline-styles"' in scripts
    assert '"plotly.js-style-"+' in text and ".no-inline-styles" in text, "plotly.js's opt-out is still there"


@pytest.mark.django_db
def test_the_admins_cluster_series_is_kept_until_something_it_shows_can_move(clusters, own_cache):
    """The overview's (`kept`).  Kept: the next request asks two queries.  Moved by a suppression made,
    lifted or expiring, by a new snapshot; a kept series extends to a later end of the same window."""
    prod, admin = clusters["prod"], Scope.everything()
    cache.clear()
    now = timezone.now()
    window = timelines.window_of(prod, admin, until=now)
    first = timelines.cluster_open_series(prod, admin, window, kept=True)
    later = Window(window.start, now + timedelta(minutes=5))
    assert _kept_queries(lambda: timelines.cluster_open_series(prod, admin, later, kept=True)) == 2
    assert timelines.cluster_open_series(prod, admin, later, kept=True).counts == first.counts

    finding = Finding.objects.filter(cluster=prod, status="open").exclude(severity="info").first()
    severity = finding.severity
    suppress(finding, "accepted", now + timedelta(hours=1))
    after = Window(window.start, now + timedelta(minutes=10))
    suppressed = timelines.cluster_open_series(prod, admin, after, kept=True)
    assert suppressed.at_end().get(severity, 0) == first.at_end()[severity] - 1
    expired = Window(window.start, now + timedelta(hours=2))  # past the expiry: open again
    assert timelines.cluster_open_series(prod, admin, expired, kept=True).at_end() == first.at_end()
    lift_suppression(finding)
    assert timelines.cluster_open_series(prod, admin, after, kept=True).at_end() == first.at_end()

    Finding.objects.filter(pk=finding.pk).update(status="resolved", resolved_at=now, resolved_seq=2)
    assert timelines.cluster_open_series(prod, admin, after, kept=True).at_end() == first.at_end(), (
        "kept: no snapshot"
    )
    _next_snapshot(prod, now)  # findings move with a snapshot
    moved = timelines.cluster_open_series(prod, admin, after, kept=True).at_end()
    assert moved.get(severity, 0) == first.at_end()[severity] - 1


def _kept_queries(call) -> int:
    with CaptureQueriesContext(connection) as captured:
        call()
    return len(captured)


@pytest.mark.django_db
def test_the_admins_open_finding_counts_are_kept_until_a_finding_can_move(
    clusters, alice, own_cache, monkeypatch
):
    """The overview's and the namespaces list's counts over every finding (dashboard/kept_counts.py):
    an admin's kept (two queries), moved by a suppression made, lifted or expiring and by a new
    snapshot; a tenant's never kept."""
    from dashboard import kept_counts
    from dashboard.namespace_list import open_findings_by_namespace

    prod, admin = clusters["prod"], Scope.everything()
    cache.clear()
    first, by_namespace = dict(open_finding_counts(prod, admin)), open_findings_by_namespace(prod, admin)
    assert _kept_queries(lambda: open_finding_counts(prod, admin)) == 2
    assert _kept_queries(lambda: open_findings_by_namespace(prod, admin)) == 2
    tenant = scope_of(alice)
    assert _kept_queries(lambda: open_finding_counts(prod, tenant)) == _queries(
        lambda: open_finding_counts(prod, tenant)
    ), "a tenant's counts are read each time"

    finding = (
        Finding.objects.filter(cluster=prod, status="open", cluster_wide=False)
        .exclude(attributions=None)
        .first()
    )
    severity, namespace = finding.severity, finding.attributions.first().namespace
    now = timezone.now()
    suppress(finding, "accepted", now + timedelta(hours=1))
    assert dict(open_finding_counts(prod, admin)).get(severity, 0) == first[severity] - 1
    assert open_findings_by_namespace(prod, admin).get(namespace, {}).get(severity, 0) == (
        by_namespace[namespace][severity] - 1
    )
    later = now + timedelta(hours=2)  # past the expiry: open again
    monkeypatch.setattr(kept_counts.timezone, "now", lambda: later)
    assert dict(open_finding_counts(prod, admin)) == first
    monkeypatch.undo()
    lift_suppression(finding)
    assert dict(open_finding_counts(prod, admin)) == first
    assert open_findings_by_namespace(prod, admin) == by_namespace

    Finding.objects.filter(pk=finding.pk).update(status="resolved", resolved_at=now, resolved_seq=2)
    assert dict(open_finding_counts(prod, admin)) == first, "kept: no snapshot"
    _next_snapshot(prod, now)  # findings move with a snapshot
    assert dict(open_finding_counts(prod, admin)).get(severity, 0) == first[severity] - 1
    assert open_findings_by_namespace(prod, admin).get(namespace, {}).get(severity, 0) == (
        by_namespace[namespace][severity] - 1
    )
