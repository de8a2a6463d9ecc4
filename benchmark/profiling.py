"""The bench worker's optional profile (`make bench PROFILE=1`): each task it runs is profiled with
cProfile into `<directory>/task-<n>-<name>.pstats`, so that a missed target can be shown with the
profile that explains it (`python -m pstats FILE`).

Off by default: cProfile slows the worker about twofold, so a profiled run's times are not its figures.
"""

import cProfile
import itertools
from pathlib import Path

from celery.signals import task_postrun, task_prerun

_profiles: dict[str, cProfile.Profile] = {}
_numbers = itertools.count(1)


def profile_tasks_into(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)

    def start(task_id=None, **_):
        profile = cProfile.Profile()
        _profiles[task_id] = profile
        profile.enable()

    def stop(task_id=None, task=None, **_):
        profile = _profiles.pop(task_id, None)
        if profile is not None:
            profile.disable()
            name = getattr(task, "name", "task").rsplit(".", 1)[-1]
            profile.dump_stats(directory / f"task-{next(_numbers)}-{name}.pstats")

    task_prerun.connect(start, weak=False)
    task_postrun.connect(stop, weak=False)
