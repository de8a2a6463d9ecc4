"""Web hardening: the stylesheet that is loaded, security headers, error pages, login throttling,
the secret key, the production server and `check --deploy`."""

import re

import pytest
from django.contrib.staticfiles import finders

from tests.factories import dashboard_admin

pytestmark = pytest.mark.django_db


def _stylesheets(page: str) -> list[str]:
    return re.findall(r'<link rel="stylesheet" href="([^"]+)"', page)


def test_the_loaded_stylesheet_holds_the_grade_and_severity_styles(client):
    client.force_login(dashboard_admin())
    sheets = _stylesheets(client.get("/").content.decode())
    assert len(sheets) == 1, "one stylesheet"
    served = client.get(sheets[0])
    assert served.status_code == 200
    css = b"".join(served.streaming_content).decode() if served.streaming else served.content.decode()
    for selector in [
        ".grade-A",
        ".grade-F",
        ".sev-critical",
        ".sev-info",
        "tr.finding-suppressed",
        "li.path-inside",
    ]:
        assert selector in css, selector
    # No second, unloaded stylesheet left behind for styles to drift into.
    assert finders.find("dashboard.css") is None
