"""`manage.py bench` (issue 13's benchmark, `make bench`) keeps working: run end to end at a tiny
scale, on PostgreSQL with a real Celery worker and the simulator in its own process, every item
measured and every target judged.  Times are reported, never asserted (they flake on shared machines)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from benchmark.database import ThrowawayDatabase, database_name, with_database
from benchmark.run import ITEMS

pytestmark = pytest.mark.production
ROOT = Path(__file__).resolve().parent.parent


def _exists(url: str) -> bool:
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database_name(url)])
        return found.fetchone() is not None


@pytest.fixture
def bench_url():
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith("postgres") or not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("the bench needs PostgreSQL (DATABASE_URL) and Redis (CELERY_BROKER_URL)")
    return with_database(base, database_name(base) + "_benchtest")


def test_the_bench_measures_every_item_at_a_tiny_scale(bench_url, tmp_path):
    out = tmp_path / "results.json"
    env = {
        **os.environ,
        "DATABASE_URL": bench_url,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "SECRET_KEY": "bench-not-a-secret",
        "DASHBOARD_DATA_DIR": str(tmp_path),
        "DEMO_ENABLED": "false",
    }
    items = [item for item in ITEMS if item != "pages"]  # every page: tests/test_bench_pages.py
    run = subprocess.run(
        [sys.executable, "manage.py", "bench", "--scale=8", f"--items={','.join(items)}", "--page-runs=1"]
        + ["--history-snapshots=1", f"--json-out={out}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    results = json.loads(out.read_text())

    assert results["machine"]["cores"] and results["machine"]["commit"]
    assert results["floor"]["objects"] == results["objects"] > 0
    steps = results["snapshots"]
    assert [steps[name]["status"] for name in ("first", "unchanged", "churn")] == ["complete"] * 3
    assert steps["first"]["inventory_rows_written"] > 0 and steps["first"]["worker_cpu_seconds"] > 0
    assert steps["first"]["worker_peak_net_bytes"] > 0  # the worker's own memory, read from /proc
    assert steps["unchanged"]["inventory_rows_written"] == 0  # only volatile fields moved
    # The first snapshot against the run's floor; the later ones against a floor measured beside them.
    assert "floor" not in steps["first"]
    for step in (steps[name] for name in ("first", "unchanged", "churn")):
        floor = step.get("floor") or results["floor"]
        assert floor["objects"] == results["objects"]
        assert step["ratio_to_floor"] == round(step["seconds"] / floor["seconds"], 2)
    assert {row["page"] for row in results["key_pages"]} == {
        "overview",
        "namespaces list",
        "namespace exposure view",
        "findings list",
        "findings API",
    }
    assert all(row["status"] == 200 and row["queries"] > 0 for row in results["key_pages"])
    assert results["digests"]["owners"] > 0
    growth = results["database_growth"]
    assert growth["snapshots"] == 1 and growth["size_after_bytes"] >= growth["size_after_first_bytes"] > 0
    assert set(results["item_seconds"]) == set(items) - {"5", "6"}  # read off the snapshots of 2-4
    judged = {target["target"]: target["met"] for target in results["targets"]}
    assert all(met in (True, False, None) for met in judged.values())
    assert judged["the whole run, minutes"] is None  # judged of a full run at bench scale only
    # Each item printed as measured, then the targets.
    assert "1. floor" in run.stdout and "targets (issue 13)" in run.stdout
    # The throwaway databases are gone.
    assert not _exists(bench_url) and not _exists(
        with_database(bench_url, database_name(bench_url) + "_history")
    )


def test_the_bench_drops_only_a_database_it_made(bench_url):
    foreign = with_database(bench_url, database_name(bench_url) + "_foreign")
    name = database_name(foreign)
    with psycopg.connect(with_database(foreign, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with pytest.raises(RuntimeError, match="not a bench's throwaway"):
            ThrowawayDatabase(foreign).create()
        assert _exists(foreign)
    finally:
        with psycopg.connect(with_database(foreign, "postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    made = ThrowawayDatabase(foreign).create()  # marked as the bench's: made again over a leftover
    ThrowawayDatabase(foreign).create()
    made.drop()
    assert not _exists(foreign)
