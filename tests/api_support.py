"""What the API tests share: two clusters from the case table (tenants alpha and beta on both), an
admin, tenant alpha's reader, their tokens, and a client that speaks `Authorization: Token`."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from api.tokens import issue
from inventory.importing import import_dump
from inventory.models import Cluster
from tenancy.models import Grant
from tests.cases.runner import CASES, TAKEN_AT, assemble, configure_cluster
from tests.factories import dashboard_admin

API = "/api/v1/"
# The fixtures, for `from tests.api_support import *` in the API's test modules.
__all__ = ["admin", "admin_api", "alice", "alice_api", "clusters"]


@pytest.fixture
def clusters(tmp_path):
    """prod (web/hostile-share) and shared (exports/policy-shared): tenants alpha and beta on both."""
    for name, folder in (
        ("prod", CASES / "web" / "hostile-share"),
        ("shared", CASES / "exports" / "policy-shared"),
    ):
        configure_cluster(name, {"cluster": {"owner_keys": ["owner.example.com/email"]}})
        assert import_dump(name, assemble(folder, tmp_path / name, {}), taken_at=TAKEN_AT).is_visible


@pytest.fixture
def admin(db):
    return dashboard_admin()


@pytest.fixture
def alice(clusters):
    """Tenant alpha's reader, on both clusters."""
    user = User.objects.create_user("alice")
    for cluster in Cluster.objects.filter(name__in=["prod", "shared"]):
        Grant.objects.create(user=user, cluster=cluster, tenant="alpha")
    return user


class Api:
    """A client with a token: `api.get("findings/", status="all")` → (status, body)."""

    def __init__(self, key: str | None):
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Token {key}"} if key else {}

    def response(self, method: str, path: str, data=None, **query):
        url = path if path.startswith("/") else API + path
        call = getattr(self.client, method)
        if method == "get":
            return call(url, query or data, **self.headers)
        return call(url, data or {}, content_type="application/json", **self.headers)

    def get(self, path: str, **query):
        response = self.response("get", path, **query)
        return response.status_code, response.json()

    def post(self, path: str, data=None):
        response = self.response("post", path, data)
        return response.status_code, response.json()

    def every(self, path: str, **query) -> list[dict]:
        """Every item of a list, following `next` to the last page."""
        items, url = [], None
        status, body = self.get(path, **query)
        while True:
            assert status == 200, body
            items += body["results"]
            url = body["next"]
            if not url:
                return items
            status, body = self.get(url.split("testserver", 1)[1])


@pytest.fixture
def admin_api(admin):
    return Api(issue(admin, "tests")[1])


@pytest.fixture
def alice_api(alice):
    return Api(issue(alice, "tests")[1])


def error_of(body: dict) -> dict:
    """The one error shape, checked: its `error` object."""
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)
    assert isinstance(body["error"]["details"], dict)
    return body["error"]
