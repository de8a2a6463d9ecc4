"""Two clusters from the case table with tenants alpha and beta on both, and an admin: fixtures the
page and API tests share, for every test module (a plugin of tests/conftest.py); a module defining
its own fixture of the same name keeps its own."""

import pytest

from inventory.importing import import_dump
from tests.cases.runner import CASES, TAKEN_AT, assemble, configure_cluster
from tests.factories import dashboard_admin


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
