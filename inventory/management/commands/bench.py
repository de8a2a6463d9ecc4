"""`manage.py bench --scale small`: the storage benchmark (`make bench`).

Serves the simulator at the chosen scale over real HTTP and measures, in one run:
the raw-fetch floor (every kind listed in pages and parsed, nothing else), a first snapshot, an
unchanged snapshot (only volatile fields churned), and a 1%-churn snapshot.  Times are reported
as ratios to the floor measured in the same run; storage as rows written.
"""

import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import orjson
from django.core.management.base import BaseCommand
from django.db import connection

from inventory.kinds import KINDS
from inventory.models import Cluster, InventoryObject
from inventory.simulator.k8s_api import KubernetesApiServer
from inventory.simulator.world import Simulation
from inventory.sources.kubernetes import api_client_from_kubeconfig, iter_list_pages
from inventory.tasks import snapshot_now


def _scale(value: str):
    return int(value) if value.isdigit() else value


class Command(BaseCommand):
    help = "Measure snapshot cost against the raw-fetch floor at a chosen simulator scale."

    def add_arguments(self, parser):
        parser.add_argument("--scale", default="small", help="demo, small, bench, or a number of namespaces")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--page-size", type=int, default=500)
        parser.add_argument("--churn", type=float, default=0.01)
        parser.add_argument("--json-out", help="also write the results as JSON here")

    def handle(self, *args, scale, seed, page_size, churn, json_out=None, **options):
        out = self.stdout
        started = time.perf_counter()
        simulation = Simulation(seed=seed, scale=_scale(scale))
        build_seconds = time.perf_counter() - started
        out.write(f"simulator ({scale}) built in {build_seconds:.1f}s; database: {connection.vendor}")
        server = KubernetesApiServer(simulation).start()
        try:
            with tempfile.TemporaryDirectory() as tmp:
                kubeconfig = server.write_kubeconfig(Path(tmp) / "kubeconfig")
                results = self._measure(simulation, kubeconfig, page_size, churn, scale)
        finally:
            server.stop()
        self._print(results)
        if json_out:
            Path(json_out).write_text(json.dumps(results, indent=2))

    def _floor(self, kubeconfig, page_size) -> tuple[float, int]:
        client = api_client_from_kubeconfig(str(kubeconfig))
        objects = 0
        started = time.perf_counter()
        with client:
            for info in KINDS:
                for page in iter_list_pages(client, info, page_size=page_size):
                    objects += len(orjson.loads(page).get("items") or [])
        return time.perf_counter() - started, objects

    def _measure(self, simulation, kubeconfig, page_size, churn, scale) -> dict:
        # Best of two: the first run also warms the server's serialisation caches.
        floor = min(self._floor(kubeconfig, page_size) for _ in range(2))
        name = f"bench-{int(time.time())}"
        cluster = Cluster.objects.create(
            name=name, source=Cluster.Source.KUBECONFIG, kubeconfig_path=str(kubeconfig)
        )
        steps = []
        try:
            steps.append(("first snapshot", self._snapshot(cluster)))
            simulation.advance_to(simulation.clock + timedelta(minutes=10))
            steps.append(("unchanged (volatile churn)", self._snapshot(cluster)))
            changed = simulation.churn(churn)
            steps.append((f"{churn:.0%} churn ({changed} objects)", self._snapshot(cluster)))
            total_rows = InventoryObject.objects.filter(cluster=cluster).count()
        finally:
            cluster.delete()
        return {
            "scale": scale,
            "objects": floor[1],
            "floor_seconds": round(floor[0], 3),
            "steps": [
                {
                    "step": label,
                    "status": snap.status,
                    "seconds": snap.duration_seconds,
                    "ratio_to_floor": round(snap.duration_seconds / floor[0], 2),
                    "rows_written": sum(snap.rows_written.values()),
                    "inserted": snap.rows_written.get("inserted", 0),
                    "closed": snap.rows_written.get("closed", 0),
                }
                for label, snap in steps
            ],
            "inventory_rows_after": total_rows,
        }

    def _snapshot(self, cluster):
        snapshot = snapshot_now(cluster)
        if snapshot.unread or snapshot.error:
            self.stderr.write(
                f"snapshot #{snapshot.seq} {snapshot.status}: {snapshot.unread} {snapshot.error}"
            )
        return snapshot

    def _print(self, results):
        out = self.stdout
        out.write(f"objects: {results['objects']}, raw-fetch floor: {results['floor_seconds']:.2f}s")
        out.write(f"{'step':<34} {'status':<9} {'seconds':>8} {'× floor':>8} {'rows written':>13}")
        for step in results["steps"]:
            out.write(
                f"{step['step']:<34} {step['status']:<9} {step['seconds']:>8.2f} "
                f"{step['ratio_to_floor']:>8.2f} {step['rows_written']:>13}"
            )
        out.write(f"inventory rows after all steps: {results['inventory_rows_after']}")
