"""Web hardening: the stylesheet that is loaded, security headers, error pages, login throttling,
the secret key, the production server and `check --deploy`."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import RequestFactory

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


# --- Security headers -------------------------------------------------------------------------

STRICT_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def _csp(response) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    return {d.split()[0]: " ".join(d.split()[1:]) for d in header.split(";") if d.strip()}


def test_every_response_carries_the_strict_csp_and_the_browser_headers(client):
    client.force_login(dashboard_admin())
    for url in ["/", "/admin/", "/no-such-page/", "/static/css/dashboard.css", "/healthz"]:
        response = client.get(url)
        policy = _csp(response)
        for directive, sources in STRICT_CSP.items():
            assert policy.get(directive) == sources, (url, directive, policy)
        assert not any("unsafe" in sources for sources in policy.values()), url
        assert response.headers["X-Content-Type-Options"] == "nosniff", url
        assert response.headers["Referrer-Policy"] == "same-origin", url
    assert client.get("/").headers["X-Frame-Options"] == "DENY"
    client.logout()
    assert _csp(client.get("/login/"))["script-src"] == "'self'"


def test_logged_in_pages_are_never_stored(client):
    client.force_login(dashboard_admin())
    for url in ["/", "/admin/"]:
        assert client.get(url).headers["Cache-Control"] == "private, no-store", url


def test_templates_hold_no_inline_script_style_or_handler():
    """What the CSP would refuse must not be written in the first place."""
    from django.conf import settings

    inline = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)|<style|\sstyle=|\son[a-z]+=", re.I)
    for folder in settings.TEMPLATES[0]["DIRS"]:
        for template in folder.rglob("*.html"):
            assert not inline.search(template.read_text()), template


def test_pages_are_compressed(client):
    client.force_login(dashboard_admin())
    response = client.get("/admin/", HTTP_ACCEPT_ENCODING="gzip")
    assert response.headers.get("Content-Encoding") == "gzip"


# --- Settings: production vs the embedded mode -------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent

# README's production section, on loopback addresses nothing listens on (nothing connects).
PRODUCTION_ENV = {
    "DATABASE_URL": "postgres://dashboard@127.0.0.1:9/dashboard",
    "CELERY_BROKER_URL": "redis://127.0.0.1:9/0",
    "CACHE_URL": "redis://127.0.0.1:9/1",
    "SECRET_KEY": "k3Jx9-not-a-real-key_" + "Qv7pL2mZr8sT4wN6yB0cD5fH1jK" * 2,
    "ALLOWED_HOSTS": "dashboard.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://dashboard.example.com",
    "DEMO_ENABLED": "false",
    "HTTPS": "true",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
}


def _manage(tmp_path, *args, **env) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "PYTHONPATH"}}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=tmp_path,
        env={**base, "DASHBOARD_DATA_DIR": str(tmp_path), "STATIC_ROOT": str(tmp_path / "static"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_production_settings(tmp_path):
    result = _manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_settings_refuse_to_start_without_a_secret_key(tmp_path):
    env = {**PRODUCTION_ENV, "SECRET_KEY": ""}
    result = _manage(tmp_path, "check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr and "DATABASE_URL is set" in result.stderr
    assert not (tmp_path / ".dashboard-secret-key").exists()


def test_the_embedded_mode_generates_one_key_for_processes_starting_together(tmp_path, monkeypatch):
    """Eight starts at once, each slow to make its key (the window between "no key yet" and a
    written key held open): every one ends with the same, complete key."""
    import secrets
    import threading
    import time

    from dashboard import settings as project_settings

    make_key = secrets.token_urlsafe

    def slow_key(n):
        time.sleep(0.2)
        return make_key(n)

    monkeypatch.setattr(secrets, "token_urlsafe", slow_key)
    monkeypatch.setattr(project_settings, "DATA_DIR", tmp_path)
    keys = []
    starts = [
        threading.Thread(target=lambda: keys.append(project_settings._local_secret_key())) for _ in range(8)
    ]
    for start in starts:
        start.start()
    for start in starts:
        start.join(30)
    assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) >= 50
    key_file = tmp_path / ".dashboard-secret-key"
    assert key_file.read_text().strip() == keys[0]
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == [key_file.name], "no draft left behind"


# --- Error pages ------------------------------------------------------------------------------


def test_not_found_is_styled_and_says_nothing_of_what_was_asked(client):
    client.force_login(User.objects.create_user("alice", password="pw-alice-1"))
    marker = "zq-marker-7731"
    for url in [f"/clusters/{marker}/", f"/clusters/{marker}/namespaces/{marker}/", f"/{marker}"]:
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 404
        assert _stylesheets(page) == ["/static/css/dashboard.css"] and "Not found" in page
        assert marker not in page and "no such namespace" not in page


def test_server_error_is_styled_and_standalone(client, settings):
    from django.views import defaults

    response = defaults.server_error(RequestFactory().get("/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert _stylesheets(page) == ["/static/css/dashboard.css"] and "Server error" in page


def test_a_refused_form_is_answered_by_a_page_the_csp_allows():
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post("/login/", {"username": "a", "password": "b"})
    page = response.content.decode()
    assert response.status_code == 403 and "This form has expired" in page
    assert "<style" not in page and _stylesheets(page) == ["/static/css/dashboard.css"]


# --- Login throttling -------------------------------------------------------------------------


@pytest.fixture
def throttle(settings):
    """Small limits, and this test's counters removed from the cache before and after (Redis in
    the production pass is shared with other tests: no flush)."""
    from django.core.cache import cache

    settings.LOGIN_THROTTLE_USER_FAILURES = 3
    settings.LOGIN_THROTTLE_ADDRESS_FAILURES = 6
    settings.LOGIN_THROTTLE_WINDOW_SECONDS = 60

    def forget():
        cache.delete_many([k for k in _throttle_keys()])

    forget()
    yield
    forget()


def _throttle_keys():
    import hashlib

    names = ["carol", "dave", *[f"guess-{i}" for i in range(10)]]
    users = [f"login-failures:user:{hashlib.sha256(n.encode()).hexdigest()}" for n in names]
    return users + [f"login-failures:addr:{a}" for a in ["192.0.2.10", "192.0.2.11", "198.51.100.7"]]


def _login(client, username, password, address="192.0.2.10", **extra):
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address, **extra)


@pytest.mark.postgres_too  # the production pass: the same counters in Redis
def test_wrong_passwords_for_one_username_are_throttled_with_a_clear_message(client, throttle):
    User.objects.create_user("carol", password="pw-carol-1")
    for _ in range(3):
        response = _login(client, "carol", "wrong")
        assert response.status_code == 200 and "correct username and password" in response.content.decode()
    # From now on even the right password is refused, from any address, and says why.
    for address in ["192.0.2.10", "192.0.2.11"]:
        refused = _login(client, "carol", "pw-carol-1", address)
        assert refused.status_code == 429
        assert "Too many failed sign-ins" in refused.content.decode()
        assert "_auth_user_id" not in client.session
    # Another username from the same address still gets its tries.
    User.objects.create_user("dave", password="pw-dave-1")
    assert _login(client, "dave", "pw-dave-1").status_code == 302


@pytest.mark.postgres_too
def test_one_address_guessing_many_usernames_is_throttled(client, throttle):
    User.objects.create_user("carol", password="pw-carol-1")
    for i in range(6):
        assert _login(client, f"guess-{i}", "wrong", "198.51.100.7").status_code == 200
    assert _login(client, "carol", "pw-carol-1", "198.51.100.7").status_code == 429
    # Another address is unaffected.
    assert _login(client, "carol", "pw-carol-1", "192.0.2.11").status_code == 302


def test_the_window_passes_and_a_success_clears_the_usernames_count(client, throttle, settings):
    from django.core.cache import cache

    User.objects.create_user("carol", password="pw-carol-1")
    for _ in range(2):
        _login(client, "carol", "wrong")
    assert _login(client, "carol", "pw-carol-1").status_code == 302
    client.logout()
    for _ in range(2):  # counted afresh: two more do not reach the limit of three
        _login(client, "carol", "wrong")
    assert _login(client, "carol", "pw-carol-1").status_code == 302
    client.logout()
    for _ in range(3):
        _login(client, "carol", "wrong", "192.0.2.11")
    assert _login(client, "carol", "pw-carol-1").status_code == 429
    cache.delete_many(_throttle_keys())  # what the window's end does
    assert _login(client, "carol", "pw-carol-1").status_code == 302


def test_http_basic_on_the_api_is_throttled_too(rf, throttle):
    from django.contrib.auth import authenticate

    User.objects.create_user("carol", password="pw-carol-1")
    request = rf.get("/", REMOTE_ADDR="192.0.2.10")
    for _ in range(3):
        assert authenticate(request, username="carol", password="wrong") is None
    assert (
        authenticate(rf.get("/", REMOTE_ADDR="192.0.2.11"), username="carol", password="pw-carol-1") is None
    )


def test_behind_proxies_the_client_address_is_the_one_the_proxy_saw(rf, settings):
    from dashboard.login_throttle import client_address

    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert client_address(request) == "10.0.0.1"
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request) == "203.0.113.9", "not the address the client wrote itself"
