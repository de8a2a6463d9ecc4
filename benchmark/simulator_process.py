"""The simulator in a process of its own, serving pre-rendered pages, steered over a pipe.

The measured processes (the worker, the floor's client) share the machine with it but not its
interpreter: the figures are the client's.  After building the world, and again after each change
the bench asks for (time passing, churn), every answer a snapshot and the floor will ask for is
rendered once (the servers' response caches, filled by reading everything through the product's
own readers and the floor's) and then served as bytes.

Protocol: the process writes one line `BENCH-SIM <json>` when ready (the kubeconfig, the arrays'
settings, how many objects) and one after each command; the bench writes one JSON command a line
on its stdin: {"op": "advance", "minutes": M}, {"op": "churn", "fraction": F, "render": R},
{"op": "served"} (answers served from the caches and rendered anew since the last asking),
{"op": "stop"}.  A change with "render": false leaves the caches empty, to be filled as the answers
are asked for: item 9's snapshots measure the database, not time, and rendering every answer ahead
of each of them took longer than the snapshot itself.
"""

import inspect
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from benchmark import processes

PREFIX = "BENCH-SIM "

ROOT = Path(__file__).resolve().parent.parent


# --- in the simulator's process ---------------------------------------------------------------


def serve(scale, seed: int, directory: Path, credentials_dir: Path, page_size: int, out=sys.stdout) -> None:
    from simulator.serving import SimulatedEstate
    from simulator.world import Simulation

    started = time.perf_counter()
    simulation = Simulation(seed=seed, scale=scale)
    built = time.perf_counter() - started
    estate = SimulatedEstate(simulation, directory, credentials_dir=credentials_dir).start()
    servers = [estate.kubernetes, *(served.server for served in estate.arrays)]
    for server in servers:
        server.cache_responses()
    arrays = [served.array_settings() for served in estate.arrays]
    try:
        objects, rendered = _render(estate, arrays, page_size)
        served = _served(servers)
        _say(
            out,
            {
                "kubeconfig": str(estate.kubeconfig),
                "arrays": arrays,
                "objects": objects,
                "build_seconds": round(built, 1),
                "render_seconds": rendered,
                "sizes": simulation.sizes.__dict__,
            },
        )
        for line in sys.stdin:
            command = json.loads(line)
            if command["op"] == "stop":
                break
            if command["op"] == "served":  # answers served from the caches, and rendered anew
                hits, misses = _served(servers)
                _say(out, {"cached": hits - served[0], "rendered": misses - served[1]})
                served = (hits, misses)
                continue
            with simulation.lock:
                if command["op"] == "advance":
                    simulation.advance_to(simulation.clock + timedelta(minutes=command["minutes"]))
                    changed = None
                else:
                    changed = simulation.churn(command["fraction"])
            for server in servers:
                server.responses.clear()
            objects, rendered = None, 0.0  # rendered as asked for
            if command.get("render", True):
                objects, rendered = _render(estate, arrays, page_size)
            served = _served(servers)
            _say(out, {"changed": changed, "objects": objects, "render_seconds": rendered})
    finally:
        estate.stop()


def _render(estate, arrays: list[dict], page_size: int) -> tuple[int, float]:
    """Every answer a snapshot and the floor ask for, rendered into the response caches: the
    Kubernetes lists paged as the product pages them (the raw fetch asks for the same pages; its
    few discovery requests render as they come), the arrays read through the product's readers
    (their libraries ask in their own ways), then the floor's requests."""
    from arrays.credentials import resolve
    from arrays.sources.contract import ArrayEndpoint
    from arrays.sources.ontap import collect_ontap
    from arrays.sources.solidfire import collect_solidfire
    from benchmark.floor import floor, kubernetes_floor
    from inventory.sources.kubernetes import collect_kubernetes

    started = time.perf_counter()
    # The page size the worker's reads use (collect_kubernetes's default).
    product_page_size = inspect.signature(collect_kubernetes).parameters["page_size"].default
    if page_size != product_page_size:
        kubernetes_floor(str(estate.kubeconfig), product_page_size)
    for array in arrays:
        username, password = resolve(array["credentials"])
        endpoint = ArrayEndpoint(
            array["kind"], array["host"], array["port"], "https", username, password, array["ca_bundle"]
        )
        (collect_ontap if array["kind"] == "ontap" else collect_solidfire)(endpoint)
    _, _, objects = floor(str(estate.kubeconfig), arrays, page_size)
    return objects, round(time.perf_counter() - started, 1)


def _served(servers) -> tuple[int, int]:
    return sum(s.responses.hits for s in servers), sum(s.responses.misses for s in servers)


def _say(out, message: dict) -> None:
    out.write(PREFIX + json.dumps(message) + "\n")
    out.flush()


# --- in the bench's process -------------------------------------------------------------------


class SimulatorProcess:
    """`manage.py bench_simulator` started and steered; its answers are dicts."""

    def __init__(self, scale, seed: int, directory: Path, credentials_dir: Path, page_size: int, log: Path):
        self._log = log.open("wb")
        self._popen = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "bench_simulator",
                f"--scale={scale}",
                f"--seed={seed}",
                f"--directory={directory}",
                f"--credentials-dir={credentials_dir}",
                f"--page-size={page_size}",
            ],
            cwd=ROOT,
            env=os.environ.copy(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        self.ready: dict = {}

    def wait_until_ready(self) -> "SimulatorProcess":
        """Building the world and rendering its pages: at bench scale, minutes."""
        self.ready = self._answer()
        return self

    @property
    def pid(self) -> int:
        return self._popen.pid

    def cpu_seconds(self) -> float:
        return processes.cpu_seconds(self.pid)

    def advance(self, minutes: float) -> dict:
        return self._ask({"op": "advance", "minutes": minutes})

    def churn(self, fraction: float, render: bool = True) -> dict:
        """Change `fraction` of the objects; the answers rendered again ahead (`render`), or as asked."""
        return self._ask({"op": "churn", "fraction": fraction, "render": render})

    def served(self) -> dict:
        """Answers served since the last asking: from the caches, and rendered anew (misses)."""
        return self._ask({"op": "served"})

    def stop(self) -> None:
        if self._popen.poll() is None:
            try:
                self._popen.stdin.write(json.dumps({"op": "stop"}) + "\n")
                self._popen.stdin.close()
                self._popen.wait(30)
            except (OSError, subprocess.TimeoutExpired):
                self._popen.kill()
                self._popen.wait()
        self._log.close()

    def _ask(self, command: dict) -> dict:
        self._popen.stdin.write(json.dumps(command) + "\n")
        self._popen.stdin.flush()
        return self._answer()

    def _answer(self) -> dict:
        for line in self._popen.stdout:
            if line.startswith(PREFIX):
                return json.loads(line[len(PREFIX) :])
        raise RuntimeError(f"the simulator process ended (code {self._popen.wait()}): see {self._log.name}")
