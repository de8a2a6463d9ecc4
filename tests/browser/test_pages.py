"""The pages in a real browser, as people use them: an admin logs in, reads the overview and its
charts, filters findings, opens a namespace's exposure view and suppresses a finding; tenant A's
reader tries to reach tenant B by URL, filter and export, and fails; the findings filter and table
work with the keyboard.  Every page is watched for CSP violations, console and page errors and
failed requests (conftest.Watch); screenshots of the main pages land in test-artifacts/screenshots/.

The world is the canary's (tests/test_canary.py): clusters hostile-share and policy-shared, tenant A
(alpha, user alice) and tenant B, whose namespaces carry the marker and share nodes, a volume and an
export policy with A's.
"""

import csv
import io
import re
from datetime import date, timedelta

import pytest
from django.template import Context, Template
from playwright.sync_api import expect

from dashboard.security_headers import content_security_policy
from exposure.models import Finding
from tests.browser.conftest import PAPER_WIDTH, printed, printout, screenshot
from tests.factories import dashboard_admin
from tests.test_canary import CANARY, MARKER

pytestmark = pytest.mark.browser

ADMIN = ("root", "pw-root-browser-1")
TENANT_A = ("alice", "pw-alice-1")  # the canary world's tenant A, granted tenant alpha on both clusters
B_NAMESPACE = CANARY["hostile-share"][1]
B_TENANT = f"beta-{MARKER}"
NARROW = 1024


@pytest.fixture
def admin(world):
    user = dashboard_admin(ADMIN[0])
    user.set_password(ADMIN[1])
    user.save()
    return user


def log_in(page, username: str, password: str, watch) -> None:
    """As a person does: the login form the dashboard sends them to, submitted with Enter."""
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/$"))
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.locator("header.top .who")).to_contain_text(username)
    watch.check(page)


def open_page(page, path: str, watch, status: int = 200):
    if status != 200:
        watch.expect(path, status)
    response = page.goto(path)
    assert response.status == status, f"{path} answered {response.status}"
    watch.check(page)
    return response


def table_column(page, table: str, header: str) -> list[str]:
    """The texts of one column of a table, found by its header's text."""
    headers = [h.strip() for h in page.locator(f"{table} thead th").all_inner_texts()]
    index = next(i for i, text in enumerate(headers) if text.startswith(header)) + 1
    return [t.strip() for t in page.locator(f"{table} tbody tr td:nth-child({index})").all_inner_texts()]


# --- the harness itself ------------------------------------------------------------------------


def test_the_watch_fails_a_page_that_breaks_the_policy(page, watch):
    """The harness must be able to fail: a page with inline script, an inline style, a console error,
    an uncaught error and a missing file is reported on every count."""
    open_page(page, "/login/", watch)
    page.evaluate(
        """() => {
        const script = document.createElement("script");
        script.textContent = "window.inlineRan = true";
        document.body.appendChild(script);
        document.body.setAttribute("style", "color: red");
        const image = document.createElement("img");
        image.src = "/static/no-such-image.png";
        document.body.appendChild(image);
        console.error("something broke");
        setTimeout(() => { throw new Error("uncaught"); }, 0);
    }"""
    )
    page.wait_for_timeout(100)
    with pytest.raises(AssertionError) as failure:
        watch.check(page)
    report = str(failure.value)
    assert "CSP violation" in report and "'script-src-elem'" in report and "'style-src-attr'" in report
    assert "console error: something broke" in report
    assert "page error: uncaught" in report
    assert "404 for GET" in report and "/static/no-such-image.png" in report
    assert page.evaluate("() => window.inlineRan === undefined"), "the CSP did not stop the inline script"
    watch.problems.clear()  # all seen: the test's own end-of-test check must pass


# A page that exists only in this test (served by the browser's router, never by the product): the
# real chart includes and static files under the product's CSP, so charts are known to draw before
# any page has one.
CHART_PAGE = Template(
    """{% load static %}<!doctype html><html lang="en"><head><title>charts</title>
<link rel="stylesheet" href="{% static 'css/dashboard.css' %}">
{% include "dashboard/parts/chart_scripts.html" %}</head><body><main>
{% for chart in charts %}{% include "dashboard/parts/chart.html" %}{% endfor %}
{% if broken %}<div class="chart" data-figure="no-such-figure"></div>{% endif %}
</main></body></html>"""
)
CHARTS = [
    {
        "id": "bars",
        "title": "Open findings by severity",
        "summary": "2 high, 1 medium",
        "figure": {
            "data": [{"type": "bar", "x": ["high", "medium"], "y": [2, 1]}],
            "layout": {"height": 260, "margin": {"t": 20, "b": 40}},
        },
    },
    {
        "id": "sankey",
        "title": "Who reaches the data",
        "summary": "a pod of another tenant reaches one volume through a shared node",
        "figure": {
            "data": [
                {
                    "type": "sankey",
                    "node": {"label": ["a pod of another tenant", "node worker-1", "volume data"]},
                    "link": {"source": [0, 1], "target": [1, 2], "value": [1, 1]},
                }
            ],
            "layout": {"height": 260, "margin": {"t": 20, "b": 20}},
        },
    },
]


def serve_test_page(page, path: str, html: str) -> None:
    headers = {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": content_security_policy(),
    }
    page.route(f"**{path}", lambda route: route.fulfill(status=200, headers=headers, body=html))


def test_charts_draw_under_the_strict_csp_and_the_watch_notices_one_that_does_not(page, watch, live_server):
    serve_test_page(page, "/test-only/charts/", CHART_PAGE.render(Context({"charts": CHARTS})))
    open_page(page, "/test-only/charts/", watch)  # the watch waits for every chart, drawn
    expect(page.locator('.chart[data-drawn="true"]')).to_have_count(2)
    expect(page.locator(".chart[data-figure=sankey] .sankey")).to_have_count(1)
    screenshot(page, "charts-under-csp")

    serve_test_page(
        page, "/test-only/broken-chart/", CHART_PAGE.render(Context({"charts": [], "broken": True}))
    )
    page.goto("/test-only/broken-chart/")
    with pytest.raises(AssertionError, match=r"1 chart\(s\) could not be drawn"):
        watch.check(page)
    page.goto("about:blank")  # off the broken page, which the end-of-test check would report again
    watch.problems.clear()


# --- an admin --------------------------------------------------------------------------------------


def test_an_admin_reads_the_overview_filters_findings_and_opens_a_namespace(page, watch, admin):
    log_in(page, *ADMIN, watch)
    screenshot(page, "overview")

    page.get_by_role("link", name="hostile-share", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/clusters/hostile-share/$"))
    watch.check(page)
    screenshot(page, "cluster")

    # A namespace's exposure view: its paths, listed.
    page.get_by_role("link", name="alpha-web", exact=True).first.click()
    expect(page).to_have_url(re.compile(r"/clusters/hostile-share/namespaces/alpha-web/$"))
    # Paths from outside its trust boundary, grouped by actor, each rule's paths folded: unfold them.
    groups = page.locator("section.path-group:not(.path-group-inside)")
    expect(groups.first).to_be_visible()
    summaries = groups.locator("details.rule-paths > summary")
    for i in range(summaries.count()):
        summaries.nth(i).click()
    outside = groups.locator("li.path")
    expect(outside.first).to_be_visible()
    assert outside.count() >= 1
    expect(outside.filter(has_text=B_NAMESPACE).first).to_be_visible()  # an admin sees who it is
    watch.check(page)
    screenshot(page, "namespace")
    printout(page, "namespace-print")

    page.get_by_role("navigation").get_by_role("link", name="Findings").click()
    expect(page).to_have_url(re.compile(r"/findings/$"))
    watch.check(page)
    everything = table_column(page, "table.findings", "Cluster")
    assert {"hostile-share", "policy-shared"} <= set(everything)
    screenshot(page, "findings")
    screenshot(page, "findings-narrow", width=NARROW)
    printout(page, "findings-print")
    with printed(page):  # on paper: the list, not the controls, and nothing cut at the page's edge
        for control in ("header.top nav", "form.filters"):
            assert page.locator(control).evaluate("(e) => getComputedStyle(e).display") == "none", control
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PAPER_WIDTH
        expect(page.locator("table.findings")).to_be_visible()

    form = page.get_by_role("form", name="Filter findings")
    form.get_by_label("Cluster", exact=True).select_option("policy-shared")
    form.get_by_label("Status", exact=True).select_option("all")
    form.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"cluster=policy-shared"))
    watch.check(page)
    filtered = table_column(page, "table.findings", "Cluster")
    assert filtered and set(filtered) == {"policy-shared"}
    expected = Finding.objects.filter(cluster__name="policy-shared").count()
    expect(page.locator("p.counts")).to_contain_text(f"{expected} finding")
    # The form shows what it filters by.
    expect(form.get_by_label("Cluster", exact=True)).to_have_value("policy-shared")


def assert_charts_drawn(page, watch, name: str) -> None:
    assert page.locator(".chart[data-figure]").count() > 0, f"{page.url} has no chart"
    expect(page.locator('.chart[data-drawn="true"]').first).to_be_visible()
    watch.check(page)  # every chart drawn, none unavailable, no CSP violation on the way
    screenshot(page, name)


def test_the_overview_draws_its_charts(page, watch, admin):
    log_in(page, *ADMIN, watch)
    assert_charts_drawn(page, watch, "overview-charts")


def test_a_namespace_view_draws_its_exposure_diagram(page, watch, admin):
    log_in(page, *ADMIN, watch)
    open_page(page, "/clusters/hostile-share/namespaces/alpha-web/", watch)
    assert_charts_drawn(page, watch, "namespace-diagram")
    expect(page.locator(".chart g.sankey").first).to_be_attached()  # the actors-to-volumes diagram


# Closed <details> during a print: recorded by a listener added after static/js/print.js's.
RECORD_PRINT = """() => { window.closedWhilePrinting = [];
  window.addEventListener("beforeprint", () => window.closedWhilePrinting.push(
    document.querySelectorAll("details:not([open])").length)); }"""


def test_a_printout_shows_what_folded_details_hold(page, watch, admin):
    log_in(page, *ADMIN, watch)
    open_page(page, "/clusters/hostile-share/namespaces/alpha-web/", watch)
    folded = page.locator("details.rule-paths li.path").first
    expect(folded).to_be_hidden()
    with printed(page):  # the print stylesheet, where the browser lets it reach a folded content
        expect(folded).to_be_visible()
    expect(folded).to_be_hidden()
    # Printing opens every folded one (static/js/print.js) and folds them back after, leaving open
    # the ones the reader opened.
    page.locator("details.rule-paths > summary").first.click()
    closed = page.locator("details:not([open])").count()
    assert closed > 0
    page.evaluate(RECORD_PRINT)
    printout(page, "namespace-folded-print")  # Chromium's own print: beforeprint, afterprint
    assert page.evaluate("() => window.closedWhilePrinting") == [0]
    assert page.locator("details:not([open])").count() == closed
    expect(page.locator("details.rule-paths").first).to_have_attribute("open", "")
    watch.check(page)


def test_an_admin_suppresses_a_finding_and_it_stays_listed_greyed(page, watch, admin):
    finding = Finding.objects.filter(cluster__name="hostile-share", resolved_at__isnull=True).first()
    log_in(page, *ADMIN, watch)
    open_page(page, f"/findings/{finding.pk}/", watch)
    until = date.today() + timedelta(days=14)
    page.get_by_label("Reason").fill("Accepted until the storage network is split")
    page.get_by_label("Until").fill(until.isoformat())
    page.get_by_role("button", name="Suppress").click()
    expect(page).to_have_url(re.compile(rf"/findings/{finding.pk}/$"))
    status = page.locator("table.facts tr", has_text="Status").locator("td")
    expect(status).to_contain_text(f"suppressed: accepted by {ADMIN[0]} until {until.isoformat()} 00:00 UTC")
    expect(status).to_contain_text("Accepted until the storage network is split")
    expect(page.get_by_role("button", name="Lift the suppression")).to_be_visible()
    watch.check(page)
    screenshot(page, "finding-suppressed")

    open_page(page, "/findings/?status=all", watch)
    screenshot(page, "findings-with-suppressed")
    row = page.locator(f"table.findings tbody tr:has(a[href='/findings/{finding.pk}/'])")
    expect(row).to_have_class(re.compile(r"\bfinding-suppressed\b"))
    expect(row.locator("td").nth(2)).to_have_text("suppressed")
    open_colour = page.locator("table.findings tbody tr.finding-open td").first.evaluate(
        "(cell) => getComputedStyle(cell).color"
    )
    greyed = row.locator("td").nth(1).evaluate("(cell) => getComputedStyle(cell).color")
    assert greyed != open_colour, "a suppressed finding is greyed"


# --- a tenant --------------------------------------------------------------------------------------


def test_a_tenant_cannot_reach_another_tenants_namespace_by_url_filter_or_export(page, watch, world):
    log_in(page, *TENANT_A, watch)
    expect(page.locator("main")).not_to_contain_text(MARKER)

    # By URL: B's namespace answers exactly as a namespace that does not exist.
    answers = []
    for namespace in (B_NAMESPACE, "nx0q"):
        open_page(page, f"/clusters/hostile-share/namespaces/{namespace}/", watch, status=404)
        expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
        assert MARKER not in page.content()
        answers.append((page.title(), page.locator("main").inner_text()))
    assert answers[0] == answers[1]
    screenshot(page, "not-found")

    # A's own namespace shows that another tenant reaches it, without naming it.
    open_page(page, "/clusters/hostile-share/namespaces/alpha-web/", watch)
    expect(page.locator("ul.paths").first).to_contain_text("another tenant")
    assert MARKER not in page.content()
    screenshot(page, "namespace-tenant")

    # By the findings filter: B's namespace typed in selects nothing; B's tenant is not offered.
    open_page(page, "/findings/?status=all", watch)
    assert MARKER not in page.content()
    mine = table_column(page, "table.findings", "Namespaces")
    assert mine, "A's findings are listed"
    form = page.get_by_role("form", name="Filter findings")
    tenants = form.get_by_label("Tenant", exact=True).locator("option").all_inner_texts()
    assert "alpha" in tenants and B_TENANT not in tenants and not any(MARKER in t for t in tenants)
    form.get_by_label("Namespace", exact=True).fill(B_NAMESPACE)
    form.get_by_label("Namespace", exact=True).press("Enter")
    expect(page).to_have_url(re.compile(rf"namespace={B_NAMESPACE}"))
    expect(page.locator("table.findings tbody")).to_have_text("No finding matches.")
    # What was typed is echoed (in the field and the sort links), exactly as for a name of nothing.
    assert MARKER not in page.locator("main").inner_text()
    watch.check(page)
    # By export: the CSV of what is filtered (B's namespace) is empty; the whole CSV holds none of B.
    assert _exported(page, watch) == []
    open_page(page, "/findings/?status=all", watch)
    rows = _exported(page, watch)
    assert rows and all(MARKER not in value for row in rows for value in row.values())
    assert any("alpha" in row["namespaces"] for row in rows)

    # B's tenant, written into the address: not a value offered here, so nothing is listed, and
    # there is nothing to export (the CSV itself answers 400 to it, as to any invalid filter).
    open_page(page, f"/findings/?tenant={B_TENANT}&status=all", watch)
    expect(page.locator("table.findings tbody")).to_have_text("No finding matches.")
    expect(page.get_by_role("alert")).to_contain_text("Some filters are not valid")
    expect(page.get_by_role("link", name="Export these as CSV")).to_have_count(0)
    assert MARKER not in page.locator("main").inner_text()


def _exported(page, watch) -> list[dict]:
    """The CSV the page's export link downloads, read as rows."""
    with page.expect_download() as download:
        page.get_by_role("link", name="Export these as CSV").click()
    text = open(download.value.path(), encoding="utf-8").read()
    watch.check(page)
    return list(csv.DictReader(io.StringIO(text)))


# --- the keyboard ----------------------------------------------------------------------------------


def tab_to(page, selector: str, limit: int = 60) -> None:
    """Press Tab until the element `selector` names has the focus (it must be reachable by Tab)."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} is not reachable with Tab")


def test_the_findings_filter_table_and_pages_work_with_the_keyboard(page, watch, admin, monkeypatch):
    monkeypatch.setattr("dashboard.views.findings.FINDINGS_PER_PAGE", 3)  # a few pages of this world's
    open_page(page, "/login/", watch)
    screenshot(page, "login")
    tab_to(page, "#id_username")
    page.keyboard.type(ADMIN[0])
    tab_to(page, "#id_password")
    page.keyboard.type(ADMIN[1])
    page.keyboard.press("Enter")
    expect(page.locator("header.top .who")).to_contain_text(ADMIN[0])

    open_page(page, "/findings/", watch)
    tab_to(page, "#id_status")
    page.keyboard.press("End")  # the last status offered: all
    expect(page.locator("#id_status")).to_have_value("all")
    tab_to(page, "input[name=severity][value=high]")
    page.keyboard.press("Space")
    expect(page.locator("input[name=severity][value=high]")).to_be_checked()
    tab_to(page, "form.filters button[type=submit]")
    assert _outlined(page), "the focused button shows it has the focus"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"status=all.*severity=high"))
    watch.check(page)
    severities = table_column(page, "table.findings", "Severity")
    assert severities and set(severities) == {"high"}
    screenshot(page, "findings-pages")

    # The next page, from the keyboard: the same filter, the next rows.
    tab_to(page, "nav.pages a[rel=next]")
    page.keyboard.press("Enter")
    expect(page.locator("nav.pages")).to_contain_text("Page 2 of")
    expect(page).to_have_url(re.compile(r"severity=high.*page=2"))
    assert set(table_column(page, "table.findings", "Severity")) == {"high"}
    watch.check(page)

    # The sortable header, then a finding, from the keyboard.
    tab_to(page, "table.findings thead a")
    assert _outlined(page), "the focused link shows it has the focus"
    page.keyboard.press("Enter")
    expect(page.locator("table.findings thead th[aria-sort]")).to_have_attribute("aria-sort", "ascending")
    tab_to(page, "table.findings tbody a[href^='/findings/']")
    target = page.evaluate("() => document.activeElement.getAttribute('href')")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(target) + "$"))
    watch.check(page)


def _outlined(page) -> bool:
    style = page.evaluate(
        "() => { const s = getComputedStyle(document.activeElement);"
        " return [s.outlineStyle, s.outlineWidth, s.boxShadow]; }"
    )
    return (style[0] != "none" and style[1] != "0px") or style[2] != "none"
