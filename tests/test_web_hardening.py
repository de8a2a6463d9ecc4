"""Web hardening: the stylesheet that is loaded, security headers, error pages, login throttling,
the secret key, the production server and `check --deploy`."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.test import RequestFactory

from tests.factories import dashboard_admin
from tests.listeners import free_port

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


# --- `make run`: gunicorn, static files, the demo and the scheduler in one process ---------------


def _raw_get(port: int, path: str, headers: str = "") -> tuple[int, dict[str, str], bytes]:
    """One request exactly as written (no client normalising `..` or percent-escapes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{headers}\r\n".encode())
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), fields, body


class Served:
    """`manage.py serve` in a process group of its own, as `make run` starts it."""

    def __init__(self, tmp_path, *args):
        assert _manage(tmp_path, "migrate", "--noinput").returncode == 0
        admin = _manage(tmp_path, "ensure_admin", DJANGO_SUPERUSER_PASSWORD="pw-served-admin-1")
        assert admin.returncode == 0, admin.stderr
        self.port = free_port()
        self.log = tmp_path / "serve.log"
        base = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG", "PYTHONPATH"}}
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "serve", "--port", str(self.port), *args],
            cwd=tmp_path,
            env={**base, "DASHBOARD_DATA_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"},
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.output()
            try:
                if _raw_get(self.port, "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("serve did not answer: " + self.output())

    def output(self) -> str:
        return self.log.read_text()

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert time.monotonic() < deadline and self.process.poll() is None, self.output()
            time.sleep(0.2)

    def stop(self) -> int:
        """Ctrl-C, as a terminal sends it: to the whole process group."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode


@pytest.fixture
def served(tmp_path):
    server = Served(tmp_path, "--no-demo")
    yield server
    server.stop()


TRAVERSALS = [
    "/static/../settings.py",
    "/static/../dashboard/settings.py",
    "/static/%2e%2e/dashboard/settings.py",
    "/static/..%2fdashboard%2fsettings.py",
    "/static/css/..%2f..%2fdashboard/settings.py",
    "/static/%2e%2e%2f%2e%2e%2fmanage.py",
    "/static/..%5c..%5cmanage.py",
    "/static/%252e%252e/manage.py",
    "/static/css/%00",
]


@pytest.mark.slow
def test_make_run_serves_with_gunicorn_and_static_files_and_no_traversal(served):
    status, headers, body = _raw_get(served.port, "/static/css/dashboard.css")
    assert status == 200 and b".grade-F" in body
    status, headers, _ = _raw_get(served.port, "/login/")
    assert status == 200 and "frame-ancestors 'none'" in headers["content-security-policy"]
    for path in TRAVERSALS:
        status, _, body = _raw_get(served.port, path)
        assert status == 404, (path, status)
        assert b"SECRET_KEY" not in body and b"DJANGO_SETTINGS_MODULE" not in body, path
    assert "gunicorn" in _raw_get(served.port, "/healthz")[1].get("server", "").lower()
    _, headers, _ = _raw_get(served.port, "/login/", "Accept-Encoding: gzip\r\n")
    assert headers.get("content-encoding") == "gzip"
    assert "embedded scheduler" in served.output()
    assert served.stop() == 0


@pytest.mark.slow
def test_make_run_starts_the_demo_once_and_ctrl_c_stops_it(tmp_path):
    server = Served(tmp_path)
    try:
        server.wait_for("embedded scheduler")
        output = server.output()
        assert output.count("demo cluster: simulated Kubernetes API on") == 1, output
        assert output.count("embedded scheduler: snapshots run in-process") == 1, output
        api = re.search(r"simulated Kubernetes API on (http://127\.0\.0\.1:(\d+))", output)
        # The page, through gunicorn, shows the demo (its history filling).
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        base = f"http://127.0.0.1:{server.port}"
        login = opener.open(f"{base}/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login).group(1)
        form = {"csrfmiddlewaretoken": token, "username": "admin", "password": "pw-served-admin-1"}
        page = opener.open(f"{base}/login/", urllib.parse.urlencode(form).encode()).read().decode()
        assert "Simulated data" in page and "demo" in page
    finally:
        assert server.stop() == 0, server.output()
    with pytest.raises(OSError):  # the demo's simulated API went with it
        socket.create_connection(("127.0.0.1", int(api.group(2))), timeout=2).close()


def test_the_proxy_ssl_header_is_read_from_the_environment_as_django_needs_it(tmp_path):
    from dashboard.settings import _proxy_ssl_header

    assert _proxy_ssl_header("") is None
    assert _proxy_ssl_header("X-Forwarded-Proto") == ("HTTP_X_FORWARDED_PROTO", "https")
    assert _proxy_ssl_header("X-Forwarded-Ssl: on") == ("HTTP_X_FORWARDED_SSL", "on")
    code = (
        "from django.conf import settings as s; print(s.SECURE_PROXY_SSL_HEADER, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS)"
    )
    result = _manage(tmp_path, "shell", "-c", code, **PRODUCTION_ENV)
    assert result.stdout.splitlines()[-1].split() == [
        "('HTTP_X_FORWARDED_PROTO',",
        "'https')",
        "True",
        "True",
        "True",
        "31536000",
    ]
    embedded = _manage(tmp_path, "shell", "-c", code)
    assert embedded.stdout.splitlines()[-1].split() == ["None", "False", "False", "False", "0"], (
        "make run is plain HTTP"
    )
