"""`manage.py bench --scale small`: the storage benchmark (`make bench`).

Serves the simulator (its Kubernetes API and its ONTAP and SolidFire arrays) at the chosen scale
over loopback and measures, in one run: the raw-fetch floor (every Kubernetes kind and every array
collection fetched in pages and parsed, nothing else), a first snapshot, an unchanged snapshot
(only volatile fields churned), and a 1%-churn snapshot.  Times are reported as ratios to the
floor measured in the same run; storage as rows written.  Then one export rule with 10,000 client
entries is evaluated and judged against the cluster's nodes, as a snapshot would (near-linear:
well under a second; it was quadratic once).  Last, every page's server time and query count, as
an admin and as a tenant (dashboard/bench_pages.py).

The cluster is configured as the demo's is (tenant label, owner keys, platform namespaces), so that
its namespaces fall into the simulator's tenants.  `--scale 200,800` measures each scale in turn in
the one run and adds each page's growth between the first and the last.
"""

import io
import json
import re
import tempfile
import time
from datetime import timedelta
from ipaddress import IPv4Address
from pathlib import Path

import orjson
import requests
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connection
from django.db.models import Count
from django.test import Client

from arrays.admission import Admissions, node_set_of
from arrays.credentials import resolve
from arrays.join import Gate, Resolution
from arrays.models import Array
from arrays.sources.contract import ONTAP_COLLECTIONS, SOLIDFIRE_METHODS
from dashboard.bench_pages import page_urls, time_pages
from exposure.findings import in_namespace
from exposure.models import Finding
from inventory.demo import DEMO_OWNER_KEYS, DEMO_PLATFORM_NAMESPACES, DEMO_TENANT_LABEL
from inventory.kinds import KINDS
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.sources.kubernetes import api_client_from_kubeconfig, iter_list_pages
from inventory.state import SnapshotState
from inventory.tasks import snapshot_now
from simulator.serving import ServedArray, SimulatedEstate
from simulator.world import Simulation
from tenancy.models import Grant

LARGE_RULE_ENTRIES = 10_000
# The tenant whose reader the pages are timed for, and its namespace shown: seeded at every scale,
# with paths from other tenants into it.
PAGE_TENANT, PAGE_NAMESPACE = "acme", "acme-web"


def _scale(value: str):
    return int(value) if value.isdigit() else value


class Command(BaseCommand):
    help = "Measure snapshot cost against the raw-fetch floor at a chosen simulator scale."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            default="small",
            help="demo, small, bench, or a number of namespaces; several, comma-separated, in turn",
        )
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--page-size", type=int, default=500)
        parser.add_argument("--churn", type=float, default=0.01)
        parser.add_argument("--page-runs", type=int, default=5, help="timed requests of each page")
        parser.add_argument("--json-out", help="also write the results as JSON here")
        parser.add_argument(
            "--keep",
            action="store_true",
            help="keep the measured cluster and its arrays in the database (to profile pages on it after)",
        )

    def handle(self, *args, scale, seed, page_size, churn, page_runs, json_out=None, keep=False, **options):
        self.keep = keep
        runs = [self._run(_scale(one), seed, page_size, churn, page_runs) for one in str(scale).split(",")]
        results = runs[0]
        if len(runs) > 1:
            results = {"runs": runs, "page_growth": _page_growth(runs[0], runs[-1])}
            self._print_growth(runs[0], runs[-1], results["page_growth"])
        if json_out:
            Path(json_out).write_text(json.dumps(results, indent=2))

    def _run(self, scale, seed, page_size, churn, page_runs) -> dict:
        started = time.perf_counter()
        simulation = Simulation(seed=seed, scale=scale)
        built = time.perf_counter() - started
        self.stdout.write(f"simulator ({scale}) built in {built:.1f}s; database: {connection.vendor}")
        credentials_root = Path(settings.ARRAY_CREDENTIALS_DIR)
        credentials_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The arrays' credentials where the product may read them (ARRAY_CREDENTIALS_DIR).
        with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(dir=credentials_root) as creds:
            estate = SimulatedEstate(simulation, Path(tmp), credentials_dir=Path(creds)).start()
            try:
                results = self._measure(simulation, estate, page_size, churn, scale, page_runs)
            finally:
                estate.stop()
        self._print(results)
        return results

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

    def _measure(self, simulation, estate, page_size, churn, scale, page_runs) -> dict:
        # Best of two: the first run also warms the servers' serialisation caches.
        floor_seconds, objects = min(self._floor(estate, page_size) for _ in range(2))
        stamp = int(time.time())
        arrays = [self._register(served, stamp) for served in estate.arrays]
        cluster = Cluster.objects.create(
            name=f"bench-{stamp}",
            source=Cluster.Source.KUBECONFIG,
            kubeconfig_path=str(estate.kubeconfig),
            tenant_label=DEMO_TENANT_LABEL,
            owner_keys=DEMO_OWNER_KEYS,
            platform_namespaces=DEMO_PLATFORM_NAMESPACES,
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
            started = time.perf_counter()
            pages, unmeasured = self._pages(cluster, stamp, page_runs)
            pages_seconds = time.perf_counter() - started
        finally:
            if not self.keep:
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
            "pages": {
                "runs": page_runs,
                "reader_tenant": PAGE_TENANT,
                "namespace": PAGE_NAMESPACE,
                "seconds": round(pages_seconds, 1),
                "timings": [timing.as_dict() for timing in pages],
                "not_measured": unmeasured,
            },
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

    # --- the pages ---------------------------------------------------------------------------

    def _pages(self, cluster, stamp, runs) -> tuple[list, dict]:
        """Every page's server time and queries, as an admin (a superuser: the admin site too) and
        as a member of a group granted PAGE_TENANT; the users and the group are removed afterwards."""
        admin = User.objects.create_superuser(f"bench-{stamp}-admin")
        tenant = User.objects.create_user(f"bench-{stamp}-tenant")
        team = Group.objects.create(name=f"bench-{stamp}-{PAGE_TENANT}")  # granted as a team is
        tenant.groups.add(team)
        grant = Grant.objects.create(group=team, cluster=cluster, tenant=PAGE_TENANT)
        # A token of the tenant's, made as a user makes one (the admin lists tokens): the API is a
        # layer above this command, so through its command line.
        call_command("api_token", tenant.get_username(), name="bench", stdout=io.StringIO())
        try:
            clients = {"admin": Client(), "tenant": Client()}
            clients["admin"].force_login(admin)
            clients["tenant"].force_login(tenant)
            # The heaviest of the namespace's open findings: the one attributed to most namespaces.
            finding = (
                in_namespace(Finding.objects.filter(cluster=cluster, status="open"), PAGE_NAMESPACE)
                .annotate(attributed=Count("attributions"))
                .order_by("-attributed", "pk")
                .first()
            )
            latest = cluster.snapshots.order_by("-seq").first()
            shown = {
                Cluster: cluster,
                Snapshot: latest,
                Finding: finding,
                Grant: grant,
                User: admin,
                Group: team,
            }
            urls, unfilled = page_urls(lambda parameter, name: _page_value(parameter, name, cluster, shown))
            return time_pages(clients, urls, runs), unfilled
        finally:
            admin.delete()
            tenant.delete()
            team.delete()

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
        pages = results["pages"]
        out.write(
            f"pages: server time in ms (median and slowest of {pages['runs']} runs) and queries, "
            f"as an admin and as a tenant of {pages['reader_tenant']} ({pages['seconds']:.0f}s in all)"
        )
        out.write(
            f"{'page':<44} {'admin':>6} {'median':>7} {'max':>7} {'queries':>7}   {'tenant':>6} "
            f"{'median':>7} {'max':>7} {'queries':>7}"
        )
        for name, by_reader in _by_page(pages["timings"]).items():
            cells = [
                f"{t['status']:>6} {t['median_ms']:>7.1f} {t['max_ms']:>7.1f} {t['queries']:>7}"
                for t in (by_reader.get("admin"), by_reader.get("tenant"))
                if t
            ]
            out.write(f"{name:<44} " + "   ".join(cells))
        for name, why in pages["not_measured"].items():
            out.write(f"NOT MEASURED: {name} ({why}: teach bench.py _page_value())")

    def _print_growth(self, first, last, growth):
        out = self.stdout
        ratio = last["objects"] / first["objects"]
        out.write(
            f"pages from scale {first['scale']} ({first['objects']} objects) to scale {last['scale']} "
            f"({last['objects']} objects, × {ratio:.1f}): median server time and queries"
        )
        out.write(
            f"{'page':<44} {'reader':<7} {'ms':>7} {'ms':>7} {'× time':>7} {'queries':>7} {'queries':>7}"
        )
        for row in growth:
            (ms_first, ms_last), (queries_first, queries_last) = row["median_ms"], row["queries"]
            out.write(
                f"{row['name']:<44} {row['reader']:<7} {ms_first:>7.1f} {ms_last:>7.1f} "
                f"{row['time_ratio']:>7.2f} {queries_first:>7} {queries_last:>7}"
            )


def _page_value(parameter: str, name: str, cluster, shown: dict) -> str | None:
    """A URL parameter's value for the bench's pages; None: the bench has none (reported)."""
    if parameter == "cluster":
        return cluster.name
    if parameter == "namespace":
        return PAGE_NAMESPACE
    if parameter == "finding":
        return str(shown[Finding].pk) if shown[Finding] else None
    if parameter == "snapshot":  # the API's snapshots/<id>/: the latest
        return str(shown[Snapshot].pk)
    if parameter == "app_label":
        return "inventory"
    if parameter == "content_type_id":
        return str(ContentType.objects.get_for_model(Finding).pk)
    if parameter in ("object_id", "id"):
        model = _admin_model(name) or Finding  # the admin's "view on site" names its content type
        found = shown.get(model) or model.objects.order_by("pk").first()
        return str(found.pk) if found else None
    return None


def _admin_model(name: str):
    """The model of an admin site URL name (`admin:<app label>_<model name>_<view>`)."""
    for model in apps.get_models():
        if re.match(rf"admin:{model._meta.app_label}_{model._meta.model_name}_[a-z_]+$", name):
            return model
    return None


def _by_page(timings: list[dict]) -> dict[str, dict[str, dict]]:
    by_page: dict[str, dict[str, dict]] = {}
    for timing in timings:
        by_page.setdefault(timing["name"], {})[timing["reader"]] = timing
    return by_page


def _page_growth(first: dict, last: dict) -> list[dict]:
    """Each page and reader measured at both scales: median server time and queries at each, and
    the time's growth."""
    before = {(t["name"], t["reader"]): t for t in first["pages"]["timings"]}
    rows = []
    for timing in last["pages"]["timings"]:
        earlier = before.get((timing["name"], timing["reader"]))
        if earlier:
            rows.append(
                {
                    "name": timing["name"],
                    "reader": timing["reader"],
                    "median_ms": [earlier["median_ms"], timing["median_ms"]],
                    "time_ratio": round(timing["median_ms"] / max(earlier["median_ms"], 0.1), 2),
                    "queries": [earlier["queries"], timing["queries"]],
                }
            )
    return rows
