"""The layout's promises (ARCHITECTURE.md, "Layers and contracts"): the import contracts hold, and
the rules are pure judgement over an analysis context: they import, and run, with no database."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Run where DATABASES points at nothing (a closed loopback port): any query would raise, and the
# connection must still be unopened at the end.
RULES_WITHOUT_A_DATABASE = """
import django
django.setup()
from django.db import connections

from exposure.analysis.context import Context
from exposure.analysis.settings import AnalysisSettings
from exposure.engine import evaluate
from exposure.rules import ALL_RULES
from inventory.models import Cluster, Snapshot
from inventory.state import SnapshotState

snapshot = Snapshot(cluster=Cluster(name="nowhere"), seq=1)
state = SnapshotState(snapshot, objects={}, arrays={}, departed_nodes={})
evaluation = evaluate(Context(state, AnalysisSettings(), access_records={}))
assert not evaluation.failed, evaluation.failed
assert connections["default"].connection is None, "a rule opened a database connection"
print(len(ALL_RULES), "rules imported and ran")
"""


def test_the_rules_import_and_run_without_a_database():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "dashboard.settings",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:9/nowhere",
        "SECRET_KEY": "rules-without-a-database",  # a production-shaped environment requires one
    }
    done = subprocess.run(
        [sys.executable, "-c", RULES_WITHOUT_A_DATABASE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "rules imported and ran" in done.stdout


def test_the_import_contracts_hold():
    """The same check as `make lint`, so that a broken layer fails the suite too."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports"))], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-5000:]
    assert "0 broken" in done.stdout
