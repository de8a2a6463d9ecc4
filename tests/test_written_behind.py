"""A run's rows written behind it (inventory/written_behind.py): on PostgreSQL, outside a transaction,
a thread of the run's own copies them, through the run's fence, and a batch that fails there fails
the snapshot and leaves nothing of it; elsewhere the run writes them itself, the same rows."""

import threading

import pytest
from django.db import connection, transaction

import exposure.analyse as exposure_analyse
import inventory.written_behind as written_behind
from exposure.analyse import EXPOSURE_PATHS
from inventory.importing import import_dump
from inventory.models import InventoryObject, Snapshot
from tests.cases.runner import CASES, TAKEN_AT, assemble, configure_cluster
from tests.factories import stored_rows

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_too]

WRITER = "rows-written-behind"
# The base cluster with an array behind its volumes: inventory, array records and derived records.
CASE = CASES / "exports" / "economy-parent-policy"


@pytest.fixture
def copying_threads(monkeypatch):
    """The threads each batch of the store and the derivation was copied in."""
    threads = []
    copy = written_behind.insert_values

    def spy(model, rows, **kwargs):
        if model is InventoryObject:  # the store's, the derivation's and the analysis' paths
            threads.append((threading.current_thread().name, rows[0]["kind"] == EXPOSURE_PATHS))
        return copy(model, rows, **kwargs)

    monkeypatch.setattr(written_behind, "insert_values", spy)
    return threads


def test_a_snapshot_written_behind_stores_the_rows_one_written_at_once_does(tmp_path, copying_threads):
    configure_cluster("behind", {})
    behind = import_dump("behind", assemble(CASE, tmp_path / "behind", {}), taken_at=TAKEN_AT)
    behind_threads = list(copying_threads)
    copying_threads.clear()
    configure_cluster("at-once", {})
    with transaction.atomic():  # inside a caller's transaction: written at once, by the run
        at_once = import_dump("at-once", assemble(CASE, tmp_path / "at-once", {}), taken_at=TAKEN_AT)

    assert behind.status == at_once.status == Snapshot.Status.COMPLETE
    assert len(behind_threads) >= 4 and {name for name, _ in copying_threads} == {"MainThread"}
    copier = WRITER if connection.vendor == "postgresql" else "MainThread"
    assert set(behind_threads) == {(copier, False), (copier, True)}, "the paths behind the findings too"
    assert stored_rows("behind") == stored_rows("at-once") and len(stored_rows("behind")) > 20
    assert {"derived", ""} < {scope for scope, *_ in stored_rows("behind")}
    assert not any(thread.name == WRITER for thread in threading.enumerate())


def test_the_rules_judge_while_the_rows_are_written_behind_and_the_findings_after(tmp_path, monkeypatch):
    """The rules read only the state the derivation hands over, so they run before the run waits for
    its rows; the findings are reconciled once every row is in, beside the paths' own writer."""
    seen = {}

    def watched(step):  # the step, noting the writer the run has when it starts
        original = getattr(exposure_analyse, step)

        def spy(*args, **kwargs):
            seen[step] = written_behind._writer()
            return original(*args, **kwargs)

        return spy

    for step in ("evaluate", "reconcile"):
        monkeypatch.setattr(exposure_analyse, step, watched(step))
    configure_cluster("judged", {})
    snapshot = import_dump("judged", assemble(CASE, tmp_path / "judged", {}), taken_at=TAKEN_AT)

    analysis = snapshot.facts["analysis"]
    assert snapshot.status == Snapshot.Status.COMPLETE and analysis["opened"] > 0
    # Where its time went, stage by stage ([wall, CPU] s); its seconds are theirs, not the wait between.
    stages = analysis["stage_seconds"]
    assert list(stages) == ["rules", "paths", "findings", "paths written", "owners", "grades"]
    assert analysis["seconds"] == pytest.approx(sum(wall for wall, _ in stages.values()), abs=0.01)
    if connection.vendor != "postgresql":  # written at once: no writer to judge beside
        assert seen == {"evaluate": None, "reconcile": None}
        return
    store_writer, paths_writer = seen["evaluate"], seen["reconcile"]
    assert store_writer is not None and paths_writer is not None and store_writer is not paths_writer


def test_a_batch_that_fails_behind_the_run_fails_the_snapshot_and_leaves_nothing_of_it(tmp_path, monkeypatch):
    copy = written_behind.insert_values
    copied = []

    def third_fails(model, rows, **kwargs):
        copied.append(model)
        if len(copied) == 3:
            raise OSError("the database went away")
        return copy(model, rows, **kwargs)

    monkeypatch.setattr(written_behind, "insert_values", third_fails)
    configure_cluster("failing", {})
    snapshot = import_dump("failing", assemble(CASE, tmp_path / "failing", {}), taken_at=TAKEN_AT)

    assert snapshot.status == Snapshot.Status.FAILED and "the database went away" in snapshot.error
    assert not InventoryObject.objects.filter(cluster__name="failing").exists()
    assert not any(thread.name == WRITER for thread in threading.enumerate())
    if connection.vendor == "postgresql":  # behind the run, the batches after the failed one are dropped
        assert len(copied) == 3


def test_the_writer_runs_the_runs_execute_wrappers(tmp_path):
    """How the lease's fence (inventory/lease.py) guards the rows written behind."""
    seen = []

    def wrapper(execute, sql, params, many, context):
        seen.append((threading.current_thread().name, sql.split()[0]))
        return execute(sql, params, many, context)

    configure_cluster("wrapped", {})
    directory = assemble(CASE, tmp_path / "wrapped", {})
    with connection.execute_wrapper(wrapper):
        import_dump("wrapped", directory, taken_at=TAKEN_AT)
    copier = WRITER if connection.vendor == "postgresql" else "MainThread"
    assert (copier, "COPY" if connection.vendor == "postgresql" else "INSERT") in seen
