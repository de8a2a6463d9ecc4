"""Shared test setup: the loopback guard is installed before any test runs."""

import os

import pytest
from django.conf import settings
from django.test.utils import override_settings

from inventory import cluster_memory
from tests import loopback_guard

pytest_plugins = ["tests.two_tenants"]  # the two-tenant clusters and the admin, shared by page and API tests


def pytest_configure(config):
    loopback_guard.install()


@pytest.fixture(autouse=True)
def _loopback_guard_active():
    # Re-checked per test so that nothing a test (or a library) did can silently remove it.
    assert loopback_guard.is_installed(), "the loopback guard was removed"
    yield
    assert loopback_guard.is_installed(), "the loopback guard was removed during the test"


@pytest.fixture(autouse=True)
def _nothing_remembered_from_another_test():
    """What a worker remembers of a cluster (kept forms, its last derivation) is keyed by cluster id,
    which a new test database reuses."""
    cluster_memory.forget_all()


@pytest.fixture(scope="session", autouse=True)
def _array_credentials_folder(tmp_path_factory):
    """Tests write array credential files into their temporary folders, so those are where the
    product may read credentials from (ARRAY_CREDENTIALS_DIR), here and in processes tests start."""
    folder = tmp_path_factory.getbasetemp().resolve()
    os.environ["ARRAY_CREDENTIALS_DIR"] = str(folder)
    settings.ARRAY_CREDENTIALS_DIR = folder


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashes():
    """Django's PBKDF2 costs about a quarter of a second for each password set or checked, and tests
    create and sign in many people (it was the single largest cost of the SQLite pass).  Hashing is
    not under test here: the product uses Django's hashers as they are, and processes the tests start
    (`manage.py serve`, `ensure_admin`, workers) keep the real ones."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


# The Kubernetes API's retries (inventory/sources/kubernetes.py) wait this long first, then doubling:
# five attempts cost 0.15 s instead of 4 to 7.5 s of production's waits.  The retries' count, bound and
# backoff are tested with a recorded sleep (tests/test_kubernetes_source.py); here only time is saved.
KUBERNETES_RETRY_SECONDS = 0.01


@pytest.fixture(scope="session", autouse=True)
def _short_kubernetes_retries():
    with override_settings(KUBERNETES_RETRY_SECONDS=KUBERNETES_RETRY_SECONDS):
        yield


@pytest.fixture(scope="session", autouse=True)
def _own_cache_keys():
    """Under pytest-xdist each process has its own test database, but a Redis cache (the production
    pass's CACHE_URL) is one for all: each process's keys get a prefix of their own, so no process
    reads another's throttling counts or cached scopes."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    cache = settings.CACHES["default"]
    if not worker or "redis" not in cache["BACKEND"].lower():
        yield
        return
    with override_settings(CACHES={**settings.CACHES, "default": {**cache, "KEY_PREFIX": f"tests-{worker}"}}):
        yield
