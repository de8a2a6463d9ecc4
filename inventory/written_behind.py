"""A run's rows written behind it: PostgreSQL takes them in on its own core while the run goes on.

A first snapshot of a large cluster writes hundreds of thousands of rows.  PostgreSQL spends longer
on them (six indexes, each document parsed to jsonb and compressed) than the run spends making them,
and the run used to wait for each batch: at the bench scale it waited longer than it worked
(BENCHMARKS.md).  Inside `rows_written_behind()`, `insert_batch` hands each batch to a thread of the
block's own, on its own connection with the run's execute wrappers (the lease's fence: a fenced
run's writer stops too), which copies the batches in order, a transaction each, as the run would.

The block's end waits for the last batch.  A batch that failed raises at the run's next batch or
at the block's end (so the run fails and undoes the snapshot's writes: inventory/snapshotting.py);
a block that raised stops its writer first, dropping what is not written yet, so that nothing is
written after the undo.

Only on PostgreSQL and outside a transaction; elsewhere each batch is written at once.  Inside a
caller's transaction another connection could not see the rows the batches refer to (the cluster,
the snapshot); SQLite writes one transaction at a time.  The rows written behind are not read back
during the block: the store and the derivation hand on what they wrote in memory, and the rules
judge from that memory inside the block; the findings are recorded after it.  The analysis writes
its exposure paths behind it the same way, in a block of its own, while it reconciles the findings.
"""

import queue
import threading
from contextlib import ExitStack, contextmanager

from django.db import connection, connections, models, transaction

from inventory.bulk_insert import insert_values

# Batches queued at most, beyond which the run waits for PostgreSQL.  The rows' documents are in
# memory anyway (the store hands them on to the derivation); a batch queued adds its row dicts, under
# a megabyte, and at the bench scale PostgreSQL takes in a first snapshot's rows slower than the run
# makes them: the whole store (273 batches) fits, so the run never waits for them before the block ends.
MOST_BEHIND = 512

_run_local = threading.local()  # the writer of the block the current thread is in


class _Writer:
    def __init__(self):
        self.error: BaseException | None = None
        self._batches: queue.Queue = queue.Queue(maxsize=MOST_BEHIND)
        self._dropping = False
        self._wrappers = list(connection.execute_wrappers)
        self._thread = threading.Thread(target=self._run, name="rows-written-behind", daemon=True)
        self._thread.start()

    def put(self, model: type[models.Model], rows: list[dict]) -> None:
        if self.error is not None:
            raise self.error
        self._batches.put((model, rows))

    def finish(self, write_the_rest: bool) -> None:
        self._dropping = not write_the_rest
        self._batches.put(None)
        self._thread.join()

    def _run(self) -> None:
        try:
            with ExitStack() as wrapped:
                for wrapper in self._wrappers:
                    wrapped.enter_context(connection.execute_wrapper(wrapper))
                # Every batch is taken off the queue, written or not, so that the run never waits on
                # a full queue after a failure.
                while (batch := self._batches.get()) is not None:
                    if self.error is None and not self._dropping:
                        try:
                            _insert_now(*batch)
                        except BaseException as error:  # the run raises it at its next batch or the end
                            self.error = error
        finally:
            connections.close_all()  # this thread's connection only


@contextmanager
def rows_written_behind():
    """Write the batches `insert_batch` is given in the block behind the run (see the module)."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or _writer() is not None:
        yield
        return
    writer = _run_local.writer = _Writer()
    try:
        yield
    except BaseException:
        writer.finish(write_the_rest=False)
        raise
    else:
        writer.finish(write_the_rest=True)
        if writer.error is not None:
            raise writer.error
    finally:
        _run_local.writer = None


def insert_batch(model: type[models.Model], rows: list[dict]) -> None:
    """Insert `rows` (as `insert_values` takes them) in a transaction of their own: now, or behind
    the run inside `rows_written_behind()`."""
    writer = _writer()
    if writer is None:
        _insert_now(model, rows)
    else:
        writer.put(model, rows)


def _insert_now(model: type[models.Model], rows: list[dict]) -> None:
    """One batch, in a transaction of its own: as the run writes it, or its writer behind it."""
    with transaction.atomic():
        insert_values(model, rows)


def _writer() -> _Writer | None:
    return getattr(_run_local, "writer", None)
