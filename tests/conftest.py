"""Shared test setup: the loopback guard is installed before any test runs."""

import pytest

from tests import loopback_guard


def pytest_configure(config):
    loopback_guard.install()


@pytest.fixture(autouse=True)
def _loopback_guard_active():
    # Re-checked per test so that nothing a test (or a library) did can silently remove it.
    assert loopback_guard.is_installed(), "the loopback guard was removed"
    yield
    assert loopback_guard.is_installed(), "the loopback guard was removed during the test"
