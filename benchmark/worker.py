"""A real Celery worker for the benchmark: `celery -A dashboard worker` in a process of its own,
on the bench's database and broker, taking snapshot tasks as production sends them.

It runs the solo pool (one task at a time, in the worker's own process), so the process whose memory
and CPU time the bench reads is the one that runs the snapshot.  Its idle size is read once it is
ready (Django set up, the tasks and everything they import loaded) and before any task.
"""

import ctypes
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmark import processes

ROOT = Path(__file__).resolve().parent.parent
CELERY = Path(sys.executable).with_name("celery")
PR_SET_PDEATHSIG = 1


def _die_with_the_bench() -> None:
    """In the child, before exec: SIGTERM when the bench's process ends, however it ends (a killed
    bench leaves no worker behind; the simulator ends when its stdin closes)."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class BenchWorker:
    def __init__(self, name: str, queue: str, env: dict[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("wb")
        self._popen = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "dashboard",
                "worker",
                "--pool=solo",
                "--concurrency=1",
                "--loglevel=INFO",
                f"--hostname={name}@localhost",
                f"--queues={queue}",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_the_bench,  # the bench runs no thread of its own that fork could catch
        )
        self.idle_rss_bytes = 0

    @property
    def pid(self) -> int:
        return self._popen.pid

    def wait_until_ready(self, timeout: float = 120.0) -> "BenchWorker":
        deadline = time.monotonic() + timeout
        ready = f"{self.name}@localhost ready."
        while ready not in self.log_path.read_text(errors="replace"):
            if self._popen.poll() is not None:
                raise RuntimeError(f"the worker exited ({self._popen.returncode}): see {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker was not ready within {timeout:g}s: see {self.log_path}")
            time.sleep(0.1)
        time.sleep(0.5)  # past the ready line: the consumer settles
        self.idle_rss_bytes = processes.rss_bytes(self.pid)
        return self

    def alive(self) -> bool:
        return self._popen.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        if self._popen.poll() is None:
            self._popen.terminate()  # warm shutdown: nothing runs by now
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        self._log.close()
