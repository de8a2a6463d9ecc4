"""`manage.py bench`: issue 13's benchmark (`make bench`); see benchmark/run.py for what it measures.

Runs on PostgreSQL (DATABASE_URL names the throwaway database it creates and drops: never an existing
one it did not make) with a real Celery worker on CELERY_BROKER_URL, against the simulator in a
process of its own.  Prints each item as it is measured, then every target of the issue as met or
missed, and writes everything (with the machine, the date and the commit) to --json-out.
"""

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from benchmark.report import summary
from benchmark.run import ITEMS, Bench


def _scale(value: str):
    return int(value) if value.isdigit() else value


def _items(value: str) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()] if value else list(ITEMS)
    unknown = [item for item in items if item not in ITEMS]
    if unknown:
        raise CommandError(f"unknown item(s) {', '.join(unknown)}: choose among {', '.join(ITEMS)}")
    return items


class Command(BaseCommand):
    help = "Measure the snapshot pipeline and the pages at a simulator scale (issue 13's benchmark)."
    requires_system_checks = []  # the database does not exist yet: the bench creates it

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale", type=_scale, default="bench", help="demo, small, bench, or a number of namespaces"
        )
        parser.add_argument(
            "--items", default="", help=f"comma-separated, among {', '.join(ITEMS)} (default: all)"
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--page-size", type=int, default=500)
        parser.add_argument("--churn", type=float, default=0.01)
        parser.add_argument("--page-runs", type=int, default=20, help="timed requests of each key page")
        parser.add_argument("--history-snapshots", type=int, default=100, help="item 9's snapshots at churn")
        parser.add_argument("--json-out", help="write the results as JSON here")
        parser.add_argument(
            "--keep-database",
            action="store_true",
            help="leave the database (cluster, snapshots, findings) in place after the run, to time "
            "pages against it again (dashboard/bench_pages.py); the next run drops it",
        )
        parser.add_argument(
            "--reuse-database",
            action="store_true",
            help="time the pages (items 7 and pages only) of the database a --keep-database run left, "
            "without a new snapshot",
        )
        parser.add_argument("--history-run", action="store_true", help="(internal) item 9's child run")

    def handle(
        self,
        *args,
        scale,
        items,
        seed,
        page_size,
        churn,
        page_runs,
        history_snapshots,
        json_out=None,
        history_run=False,
        keep_database=False,
        reuse_database=False,
        **options,
    ):
        if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
            raise CommandError(
                "the bench runs on PostgreSQL: set DATABASE_URL to the throwaway database it may create"
            )
        if not os.environ.get("CELERY_BROKER_URL"):
            raise CommandError("the bench runs a real Celery worker: set CELERY_BROKER_URL (Redis)")
        bench = Bench(
            scale=scale,
            items=["9"] if history_run else _items(items),
            seed=seed,
            page_size=page_size,
            churn=churn,
            page_runs=page_runs,
            history_snapshots=history_snapshots,
            out=self.stdout,
            keep_database=keep_database,
            reuse_database=reuse_database,
        )
        if history_run:
            results = bench.history_run()
        else:
            results = bench.run()
            for line in summary(results):
                self.stdout.write(line)
        if json_out:
            Path(json_out).parent.mkdir(parents=True, exist_ok=True)
            Path(json_out).write_text(json.dumps(results, indent=2, default=str))
