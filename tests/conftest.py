"""Shared test setup: the loopback guard is installed before any test runs."""

import os

import pytest
from django.conf import settings

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


@pytest.fixture(scope="session", autouse=True)
def _array_credentials_folder(tmp_path_factory):
    """Tests write array credential files into their temporary folders, so those are where the
    product may read credentials from (ARRAY_CREDENTIALS_DIR), here and in processes tests start."""
    folder = tmp_path_factory.getbasetemp().resolve()
    os.environ["ARRAY_CREDENTIALS_DIR"] = str(folder)
    settings.ARRAY_CREDENTIALS_DIR = folder
