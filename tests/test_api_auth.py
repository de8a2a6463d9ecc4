"""The API's door: tokens (hashed, named, expiring, revocable), sessions for the browser, nobody
anonymous, one error shape for every status, and rate limits per token in the shared cache."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from api.models import ApiToken
from api.tokens import hash_key, issue
from exposure.models import Finding
from tenancy.access import scope_of
from tests.api_support import *  # noqa: F403 (its fixtures)
from tests.api_support import API, Api, error_of
from tests.factories import dashboard_admin

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    settings.API_THROTTLE_RATE = None  # the rate limit has its own tests below


def test_api_token_prints_the_key_once_as_the_last_word_and_stores_only_its_hash():
    User.objects.create_user("ci-bot")
    out = StringIO()
    call_command("api_token", "ci-bot", "--name", "ci gate", "--expires", "30", stdout=out)
    key = out.getvalue().split()[-1]
    token = ApiToken.objects.get()
    assert token.name == "ci gate" and token.user.username == "ci-bot"
    assert token.key_hash == hash_key(key) and key not in str(token.__dict__.values())
    assert timedelta(days=29, hours=23) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert Api(key).get("rules/")[0] == 200
    with pytest.raises(CommandError, match="no dashboard user"):
        call_command("api_token", "nobody", stdout=StringIO())
    User.objects.create_user("gone", is_active=False)
    with pytest.raises(CommandError, match="not active"):
        call_command("api_token", "gone", stdout=StringIO())


def test_no_anonymous_access_anywhere_under_the_api(db):
    client = Client()
    for path in ["rules/", "findings/", "clusters/", "schema/", "findings/1/", "no/such/thing/"]:
        response = client.get(API + path)
        assert response.status_code == 401, path
        assert error_of(response.json())["code"] == "not_authenticated"
        assert response["WWW-Authenticate"] == "Token"
    assert client.post(API + "findings/1/suppress/", {}).status_code == 401


def test_a_wrong_expired_revoked_or_inactive_users_token_is_refused_alike(db):
    user = User.objects.create_user("dora")
    _, good = issue(user, "good")
    _, expired = issue(user, "old", expires_in_days=1)
    ApiToken.objects.filter(name="old").update(expires_at=timezone.now() - timedelta(seconds=1))
    _, revoked = issue(user, "revoked")
    ApiToken.objects.filter(name="revoked").update(revoked_at=timezone.now())
    answer = Api(good).response("get", "rules/")
    assert answer.status_code == 200 and answer["Cache-Control"] == "private, no-store"
    assert ApiToken.objects.get(name="good").last_used_at is not None
    answers = set()
    for key in (good + "x", expired, revoked, "sed_nothing", "Z" * 500):
        status, body = Api(key).get("rules/")
        answers.add((status, error_of(body)["code"], body["error"]["message"]))
    assert answers == {(401, "authentication_failed", "Invalid, expired or revoked token.")}
    User.objects.filter(pk=user.pk).update(is_active=False)
    assert Api(good).get("rules/")[0] == 401
    response = Client().get(API + "rules/", HTTP_AUTHORIZATION="Token a b")
    assert response.status_code == 401 and error_of(response.json())["code"] == "authentication_failed"


def test_an_admin_revokes_tokens_in_the_admin_site(db, client):
    user = User.objects.create_user("erin")
    token, key = issue(user, "script")
    client.force_login(User.objects.create_superuser("root"))
    listing = client.get("/admin/api/apitoken/")
    assert listing.status_code == 200 and "script" in listing.content.decode()
    assert key not in listing.content.decode() and token.key_hash not in listing.content.decode()
    assert client.get("/admin/api/apitoken/add/").status_code == 403, "keys are made by api_token only"
    done = client.post(
        "/admin/api/apitoken/", {"action": "revoke_tokens", "_selected_action": [token.pk]}, follow=True
    )
    assert done.status_code == 200
    assert ApiToken.objects.get().state == "revoked"
    assert Api(key).get("rules/")[0] == 401


def test_the_browser_uses_its_session_and_writes_only_with_the_csrf_token(clusters_admin_session):
    client, finding_id = clusters_admin_session
    assert client.get(API + "findings/").status_code == 200
    url = f"{API}findings/{finding_id}/suppress/"
    body = {"reason": "accepted", "expires_at": (timezone.now() + timedelta(days=3)).isoformat()}
    refused = client.post(url, body, content_type="application/json")
    assert refused.status_code == 403 and "CSRF" in error_of(refused.json())["message"]
    client.get("/")  # the page sets the CSRF cookie, as the docs page does
    token = client.cookies["csrftoken"].value
    accepted = client.post(url, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200 and accepted.json()["status"] == "suppressed"


@pytest.fixture
def clusters_admin_session(clusters):
    client = Client(enforce_csrf_checks=True)
    client.force_login(dashboard_admin())
    return client, Finding.objects.filter(status="open").values_list("pk", flat=True).first()


def test_every_error_status_has_the_one_shape(clusters, alice, alice_api, admin, settings, monkeypatch):
    finding = Finding.objects.restrict(scope_of(alice)).first()
    cases = {
        400: alice_api.response("get", "findings/", rule="no-such-rule"),
        404: alice_api.response("get", "findings/999999/"),
        403: alice_api.response("post", f"findings/{finding.pk}/unsuppress/"),
        405: alice_api.response("delete", "findings/"),
    }
    cases[401] = Client().get(API + "findings/")
    settings.API_THROTTLE_RATE = "1/minute"
    throttled = Api(issue(admin, "fast")[1])
    throttled.response("get", "rules/")
    cases[429] = throttled.response("get", "rules/")
    settings.API_THROTTLE_RATE = None

    def fail(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr("api.views.catalog.RuleViewSet.list", fail)
    cases[500] = alice_api.response("get", "rules/")
    for status, response in cases.items():
        assert response.status_code == status, (status, response.content[:300])
        assert response["Content-Type"] == "application/json", status
        error = error_of(response.json())
        assert "Traceback" not in error["message"] and "a bug" not in error["message"]
    assert error_of(cases[400].json())["details"] == {"rule": ["Not one of the values offered here."]}
    assert error_of(cases[429].json())["code"] == "throttled"
    assert int(cases[429]["Retry-After"]) >= 1
    assert error_of(cases[429].json())["details"]["retry_after"] >= 1
    assert error_of(cases[500].json())["code"] == "server_error"
    assert error_of(cases[405].json())["code"] == "method_not_allowed"


@pytest.mark.postgres_too  # and so on Redis, the production pass's cache
def test_rate_limits_count_per_token_in_the_shared_cache(db, settings, monkeypatch):
    from django.core.cache import cache

    monkeypatch.setattr("api.throttling.time.time", lambda: 1_800_000_030.0)  # 30 s into a window
    settings.API_THROTTLE_RATE = "3/minute"
    user = User.objects.create_user("fred")
    first, second = Api(issue(user, "one")[1]), Api(issue(user, "two")[1])
    answers = [first.response("get", "rules/") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1]["Retry-After"] == "30"
    assert second.get("rules/")[0] == 200, "another token of the same user has its own count"
    # The count lives in the cache (Redis in production: every web process sees the same one).
    key = f"api-throttle:token:{ApiToken.objects.get(name='one').pk}:1800000000"
    assert cache.get(key) == 4
    cache.delete(key)  # what the window's end does
    assert first.get("rules/")[0] == 200
    monkeypatch.setattr("api.throttling.time.time", lambda: 1_800_000_060.0)  # the next window
    assert [first.get("rules/")[0] for _ in range(4)] == [200, 200, 200, 429]
