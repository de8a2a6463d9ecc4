"""Wall and CPU seconds of each phase of a run: where a slow snapshot's time went, without a profiler
(a leaf: the snapshot's phases and its analysis's stages)."""

import time


class PhaseClock:
    """Laps of wall and CPU time.  CPU is the process's (a worker runs one task; in the embedded mode,
    other threads' time counts too)."""

    def __init__(self):
        self.laps: list[tuple[str, float, float]] = []
        self._wall, self._cpu = time.monotonic(), time.process_time()

    def lap(self, phase: str) -> None:
        wall, cpu = time.monotonic(), time.process_time()
        self.laps.append((phase, wall - self._wall, cpu - self._cpu))
        self._wall, self._cpu = wall, cpu

    def resume(self) -> None:
        """Start the next lap now: the time since the last one was some other work's."""
        self._wall, self._cpu = time.monotonic(), time.process_time()

    @property
    def seconds(self) -> float:
        """Wall seconds of every lap."""
        return sum(wall for _, wall, _ in self.laps)

    def as_dict(self) -> dict[str, list[float]]:
        """phase -> [wall, CPU] seconds, for a snapshot's facts."""
        return {phase: [round(wall, 3), round(cpu, 3)] for phase, wall, cpu in self.laps}

    def __str__(self) -> str:
        return laps_text(self.as_dict())


def laps_text(laps: dict[str, list[float]]) -> str:
    """`as_dict()`'s laps (or a snapshot's facts' copy of them) as a log line's words."""
    return ", ".join(f"{phase} {wall:.1f} s (CPU {cpu:.1f})" for phase, (wall, cpu) in laps.items())
