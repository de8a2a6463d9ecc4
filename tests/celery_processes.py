"""Real `celery worker` and `celery beat` processes for the tests of the production path.

Each process runs the installed `celery` command against the test database, writes its output to a
log file that tests wait on (and print when they fail), and is always stopped, never orphaned.  The
loopback guard is installed in these processes too, through a `sitecustomize` on their PYTHONPATH, so
the product running in a worker is held to the same rule as in the test process.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from tests.listeners import free_port

ROOT = Path(__file__).resolve().parent.parent
CELERY = Path(sys.executable).with_name("celery")
GUARD_SITECUSTOMIZE = "from tests import loopback_guard\n\nloopback_guard.install()\n"


def database_url_for(database_name: str, url: str) -> str:
    """`url` pointing at `database_name` instead (the test database pytest-django created)."""
    return urlsplit(url)._replace(path="/" + database_name).geturl()


class CeleryProcess:
    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path, ready_line: str):
        self.name = name
        self.log_path = log_path
        self.ready_line = ready_line
        self._log = log_path.open("wb")
        self._popen = subprocess.Popen(
            [str(CELERY), "-A", "dashboard", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self._popen.pid

    def alive(self) -> bool:
        return self._popen.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def lines_with(self, *fragments: str) -> list[str]:
        return [line for line in self.output().splitlines() if all(f in line for f in fragments)]

    def wait_for_output(self, *fragments: str, timeout: float = 20.0) -> str:
        """The first log line holding every fragment; fails early if the process dies first."""
        deadline = time.monotonic() + timeout
        while not (found := self.lines_with(*fragments)):
            if self._popen.poll() is not None:
                raise AssertionError(
                    f"{self.name} exited ({self._popen.returncode}) before logging {fragments}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not log {fragments} within {timeout:g}s")
            time.sleep(0.05)
        return found[0]

    def wait_until_ready(self, timeout: float = 20.0) -> None:
        self.wait_for_output(self.ready_line, timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish, acknowledge or clean up anything."""
        self._popen.kill()
        self._popen.wait()
        self._log.close()

    def terminate(self) -> None:
        """SIGTERM: a warm shutdown, which lets a running task finish."""
        if self._popen.poll() is None:
            self._popen.terminate()

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL if the process has not exited within `timeout`."""
        self.terminate()
        if self._popen.poll() is None:
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        self._log.close()


class CeleryProcesses:
    """The worker and beat processes of one test; `stop_all` ends every one of them."""

    def __init__(self, workdir: Path, *, database_url: str, broker_url: str):
        self.workdir = workdir
        site = workdir / "site"
        site.mkdir(parents=True, exist_ok=True)
        (site / "sitecustomize.py").write_text(GUARD_SITECUSTOMIZE)
        python_path = [str(site), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "dashboard.settings",
            "DATABASE_URL": database_url,
            "SECRET_KEY": settings.SECRET_KEY,  # required with DATABASE_URL; the same as the tests'
            "CELERY_BROKER_URL": broker_url,
            # The embedded defaults write files (the generated secret key) here, not into the tree.
            "DASHBOARD_DATA_DIR": str(workdir),
            "PYTHONPATH": os.pathsep.join(python_path),
            # The Kubernetes API's retries wait as in the test process (tests/conftest.py).
            "KUBERNETES_RETRY_SECONDS": str(settings.KUBERNETES_RETRY_SECONDS),
        }
        self.processes: list[CeleryProcess] = []

    def _start(self, name: str, args: list[str], env: dict[str, str], ready_line: str) -> CeleryProcess:
        process = CeleryProcess(name, args, {**self.env, **env}, self.workdir / f"{name}.log", ready_line)
        self.processes.append(process)
        return process

    def start_worker(self, name: str, pool: str = "solo", chatter: bool = False, **env: str) -> CeleryProcess:
        """A `celery worker` running one task at a time (solo pool unless told); see `wait_until_ready`.

        Without `chatter`, worker-to-worker chatter (mingle, gossip, event heartbeats) is off: it adds
        a second to startup, and the cluster lease under test lives in the database.  With it, the
        worker runs as the production command line starts it."""
        args = [
            "worker",
            f"--pool={pool}",
            "--concurrency=1",
            "--loglevel=INFO",
            f"--hostname={name}@localhost",
        ]
        if not chatter:
            args += ["--without-mingle", "--without-gossip", "--without-heartbeat"]
        return self._start(name, args, env, ready_line=f"{name}@localhost ready.")

    def start_beat(self, **env: str) -> CeleryProcess:
        args = ["beat", "--loglevel=INFO", f"--schedule={self.workdir / 'beat-schedule'}"]
        return self._start("beat", args, env, ready_line="beat: Starting...")

    def wait_until_ready(self) -> None:
        """Processes start side by side; this waits for every one started so far."""
        for process in self.processes:
            process.wait_until_ready()

    def stop_all(self) -> None:
        for process in self.processes:  # all at once: each warm shutdown takes a broker poll cycle
            process.terminate()
        for process in self.processes:
            process.stop()

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} (pid {p.pid}) -----\n{p.output()}" for p in self.processes)


class PrivateRedis:
    """A `redis-server` of the test's own, on a free loopback port and without persistence, so a test
    can stop and restart its broker (losing what it held, as a restart without persistence does)
    without touching the shared server."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self._popen: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.workdir)]
        self._popen = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                if self._popen.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"redis-server on port {self.port} did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self._popen is not None and self._popen.poll() is None:
            self._popen.kill()  # no shutdown save: what it held is gone, as after a crash
            self._popen.wait()
        self._popen = None
