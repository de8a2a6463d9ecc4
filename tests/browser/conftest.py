"""The browser tests' harness: Debian's headless Chromium driven through Playwright, against
pytest-django's live server (loopback) with the real static files, the strict plotly.js build included.

One browser serves the whole package (it launches in about half a second).  Every page a test opens
is watched (`Watch`): a Content-Security-Policy violation, a console error, an uncaught page error,
a failed or refused same-origin request, or any request leaving the live server fails the test.
Screenshots of the main pages are kept in test-artifacts/screenshots/ (gitignored).
"""

from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import sync_playwright

from tests.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.test_canary import world  # noqa: F401 (the canary's two tenants: the pages' world here too)

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
PLOTLY = ROOT / "static" / "vendor" / "plotly-strict.min.js"
LAPTOP = {"width": 1366, "height": 768}
# A chart is settled once charts.js marked it drawn (data-drawn) or gave up on it (chart-unavailable).
CHARTS_SETTLED = """() => Array.from(document.querySelectorAll(".chart[data-figure]")).every(
  (chart) => chart.dataset.drawn === "true" || chart.classList.contains("chart-unavailable"))"""
CHART_TIMEOUT_MS = 10_000

# Each violation, as the page reports it, handed to Python at once (so a page navigated away from
# still counts).  Init scripts come through the DevTools protocol: the CSP does not apply to them.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (e) {
  window.reportCspViolation({directive: e.violatedDirective, blocked: e.blockedURI,
                             source: e.sourceFile, line: e.lineNumber, sample: e.sample});
}, true);
"""


@pytest.fixture(scope="session")
def browser_type_launch_args():
    """pytest-playwright's launch options: Debian's Chromium, never a downloaded one."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make system-deps` (as root) installs Debian's chromium")
    return {"executable_path": str(CHROMIUM), "headless": True, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="package")
def playwright():
    """Playwright for this package only, not the session (pytest-playwright's default).

    Its sync API runs an asyncio loop in a greenlet of the test's thread, so while it lives Django
    believes it is called from async code and refuses the ORM (SynchronousOnlyOperation), our own
    calls and pytest-django's flush alike.  They are synchronous and safe: the check is switched off
    while Playwright lives and restored, with the loop stopped, before any other test runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as started:
            yield started


@pytest.fixture(scope="package")
def browser(playwright, browser_type_launch_args):
    browser = playwright.chromium.launch(**browser_type_launch_args)
    yield browser
    browser.close()


@pytest.fixture(scope="package")
def browser_context_args(live_server):
    if not PLOTLY.exists():
        pytest.fail(f"{PLOTLY.relative_to(ROOT)} is missing: `make {PLOTLY.relative_to(ROOT)}` installs it")
    return {"base_url": live_server.url, "viewport": LAPTOP, "locale": "en-GB", "timezone_id": "UTC"}


class Watch:
    """What went wrong on the pages of one browser context, and what the test said to expect."""

    def __init__(self, context, origin: str):
        self.origin = origin
        self.problems: list[str] = []
        self.expected: dict[str, int] = {}  # path -> status the test asked for (a 404 on purpose)
        self.pages: list = []
        context.expose_function("reportCspViolation", self._csp_violation)
        context.add_init_script(REPORT_CSP_VIOLATIONS)
        context.on("page", self.watch_page)
        context.on("request", self._request)
        context.on("response", self._response)
        context.on("requestfailed", self._request_failed)

    def watch_page(self, page) -> None:
        if page in self.pages:
            return
        self.pages.append(page)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))

    def expect(self, path: str, status: int) -> None:
        self.expected[path] = status

    def _same_origin(self, url: str) -> bool:
        return url.startswith(self.origin + "/") or url == self.origin

    def _is_expected(self, url: str, status: int) -> bool:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return self._same_origin(url) and self.expected.get(path) == status

    def _csp_violation(self, report: dict) -> None:
        self.problems.append(f"CSP violation: {report}")

    def _console(self, message) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        if message.text.startswith("Failed to load resource") and any(
            self._is_expected(url, status) for status in set(self.expected.values())
        ):
            return  # the browser's own note on a 404 the test asked for
        self.problems.append(f"console error: {message.text} ({url})")

    def _request(self, request) -> None:
        leaves = urlsplit(request.url).scheme in ("http", "https", "ws", "wss")
        if leaves and not self._same_origin(request.url):
            self.problems.append(f"request leaving the live server: {request.method} {request.url}")

    def _response(self, response) -> None:
        if self._same_origin(response.url) and response.status >= 400:
            if not self._is_expected(response.url, response.status):
                self.problems.append(f"{response.status} for {response.request.method} {response.url}")

    def _charts_drawn(self, page) -> None:
        """Every chart (dashboard/parts/chart.html) drawn by static/js/charts.js, none given up on."""
        try:
            page.wait_for_function(CHARTS_SETTLED, timeout=CHART_TIMEOUT_MS)
        except PlaywrightTimeoutError:
            self.problems.append(f"charts not drawn within {CHART_TIMEOUT_MS} ms on {page.url}")
            return
        unavailable = page.locator(".chart.chart-unavailable").count()
        if unavailable:
            self.problems.append(f"{unavailable} chart(s) could not be drawn on {page.url}")

    def _request_failed(self, request) -> None:
        # ERR_ABORTED: the browser itself let go (a download, or a page left while loading); a
        # refused or broken answer fails otherwise (a CSP block is also reported as a violation).
        if self._same_origin(request.url) and request.failure != "net::ERR_ABORTED":
            self.problems.append(f"{request.method} {request.url} failed: {request.failure}")

    def check(self, page=None) -> None:
        """Fail on anything seen so far, and on a chart of the page that was not drawn.  A round trip
        into the page first: violation events are dispatched as tasks of their own."""
        if page is not None and not page.is_closed():
            page.wait_for_load_state("load")
            self._charts_drawn(page)
            page.evaluate("() => new Promise((done) => setTimeout(done, 20))")
        assert not self.problems, "the browser saw:\n  " + "\n  ".join(self.problems)


@pytest.fixture
def watch(context, live_server):
    """The test's watch over every page of its browser context; checked again when the test ends."""
    watch = Watch(context, live_server.url)
    yield watch
    for page in context.pages:
        if not page.is_closed():
            watch.check(page)
    watch.check()


@pytest.fixture
def page(context, watch):
    """pytest-playwright's page, watched from its first request."""
    page = context.new_page()
    watch.watch_page(page)
    return page


SHOT_NAMES: list[Path] = []
PAPER_WIDTH = 700  # CSS pixels across an A4 page inside the print stylesheet's margins


@contextmanager
def printed(page, width: int = PAPER_WIDTH):
    """The page laid out as on paper: print media, the paper's width."""
    original = page.viewport_size
    page.set_viewport_size({"width": width, "height": original["height"]})
    page.emulate_media(media="print")
    try:
        yield page
    finally:
        page.emulate_media(media="screen")
        page.set_viewport_size(original)


def screenshot(page, name: str, *, width: int | None = None) -> Path:
    """A full-page PNG of what the page shows now, at `width` (the viewport's by default)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size
    path = SCREENSHOTS / f"{name}.png"
    if width:
        page.set_viewport_size({"width": width, "height": original["height"]})
    try:
        page.screenshot(path=str(path), full_page=True)
    finally:
        if width:
            page.set_viewport_size(original)
    SHOT_NAMES.append(path)
    return path


def printout(page, name: str) -> Path:
    """The page printed (A4, Chromium's own PDF), beside the screenshots; and its first page as a PNG."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.pdf"
    page.pdf(path=str(path), format="A4", print_background=True)
    SHOT_NAMES.append(path)
    with printed(page):
        screenshot(page, name)
    return path


def pytest_terminal_summary(terminalreporter):
    if SHOT_NAMES:
        terminalreporter.write_line(f"browser screenshots ({len(SHOT_NAMES)}): {SCREENSHOTS}/")
