"""The bench worker's settings: production's, but closing its database connection after each task
(CONN_MAX_AGE 0), so that its backend's table counts reach pg_stat_user_tables as the task ends
(a backend that stays idle reports them up to 10 s later).  One connection per task: negligible.
With BENCH_PROFILE_DIR set (`make bench PROFILE=1`), each task is profiled into that folder."""

import os
from pathlib import Path

from dashboard.settings import *  # noqa: F403

DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405

if os.environ.get("BENCH_PROFILE_DIR"):
    from benchmark.profiling import profile_tasks_into

    profile_tasks_into(Path(os.environ["BENCH_PROFILE_DIR"]))
