"""The benchmark's PostgreSQL side: a throwaway database, rows written, and the database's size.

The database is created by the bench and dropped after it; one that already exists is reused only if
the bench made it (marked by a comment on the database), never someone's data.  Rows written are the
deltas of `pg_stat_user_tables` (inserts, updates and deletes in every table).  A backend reports
its counts when it ends, or once idle at most once a second (else up to PGSTAT_IDLE_INTERVAL, 10 s,
later): so a reading first waits for every other backend on the database to end (the bench's
worker closes its connection after each task: benchmark/worker_settings.py), and the bench's own
session forces its report (pg_stat_force_next_flush, PostgreSQL 15+).
"""

import time
from urllib.parse import urlsplit

import psycopg
from django.db import connection as django_connection
from psycopg import sql

MARK = "dashboard bench: throwaway database, dropped after the run"
# How long an idle backend may keep its counts to itself (PostgreSQL's PGSTAT_IDLE_INTERVAL), and more.
IDLE_REPORT_SECONDS = 10.5


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path="/" + name).geturl()


def _maintenance(url: str) -> psycopg.Connection:
    return psycopg.connect(with_database(url, "postgres"), autocommit=True)


def server_version(url: str) -> str:
    with _maintenance(url) as admin:
        return admin.execute("SHOW server_version").fetchone()[0]


class ThrowawayDatabase:
    def __init__(self, url: str):
        self.url = url
        self.name = database_name(url)
        if not self.name or self.name == "postgres":
            raise ValueError(f"not a database the bench may create and drop: {self.name!r}")

    def _comment(self, admin) -> tuple | None:
        return admin.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [self.name],
        ).fetchone()

    def is_ours(self) -> bool:
        """It exists and a bench made it (one a run kept, to time its pages again)."""
        with _maintenance(self.url) as admin:
            comment = self._comment(admin)
        return comment is not None and comment[0] == MARK

    def create(self) -> "ThrowawayDatabase":
        with _maintenance(self.url) as admin:
            comment = self._comment(admin)
            if comment is not None:
                if comment[0] != MARK:
                    raise RuntimeError(
                        f"database {self.name} exists and is not a bench's throwaway: refusing to drop it"
                    )
                self._drop(admin)  # left over from a bench that was killed
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
            admin.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(sql.Identifier(self.name), sql.Literal(MARK))
            )
        return self

    def drop(self) -> None:
        with _maintenance(self.url) as admin:
            self._drop(admin)

    def _drop(self, admin) -> None:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))


class TableCounters:
    """Inserts, updates and deletes of every table of one database, read through its own connection."""

    def __init__(self, url: str):
        self.connection = psycopg.connect(url, autocommit=True)

    def close(self) -> None:
        self.connection.close()

    def read(self, others_done: bool = True) -> dict[str, tuple[int, int, int]]:
        """The counts of every table, once every other backend on the database has reported."""
        if others_done:
            self._wait_for_other_backends()
        self.connection.execute("SELECT pg_stat_clear_snapshot()")
        rows = self.connection.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"
        ).fetchall()
        return {name: (ins, upd, dele) for name, ins, upd, dele in rows}

    def _wait_for_other_backends(self) -> None:
        # The bench's own Django session: its counts are reported when it goes idle after this.
        with django_connection.cursor() as cursor:
            cursor.execute("SELECT pg_stat_force_next_flush()")
            cursor.execute("SELECT pg_backend_pid()")
            ours = [cursor.fetchone()[0], self.connection.info.backend_pid]
        deadline = time.monotonic() + IDLE_REPORT_SECONDS
        while time.monotonic() < deadline:
            others = self.connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND backend_type = 'client backend' AND NOT (pid = ANY(%s))",
                [ours],
            ).fetchone()[0]
            if not others:
                time.sleep(0.05)  # our own session's report, as it went idle
                return
            time.sleep(0.05)
        # Another backend stayed (not the bench's worker): its counts are reported by now.

    def size_bytes(self) -> int:
        """Tables, their TOAST and their indexes (pg_total_relation_size) of every user table."""
        return self.connection.execute(
            "SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::bigint FROM pg_stat_user_tables"
        ).fetchone()[0]


def rows_written(before: dict, after: dict) -> dict[str, int]:
    """Per table, inserts + updates + deletes between two readings (tables with none left out)."""
    written = {}
    for table, counts in after.items():
        earlier = before.get(table, (0, 0, 0))
        total = sum(now - then for now, then in zip(counts, earlier, strict=True))
        if total:
            written[table] = total
    return written
