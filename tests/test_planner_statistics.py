"""A snapshot that writes many rows refreshes PostgreSQL's planner statistics itself (autovacuum may
be minutes away, or off), and one that writes few leaves them alone."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.importing import import_dump
from inventory.models import InventoryObject
from inventory.planner_statistics import refresh_after
from tests.cases.runner import BASE, TAKEN_AT, assemble, configure_cluster

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]


def _snapshot(tmp_path, name: str) -> tuple[int, bool]:
    """Rows the snapshot wrote, and whether it analysed."""
    configure_cluster(name, {})
    with CaptureQueriesContext(connection) as queries:
        snapshot = import_dump(name, assemble(BASE, tmp_path / name, {}), taken_at=TAKEN_AT)
    return sum(snapshot.rows_written.values()), any(q["sql"] == "ANALYZE" for q in queries)


def test_a_snapshot_over_the_threshold_analyses_and_one_under_it_does_not(tmp_path, settings):
    if connection.vendor != "postgresql":
        assert refresh_after(10**9) is False  # SQLite plans without gathered statistics
        return
    settings.ANALYZE_AFTER_ROWS = 10**9
    written, analysed = _snapshot(tmp_path, "small")
    assert written > 5 and not analysed
    settings.ANALYZE_AFTER_ROWS = 5
    written, analysed = _snapshot(tmp_path, "large")
    assert analysed
    with connection.cursor() as cursor:  # what the planner now believes: every row of both snapshots
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'inventory_inventoryobject'")
        assert cursor.fetchone()[0] == InventoryObject.objects.count()
    settings.ANALYZE_AFTER_ROWS = 0
    assert refresh_after(10**9) is False, "0 turns it off"
