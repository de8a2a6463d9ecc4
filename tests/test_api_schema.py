"""The OpenAPI schema at /api/v1/schema/ tells the truth: schemathesis, reading the live schema,
finds no 500 and no answer that breaks it; a client validated against it reads the findings list;
the docs page works offline under the strict CSP."""

import os
import re

import jsonschema
import pytest
import schemathesis

# schemathesis imports werkzeug when first asked for a WSGI client, and werkzeug's exceptions module
# iterates its own globals as it is imported: once, with threads of earlier tests still running, that
# iteration failed ("dictionary changed size during iteration").  Imported here, at collection, in
# the only thread there is.
import werkzeug  # noqa: F401
from django.core.wsgi import get_wsgi_application
from django.test import Client
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from exposure.models import Finding
from inventory.models import Snapshot
from tests import url_crawl
from tests.api_support import *  # noqa: F403 (its fixtures)
from tests.api_support import API
from tests.chromium import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.django_db]
EXAMPLES = 4  # per operation: enough to try each parameter's shapes, few enough for `make test`
# Every other check runs (no 5xx, status codes, content types, headers, bodies as documented).  A
# schema-valid value may still be a documented 400: a cursor the list never gave, a cluster or
# tenant the caller does not see, a text that is no ISO time: the schema cannot say which exist.
EXCLUDED = [positive_data_acceptance]


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.API_THROTTLE_RATE = None  # the tests' settings lift the limit (it has its own test)


@pytest.fixture
def live_schema(clusters, admin_api):
    headers = admin_api.headers["HTTP_AUTHORIZATION"]
    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/schema/", get_wsgi_application(), headers={"Authorization": headers}
    )
    # The WSGI transport hands schemathesis the raw body: no gzip (the middleware's) to undo.
    return schema, {"Authorization": headers, "Accept-Encoding": "identity"}


def _real_path_values() -> dict[str, str]:
    finding = Finding.objects.filter(cluster__name="prod").first()
    return {
        "cluster": "prod",
        "namespace": "alpha-web",
        "finding": str(finding.pk),
        "snapshot": str(Snapshot.objects.filter(cluster__name="prod").first().pk),
    }


def test_no_operation_answers_500_or_breaks_the_schema(live_schema):
    schema, auth = live_schema
    real = _real_path_values()
    operations = [result.ok() for result in schema.get_all_operations()]
    # Every operation the live schema publishes is run, and every endpoint of the API is in it.
    published = {
        (method.upper(), path)
        for path, methods in schema.raw_schema["paths"].items()
        for method in methods
        if method in ("get", "post", "put", "patch", "delete")
    }
    assert {(o.method.upper(), o.path) for o in operations} == published and len(published) >= 17
    documented = {re.sub(r"{\w+}", "{}", path) for _, path in published}
    for parts, name in url_crawl.leaf_patterns():
        route = "".join(str(part) for part in parts)
        if route.startswith("api/v1/") and name not in ("api-schema", "api-docs", "api-not-found"):
            assert "/" + re.sub(r"<(?:\w+:)?\w+>", "{}", route) in documented, (name, route)
    for operation in operations:
        # Generated values (mostly names that exist nowhere: 404s and 400s, each documented) ...
        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def generated(case):
            case.call_and_validate(headers=auth, excluded_checks=EXCLUDED)

        generated()
        # ... and the real ones, so every operation also answers with its success shape.
        names = re.findall(r"{(\w+)}", operation.path)
        given_body = {}
        if operation.path.endswith("/suppress/"):
            given_body = {"body": {"reason": "accepted", "expires_at": "2099-01-01T00:00:00Z"}}
            given_body["media_type"] = "application/json"
        case = operation.Case(path_parameters={name: real[name] for name in names}, **given_body)
        response = case.call_and_validate(headers=auth, excluded_checks=EXCLUDED)
        assert response.status_code in (200, 202, 409), (
            operation.method,
            operation.path,
            response.status_code,
        )


def test_a_client_validated_against_the_published_schema_reads_the_findings_list(clusters, alice_api):
    """What a generated client does: take the response shape from the schema, check every page."""
    status, published = alice_api.get("schema/")
    assert status == 200 and published["openapi"].startswith("3.")
    operation = published["paths"]["/api/v1/findings/"]["get"]
    page_schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft4Validator(
        _json_schema({"components": published["components"], **page_schema})
    )
    rows, url = [], API + "findings/?status=all&page_size=3"
    while url:
        status, page = alice_api.get(url)
        assert status == 200
        errors = sorted(validator.iter_errors(page), key=str)
        assert not errors, errors[0]
        rows += page["results"]
        url = page["next"] and page["next"].split("testserver", 1)[1]
    assert {row["id"] for row in rows} == set(
        Finding.objects.filter(attributions__namespace__in=["alpha-web", "alpha-db"]).values_list(
            "pk", flat=True
        )
    )
    assert all({"id", "rule", "severity", "status", "title"} <= set(row) for row in rows)
    # A broken answer would be caught: the validator is not vacuous.
    assert list(validator.iter_errors({"next": None, "previous": None, "results": [{"id": "x"}]}))


def _json_schema(node):
    """OpenAPI 3.0's schema objects as JSON Schema: `nullable: true` is `null` allowed too."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _json_schema(value) for key, value in node.items()}
    if node.pop("nullable", False):
        node = {"anyOf": [node, {"type": "null"}]}
    return node


def test_the_schema_documents_auth_errors_pagination_and_limits(clusters, admin_api):
    published = admin_api.get("schema/")[1]
    assert published["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Token <key>`: a key made by `python manage.py api_token USERNAME`.",
    }
    for path, methods in published["paths"].items():
        for method, operation in methods.items():
            for code in ("400", "401", "403", "404", "429", "500"):
                assert code in operation["responses"], (method, path, code)
            assert "Retry-After" in operation["responses"]["429"]["headers"], (method, path)
            assert {"tokenAuth": []} in operation["security"], (method, path)
    findings = published["paths"]["/api/v1/findings/"]["get"]
    parameters = {p["name"] for p in findings["parameters"]}
    assert parameters >= {
        "cluster", "namespace", "tenant", "rule", "severity", "status", "first_seen_after",
        "first_seen_before", "resolved_after", "resolved_before", "cursor", "page_size", "ordering",
    }  # fmt: skip
    assert "count" not in str(findings["responses"]["200"]), "large lists give no total count"
    assert published["paths"]["/api/v1/clusters/{cluster}/snapshots/"]["post"]["responses"]["202"]
    assert Client().get(API + "schema/").status_code == 401


def test_the_docs_page_is_offline_and_inline_free(clusters, admin, client):
    client.force_login(admin)
    page = client.get(API + "docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", html, re.I), html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), "everything from this server: offline"
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
    script = next(s for s in sources if "script" in s)
    init = client.get(script)
    assert (
        init["Content-Type"].startswith("application/javascript")
        and "/api/v1/schema/" in init.content.decode()
    )
    assert Client().get(API + "docs/").status_code == 302, "anonymous: to the login page"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_swagger_ui_renders_the_schema_in_chromium_with_no_csp_violation(live_server):
    """The docs page, drawn by a real browser under the served CSP: Swagger UI shows every
    operation, the browser refuses nothing, and nothing is fetched from another origin."""
    from django.conf import settings as django_settings
    from playwright.sync_api import sync_playwright

    from tests.factories import dashboard_admin

    if not CHROMIUM.exists():
        if os.geteuid() == 0:
            pytest.fail("Chromium is missing: `make test` installs it (tools/system-deps.sh) as root")
        pytest.skip("Chromium is missing and we are not root: apt-get install chromium")
    session = Client()
    session.force_login(dashboard_admin())
    cookie = session.cookies[django_settings.SESSION_COOKIE_NAME].value
    refused, foreign = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            context.add_cookies(
                [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
            )
            page = context.new_page()
            page.on(
                "console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None
            )
            page.on("request", lambda r: None if r.url.startswith(live_server.url) else foreign.append(r.url))
            page.goto(live_server.url + API + "docs/")
            page.wait_for_selector(".opblock-summary-path", timeout=15000)
            shown = page.locator(".opblock-summary-path").all_inner_texts()
        finally:
            browser.close()
    assert any("/api/v1/findings/" in path for path in shown) and len(shown) >= 17, shown
    assert refused == [], refused
    assert foreign == [], foreign
