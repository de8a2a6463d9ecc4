"""`manage.py bench --scale small`: the storage benchmark (`make bench`).

Serves the simulator (its Kubernetes API and its ONTAP and SolidFire arrays) at the chosen scale
over loopback and measures, in one run: the raw-fetch floor (every Kubernetes kind and every array
collection fetched in pages and parsed, nothing else), a first snapshot, an unchanged snapshot
(only volatile fields churned), and a 1%-churn snapshot.  Times are reported as ratios to the
floor measured in the same run; storage as rows written.  Last, one export rule with 10,000 client
entries is evaluated and judged against the cluster's nodes, as a snapshot would (near-linear:
well under a second; it was quadratic once).
"""

import json
import tempfile
import time
from datetime import timedelta
from ipaddress import IPv4Address
from pathlib import Path

import orjson
import requests
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from arrays.admission import Admissions, node_set_of
from arrays.credentials import resolve
from arrays.join import Gate, Resolution
from arrays.models import Array
from arrays.sources.contract import ONTAP_COLLECTIONS, SOLIDFIRE_METHODS
from exposure.models import Finding
from inventory.kinds import KINDS
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.sources.kubernetes import api_client_from_kubeconfig, iter_list_pages
from inventory.state import SnapshotState
from inventory.tasks import snapshot_now
from simulator.serving import ServedArray, SimulatedEstate
from simulator.world import Simulation

LARGE_RULE_ENTRIES = 10_000


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
        started = time.perf_counter()
        simulation = Simulation(seed=seed, scale=_scale(scale))
        built = time.perf_counter() - started
        self.stdout.write(f"simulator ({scale}) built in {built:.1f}s; database: {connection.vendor}")
        credentials_root = Path(settings.ARRAY_CREDENTIALS_DIR)
        credentials_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The arrays' credentials where the product may read them (ARRAY_CREDENTIALS_DIR).
        with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(dir=credentials_root) as creds:
            estate = SimulatedEstate(simulation, Path(tmp), credentials_dir=Path(creds)).start()
            try:
                results = self._measure(simulation, estate, page_size, churn, scale)
            finally:
                estate.stop()
        self._print(results)
        if json_out:
            Path(json_out).write_text(json.dumps(results, indent=2))

    # --- the floor: fetch and parse, nothing else ------------------------------------------------

    def _kubernetes_floor(self, kubeconfig, page_size) -> int:
        objects = 0
        with api_client_from_kubeconfig(str(kubeconfig)) as client:
            for info in KINDS:
                for page in iter_list_pages(client, info, page_size=page_size):
                    objects += len(orjson.loads(page).get("items") or [])
        return objects

    def _array_floor(self, served: ServedArray, page_size) -> int:
        session = requests.Session()
        session.auth = resolve(f"file:{served.credentials_dir}")
        ca = str(served.ca_bundle)  # per request: REQUESTS_CA_BUNDLE in the environment beats session.verify
        base, records = served.server.url, 0
        if served.kind == "ontap":
            for path in ONTAP_COLLECTIONS:
                url = f"{base}{path}?fields=*&max_records={page_size}"
                while url:
                    body = orjson.loads(session.get(url, timeout=60, verify=ca).content)
                    records += len(body.get("records") or [])
                    next_link = ((body.get("_links") or {}).get("next") or {}).get("href")
                    url = f"{base}{next_link}" if next_link else None
        else:
            for method, field in SOLIDFIRE_METHODS.items():
                payload = {"method": method, "params": {}, "id": 1}
                body = orjson.loads(
                    session.post(f"{base}/json-rpc/12.3", json=payload, timeout=60, verify=ca).content
                )
                value = (body.get("result") or {}).get(field)
                records += len(value) if isinstance(value, list) else 1
        return records

    def _floor(self, estate, page_size) -> tuple[float, int]:
        started = time.perf_counter()
        objects = self._kubernetes_floor(estate.kubeconfig, page_size)
        objects += sum(self._array_floor(served, page_size) for served in estate.arrays)
        return time.perf_counter() - started, objects

    # --- the snapshots ------------------------------------------------------------------------

    def _measure(self, simulation, estate, page_size, churn, scale) -> dict:
        # Best of two: the first run also warms the servers' serialisation caches.
        floor_seconds, objects = min(self._floor(estate, page_size) for _ in range(2))
        stamp = int(time.time())
        arrays = [self._register(served, stamp) for served in estate.arrays]
        cluster = Cluster.objects.create(
            name=f"bench-{stamp}", source=Cluster.Source.KUBECONFIG, kubeconfig_path=str(estate.kubeconfig)
        )
        steps = []
        try:
            steps.append(("first snapshot", *self._snapshot(cluster)))
            simulation.advance_to(simulation.clock + timedelta(minutes=10))
            steps.append(("unchanged (volatile churn)", *self._snapshot(cluster)))
            changed = simulation.churn(churn)
            steps.append((f"{churn:.0%} churn ({changed} objects)", *self._snapshot(cluster)))
            total_rows = InventoryObject.objects.filter(cluster=cluster).count()
            large_rule_seconds = self._large_rule(cluster)
        finally:
            cluster.delete()
            for array in arrays:
                array.delete()
        return {
            "scale": scale,
            "objects": objects,
            "floor_seconds": round(floor_seconds, 3),
            "steps": [
                {
                    "step": label,
                    "status": snap.status,
                    "seconds": snap.duration_seconds,
                    "ratio_to_floor": round(snap.duration_seconds / floor_seconds, 2),
                    "rows_written": sum(snap.rows_written.values()),
                    "inserted": snap.rows_written.get("inserted", 0),
                    "closed": snap.rows_written.get("closed", 0),
                    # The rules, findings, paths and grades: part of `seconds`, shown on their own.
                    "analysis_seconds": (snap.facts.get("analysis") or {}).get("seconds", 0.0),
                    "analysis_ratio_to_floor": round(
                        (snap.facts.get("analysis") or {}).get("seconds", 0.0) / floor_seconds, 2
                    ),
                    "findings_open": findings_open,
                    "rule_seconds": (snap.facts.get("analysis") or {}).get("rule_seconds", {}),
                    "paths": (snap.facts.get("analysis") or {}).get("paths", {}),
                }
                for label, snap, findings_open in steps
            ],
            "inventory_rows_after": total_rows,
            "large_export_rule": {"entries": LARGE_RULE_ENTRIES, "seconds": round(large_rule_seconds, 3)},
        }

    def _large_rule(self, cluster) -> float:
        """Seconds to evaluate one rule of LARGE_RULE_ENTRIES client entries (a node's address
        among them, the rest foreign) and judge every admitted party against the cluster's nodes."""
        latest = (
            Snapshot.objects.filter(cluster=cluster, status__in=Snapshot.VISIBLE).order_by("-seq").first()
        )
        nodes = node_set_of(SnapshotState.load(latest))
        clients = [{"match": str(IPv4Address(0x0A000000 + i))} for i in range(LARGE_RULE_ENTRIES)]
        rule = {"index": 1, "clients": clients, "protocols": ["nfs"], "ro_rule": ["sys"], "rw_rule": ["sys"]}
        gate = Gate("export-policy", "bench-large-rule", "bench", "volume policy", rules=[rule])
        started = time.perf_counter()
        parties = Admissions(nodes).of(Resolution("bench", [], "other", gates=[gate]))
        seconds = time.perf_counter() - started
        assert len(parties) == LARGE_RULE_ENTRIES, len(parties)
        return seconds

    def _register(self, served: ServedArray, stamp: int) -> Array:
        return Array.objects.create(**{**served.array_settings(), "name": f"bench-{stamp}-{served.name}"})

    def _snapshot(self, cluster) -> tuple:
        snapshot = snapshot_now(cluster)
        if snapshot.unread or snapshot.error:
            self.stderr.write(
                f"snapshot #{snapshot.seq} {snapshot.status}: {snapshot.unread} {snapshot.error}"
            )
        return snapshot, Finding.objects.filter(cluster=cluster, status="open").count()

    def _print(self, results):
        out = self.stdout
        out.write(f"objects and array records: {results['objects']}")
        out.write(f"raw-fetch floor: {results['floor_seconds']:.2f}s")
        out.write(
            f"{'step':<34} {'status':<9} {'seconds':>8} {'× floor':>8} {'rows written':>13} "
            f"{'analysis × floor':>17}"
        )
        for step in results["steps"]:
            out.write(
                f"{step['step']:<34} {step['status']:<9} {step['seconds']:>8.2f} "
                f"{step['ratio_to_floor']:>8.2f} {step['rows_written']:>13} "
                f"{step['analysis_ratio_to_floor']:>17.2f}"
            )
        out.write(f"inventory rows after all steps: {results['inventory_rows_after']}")
        large = results["large_export_rule"]
        out.write(
            f"one export rule of {large['entries']} client entries, evaluated and judged: "
            f"{large['seconds']:.2f}s"
        )
