"""One benchmark run (issue 13): the simulator in its own process, a real Celery worker, a throwaway
PostgreSQL database, and the items measured in order.

Items: 1 the floor; 2 a first snapshot; 3 an unchanged one (only volatile fields moved); 4 one after
`churn` of the objects changed; 5 the worker's peak memory over those snapshots; 6 the rules' time;
7 the key pages' server time and queries; 8 every owner's digest; 9 the database's growth over
`history_snapshots` snapshots at one tenth of the scale (a run of its own: its own database, worker
and simulator, started as a child `manage.py bench --history-run`).  Extras: `pages` (every page of
the URL configuration) and `export-rule` (one export rule of 10,000 client entries judged).

Snapshots are requested as production's dispatcher requests them: a queued snapshot, its task sent
to the broker; the worker takes it; the bench watches the database for its end.  Only what the
worker does is timed; the simulator's rendering after a change happens before the clock starts.
"""

import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connections
from django.db.models import Count
from django.test import Client

from arrays.admission import Admissions, node_set_of
from arrays.join import Gate, Resolution
from arrays.models import Array
from benchmark import processes
from benchmark.database import TableCounters, ThrowawayDatabase, rows_written, server_version, with_database
from benchmark.digests import owner_recipients, render_all
from benchmark.floor import floor
from benchmark.machine import load_average, machine
from benchmark.pages import KEY_PAGES, all_pages, key_pages
from benchmark.report import judge
from benchmark.simulator_process import SimulatorProcess
from benchmark.worker import BenchWorker
from exposure.findings import in_namespace
from exposure.models import Finding
from inventory.demo import DEMO_OWNER_KEYS, DEMO_PLATFORM_NAMESPACES, DEMO_TENANT_LABEL
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.snapshotting import queue_snapshot
from inventory.state import SnapshotState
from inventory.tasks import UNFINISHED, snapshot_cluster

ITEMS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "pages", "export-rule")
SNAPSHOT_ITEMS = {"2", "3", "4", "5", "6", "7", "8", "pages", "export-rule"}
LARGE_RULE_ENTRIES = 10_000
ROOT = Path(__file__).resolve().parent.parent


def history_scale(scale):
    """One tenth of `scale` (in namespaces), at least the simulator's least."""
    from simulator.world import MIN_NAMESPACES, SCALES

    namespaces = SCALES[scale] if isinstance(scale, str) else int(scale)
    return max(MIN_NAMESPACES, namespaces // 10)


class Bench:
    def __init__(
        self,
        *,
        scale,
        items,
        seed,
        page_size,
        churn,
        page_runs,
        history_snapshots,
        out,
        keep_database=False,
        reuse_database=False,
    ):
        self.keep_database, self.reuse_database = keep_database, reuse_database
        self.scale, self.items, self.seed = scale, set(items), seed
        self.page_size, self.churn_fraction, self.page_runs = page_size, churn, page_runs
        self.history_snapshots = history_snapshots
        self.out = out
        self.workdir = Path(settings.DATA_DIR) / "bench-run"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database_url = os.environ["DATABASE_URL"]
        # A queue of this run's own on the broker: another run's worker (or a task a killed run
        # left) never meets this run's snapshots.
        self.queue = f"bench-{os.getpid()}"

    def say(self, text: str) -> None:
        self.out.write(text + "\n")
        self.out.flush()

    # --- the whole run ----------------------------------------------------------------------

    def run(self) -> dict:
        started = time.perf_counter()
        results: dict = {
            "scale": self.scale,
            "items": sorted(self.items, key=ITEMS.index),
            "machine": machine(server_version(self.database_url)),
        }
        item_seconds: dict[str, float] = {}
        results["item_seconds"] = item_seconds
        if self.reuse_database:
            self._pages_of_kept(results, item_seconds)
        elif self.items & (SNAPSHOT_ITEMS | {"1"}):
            self._main(results, item_seconds)
        if "9" in self.items:
            with _timed(item_seconds, "9"):
                results["database_growth"] = self._history_child()
        results["total_seconds"] = round(time.perf_counter() - started, 1)
        results["load_average_at_end"] = load_average()
        results["targets"] = judge(results)
        return results

    def _main(self, results: dict, item_seconds: dict) -> None:
        database = ThrowawayDatabase(self.database_url).create()
        simulator = worker = counters = None
        try:
            began = time.perf_counter()
            # The simulator builds, the worker starts and the database migrates side by side.
            simulator = self._simulator(self.scale)
            if self.items & SNAPSHOT_ITEMS:
                worker = self._start_worker("bench")
            call_command("migrate", verbosity=0)
            simulator.wait_until_ready()
            results["simulator"] = {**simulator.ready, "start_seconds": round(time.perf_counter() - began, 1)}
            results["objects"] = simulator.ready["objects"]
            self.say(
                f"simulator ({self.scale}): {results['objects']} objects and array records, built in "
                f"{simulator.ready['build_seconds']}s, pages rendered in {simulator.ready['render_seconds']}s"
            )
            with _timed(item_seconds, "1"):
                results["floor"] = self._floor(simulator)
            if worker is None:
                return
            worker.wait_until_ready()
            counters = TableCounters(self.database_url)
            results["worker"] = {"idle_rss_bytes": worker.idle_rss_bytes}
            cluster, arrays = self._register(simulator)
            try:
                self._snapshots(results, item_seconds, simulator, worker, counters, cluster)
                self._readers(results, item_seconds, cluster)
            finally:
                if not self.keep_database:
                    cluster.delete()
                    for array in arrays:
                        array.delete()
        finally:
            if simulator:
                results.setdefault("simulator", {})["cpu_seconds"] = round(simulator.cpu_seconds(), 1)
            _release(database, counters, worker, simulator, keep=self.keep_database)
            if self.keep_database:
                self.say(f"database {database.name} kept (the next run drops it)")

    def _pages_of_kept(self, results: dict, item_seconds: dict) -> None:
        """Items 7 and `pages` against the database a run with `keep_database` left: the pages of its
        snapshots timed again (after a change to the read side) without a new first snapshot."""
        if not self.items <= {"7", "pages"}:
            raise ValueError("a kept database is timed for items 7 and pages only")
        if not ThrowawayDatabase(self.database_url).is_ours():
            raise RuntimeError("no database a bench kept at DATABASE_URL: run one with --keep-database")
        cluster = Cluster.objects.get(name="bench")
        results["objects"] = None
        self._readers(results, item_seconds, cluster)

    # --- the processes ----------------------------------------------------------------------

    def _simulator(self, scale) -> SimulatorProcess:
        credentials = Path(settings.ARRAY_CREDENTIALS_DIR) / f"bench-{os.getpid()}"
        return SimulatorProcess(
            scale,
            self.seed,
            self.workdir / "simulator",
            credentials,
            self.page_size,
            self.workdir / "simulator.log",
        )

    def _start_worker(self, name: str) -> BenchWorker:
        return BenchWorker(name, self.queue, self._worker_env(), self.workdir / f"{name}.log")

    def _worker_env(self) -> dict[str, str]:
        # Production's time limits would kill a snapshot slower than 25 minutes: the bench measures it.
        limits = {"SNAPSHOT_SOFT_TIME_LIMIT": "7200", "SNAPSHOT_TIME_LIMIT": "7500"}
        return {**limits, **os.environ, "DJANGO_SETTINGS_MODULE": "benchmark.worker_settings"}

    def _register(self, simulator) -> tuple[Cluster, list[Array]]:
        arrays = [Array.objects.create(**settings_) for settings_ in simulator.ready["arrays"]]
        cluster = Cluster.objects.create(
            name="bench",
            source=Cluster.Source.KUBECONFIG,
            kubeconfig_path=simulator.ready["kubeconfig"],
            tenant_label=DEMO_TENANT_LABEL,
            owner_keys=DEMO_OWNER_KEYS,
            platform_namespaces=DEMO_PLATFORM_NAMESPACES,
        )
        return cluster, arrays

    # --- item 1 -----------------------------------------------------------------------------

    def _floor(self, simulator) -> dict:
        measured = self._floor_now(simulator)
        self.say(
            f"1. floor: {measured['seconds']:.2f}s (CPU {measured['cpu_seconds']:.2f}s) to fetch and parse "
            f"{measured['objects']} objects and records"
        )
        return measured

    def _floor_now(self, simulator) -> dict:
        # Best of two, so that a hiccup of the shared machine does not lower the bar.
        runs = [
            floor(simulator.ready["kubeconfig"], simulator.ready["arrays"], self.page_size) for _ in range(2)
        ]
        seconds, cpu, objects = min(runs)
        return {
            "seconds": round(seconds, 3),
            "cpu_seconds": round(cpu, 3),
            "objects": objects,
            "runs": [round(run[0], 3) for run in runs],
        }

    # --- items 2 to 6 -----------------------------------------------------------------------

    def _snapshots(self, results, item_seconds, simulator, worker, counters, cluster) -> None:
        steps = results["snapshots"] = {}
        with _timed(item_seconds, "2"):
            steps["first"] = self._snapshot(cluster, worker, counters, simulator)
        self._said("2. first snapshot", steps["first"], results)
        if "3" in self.items:
            with _timed(item_seconds, "3"):
                rendered = simulator.advance(10)
                beside = self._floor_now(simulator)
                steps["unchanged"] = self._snapshot(cluster, worker, counters, simulator)
                steps["unchanged"]["floor"] = beside
                steps["unchanged"]["simulator_render_seconds"] = rendered["render_seconds"]
            self._said("3. unchanged snapshot", steps["unchanged"], results)
        if "4" in self.items:
            with _timed(item_seconds, "4"):
                changed = simulator.churn(self.churn_fraction)
                beside = self._floor_now(simulator)
                steps["churn"] = self._snapshot(cluster, worker, counters, simulator)
                steps["churn"]["floor"] = beside
                steps["churn"].update(
                    fraction=self.churn_fraction,
                    objects_changed=changed["changed"],
                    simulator_render_seconds=changed["render_seconds"],
                )
            self._said(f"4. {self.churn_fraction:.0%} churn snapshot", steps["churn"], results)
        peak = max(steps.values(), key=lambda step: step["worker_peak_net_bytes"])
        objects = results["objects"]
        results["memory"] = {
            "idle_worker_rss_bytes": worker.idle_rss_bytes,
            "peak_net_bytes": peak["worker_peak_net_bytes"],
            "peak_snapshot": next(name for name, step in steps.items() if step is peak),
            "objects": objects,
            "bytes_per_object": round(peak["worker_peak_net_bytes"] / max(objects, 1)),
            # Between snapshots: what a worker keeps for its next read (inventory/kept_reuse.py).
            "held_net_bytes": max(step["worker_held_before_net_bytes"] for step in steps.values()),
        }
        held = results["memory"]["held_net_bytes"]
        self.say(
            f"5. worker peak memory net of idle ({worker.idle_rss_bytes / 2**20:.0f} MiB): "
            f"{peak['worker_peak_net_bytes'] / 2**20:.0f} MiB, "
            f"{results['memory']['bytes_per_object'] / 1024:.1f} KiB per object; held between snapshots "
            f"{held / 2**20:.0f} MiB, {held / max(objects, 1) / 1024:.1f} KiB per object"
        )
        results["analysis"] = {
            name: {"analysis_seconds": step["analysis_seconds"], "rules_seconds": step["rules_seconds"]}
            for name, step in steps.items()
        }
        self.say(
            "6. analysis (rules alone): "
            + ", ".join(
                f"{name} {step['analysis_seconds']:.1f}s ({step['rules_seconds']:.1f}s)"
                for name, step in steps.items()
            )
        )

    def _said(self, label: str, step: dict, results: dict) -> None:
        # Against the floor measured right before the snapshot where there is one (items 3 and 4):
        # this machine's speed drifts by a third within minutes, so the first floor says less of
        # what the same lists cost by the time of a later snapshot.
        floor_ = step.get("floor") or results["floor"]
        ratio = step["seconds"] / floor_["seconds"]
        step["ratio_to_floor"] = round(ratio, 2)
        # The same ratio in CPU time (the worker's against the floor client's): what a loaded
        # machine's waiting for a core does not inflate.
        cpu_ratio = step["worker_cpu_seconds"] / max(floor_["cpu_seconds"], 0.001)
        step["cpu_ratio_to_floor"] = round(cpu_ratio, 2)
        answers = step["simulator_answers"]
        beside = f" measured beside it, {floor_['seconds']:.2f}s" if "floor" in step else ""
        self.say(
            f"{label}: {step['status']} in {step['seconds']:.1f}s ({ratio:.2f} × floor{beside}), worker CPU "
            f"{step['worker_cpu_seconds']:.1f}s ({cpu_ratio:.2f} × the floor's CPU), rows written "
            f"{step['rows_written']} (inventory {step['inventory_rows_written']}); the simulator answered "
            f"{answers['cached']} pre-rendered, {answers['rendered']} live"
        )

    def _snapshot(self, cluster, worker, counters, simulator, count_rows: bool = True) -> dict:
        """One snapshot through the worker: wall time, the worker's CPU time and peak memory, the
        rows written in every table (unless not `count_rows`)."""
        before = counters.read() if count_rows else {}
        simulator.served()  # counted from here
        held = processes.rss_bytes(worker.pid)  # idle since its last task: what it kept from that one
        processes.reset_peak(worker.pid)
        cpu = processes.cpu_seconds(worker.pid)
        started = time.perf_counter()
        snapshot = queue_snapshot(cluster)
        Snapshot.objects.filter(pk=snapshot.pk).update(dispatched_at=snapshot.taken_at)
        snapshot_cluster.apply_async((cluster.pk, snapshot.pk), queue=self.queue)
        while snapshot.status in UNFINISHED:
            if not worker.alive():
                raise RuntimeError(f"the worker died during snapshot #{snapshot.seq}: see {worker.log_path}")
            time.sleep(0.05)
            snapshot.refresh_from_db()
        seconds = time.perf_counter() - started
        cpu = processes.cpu_seconds(worker.pid) - cpu
        peak = processes.peak_rss_bytes(worker.pid)
        written = rows_written(before, counters.read()) if count_rows else {}
        served = simulator.served()
        analysis = (snapshot.facts or {}).get("analysis") or {}
        if snapshot.unread or snapshot.error:
            self.say(f"snapshot #{snapshot.seq} {snapshot.status}: {snapshot.unread} {snapshot.error}")
        return {
            "seq": snapshot.seq,
            "status": snapshot.status,
            "seconds": round(seconds, 2),
            "snapshot_duration_seconds": snapshot.duration_seconds,
            "worker_cpu_seconds": round(cpu, 2),
            # The simulator's answers to this snapshot: pre-rendered, or rendered as asked (discovery).
            "simulator_answers": served,
            "worker_peak_rss_bytes": peak,
            "worker_peak_net_bytes": max(0, peak - worker.idle_rss_bytes),
            "worker_held_before_net_bytes": max(0, held - worker.idle_rss_bytes),
            "rows_written": sum(written.values()),
            "inventory_rows_written": written.get(InventoryObject._meta.db_table, 0),
            "rows_written_by_table": written,
            "snapshot_rows_written": snapshot.rows_written,
            "analysis_seconds": analysis.get("seconds", 0.0),
            # A quiet snapshot re-runs no rule: its facts carry the last analysis's rule times.
            "analysis_reused": bool(analysis.get("reused")),
            "rules_seconds": 0.0
            if analysis.get("reused")
            else round(sum((analysis.get("rule_seconds") or {}).values()), 3),
            "findings_open": Finding.objects.filter(cluster=cluster, status="open").count(),
        }

    # --- items 7, 8 and the extras ------------------------------------------------------------

    def _readers(self, results, item_seconds, cluster) -> None:
        if self.items & {"7", "pages"}:
            with _page_readers(cluster) as readers:
                if "7" in self.items:
                    with _timed(item_seconds, "7"):
                        results["key_pages"] = key_pages(readers, self.page_runs)
                    for row in results["key_pages"]:
                        self.say(
                            f"7. {row['page']:<28} {row['reader']:<7} median {row['median_ms']:>7.1f} ms, "
                            f"p95 {row['p95_ms']:>7.1f} ms, {row['queries']} queries; the collector "
                            f"{row['gc_ms']:.0f} ms in {row['runs']} runs, at most {row['gc_max_ms']:.0f} ms"
                        )
                if "pages" in self.items:
                    with _timed(item_seconds, "pages"):
                        results["pages"] = all_pages(readers, runs=5)
                    self.say(
                        f"pages: {len(results['pages']['timings'])} timings of every page, slowest median "
                        f"{max(t['median_ms'] for t in results['pages']['timings']):.0f} ms"
                    )
        if "8" in self.items:
            began = time.perf_counter()
            recipients = owner_recipients(cluster)
            rendered = render_all(recipients)
            seconds = time.perf_counter() - began
            item_seconds["8"] = round(seconds, 1)
            results["digests"] = {
                "owners": len(recipients),
                "seconds": round(seconds, 2),
                "characters": rendered,
            }
            self.say(f"8. {len(recipients)} owners' digests rendered in {seconds:.1f}s")
        if "export-rule" in self.items:
            with _timed(item_seconds, "export-rule"):
                seconds = _large_rule(cluster)
            results["export_rule"] = {"entries": LARGE_RULE_ENTRIES, "seconds": round(seconds, 3)}
            self.say(f"export rule of {LARGE_RULE_ENTRIES} client entries judged in {seconds:.2f}s")

    # --- item 9 -----------------------------------------------------------------------------

    def _history_child(self) -> dict:
        """Item 9 in a child run of its own: its database, worker and simulator."""
        scale = history_scale(self.scale)
        url = with_database(self.database_url, ThrowawayDatabase(self.database_url).name + "_history")
        out = self.workdir / "history.json"
        self.say(
            f"9. database growth: {self.history_snapshots} snapshots at {self.churn_fraction:.0%} churn, "
            f"scale {scale}"
        )
        subprocess.run(
            [
                sys.executable,
                "manage.py",
                "bench",
                "--history-run",
                f"--scale={scale}",
                f"--seed={self.seed}",
                f"--churn={self.churn_fraction}",
                f"--page-size={self.page_size}",
                f"--history-snapshots={self.history_snapshots}",
                f"--json-out={out}",
            ],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url},
            check=True,
        )
        growth = json.loads(out.read_text())
        self.say(
            f"9. database after the first snapshot {growth['size_after_first_bytes'] / 2**20:.1f} MiB, after "
            f"{growth['snapshots']} more {growth['size_after_bytes'] / 2**20:.1f} MiB "
            f"(× {growth['growth']:.2f}; net of the empty database's "
            f"{growth['size_empty_bytes'] / 2**20:.1f} MiB × {growth['growth_net_of_empty']:.2f}) "
            f"in {growth['seconds']:.0f}s; {growth['objects_changed']} objects changed in all"
        )
        return growth

    def history_run(self) -> dict:
        """(The child) a first snapshot, then `history_snapshots` at churn, the database measured
        after the first and the last; the key pages' query counts at this scale."""
        started = time.perf_counter()
        database = ThrowawayDatabase(self.database_url).create()
        simulator = worker = counters = None
        try:
            simulator = self._simulator(self.scale)
            worker = self._start_worker("bench-history")
            call_command("migrate", verbosity=0)
            simulator.wait_until_ready()
            worker.wait_until_ready()
            counters = TableCounters(self.database_url)
            size_empty = counters.size_bytes()  # the empty tables and indexes of every app
            cluster, _ = self._register(simulator)
            first = self._snapshot(cluster, worker, counters, simulator)
            size_first = counters.size_bytes()
            seconds, changed = [], 0
            for index in range(self.history_snapshots):
                # Answers rendered as asked: these snapshots' times are no figure of the issue's.
                changed += simulator.churn(self.churn_fraction, render=False)["changed"]
                step = self._snapshot(cluster, worker, counters, simulator, count_rows=False)
                seconds.append(step["seconds"])
                if (index + 1) % 10 == 0:
                    self.say(f"   {index + 1} snapshots, database {counters.size_bytes() / 2**20:.1f} MiB")
            size_after = counters.size_bytes()
            with _page_readers(cluster) as readers:
                queries = key_pages(readers, runs=1)
            return {
                "scale": self.scale,
                "objects": simulator.ready["objects"],
                "snapshots": self.history_snapshots,
                # The churn spares the seeded cases' namespaces: at a small scale, most of them.
                "objects_changed": changed,
                "first_snapshot": first,
                "size_after_first_bytes": size_first,
                "size_after_bytes": size_after,
                "growth": round(size_after / max(size_first, 1), 2),
                # The same net of the empty database, which a small scale's sizes are mostly of.
                "size_empty_bytes": size_empty,
                "growth_net_of_empty": round((size_after - size_empty) / max(size_first - size_empty, 1), 2),
                # Their simulator renders each answer as it is asked for: its time is in theirs.
                "snapshot_seconds_median": round(statistics.median(seconds), 2) if seconds else None,
                "key_page_queries": {f"{row['page']}/{row['reader']}": row["queries"] for row in queries},
                "seconds": round(time.perf_counter() - started, 1),
            }
        finally:
            _release(database, counters, worker, simulator)


class _page_readers:
    """An admin (a superuser) and a tenant (a member of a group granted the pages' tenant), signed
    in; the page values (the cluster, the namespace, its heaviest open finding, the latest snapshot)."""

    def __init__(self, cluster):
        self.cluster = cluster

    def __enter__(self) -> dict:
        from benchmark.pages import PAGE_NAMESPACE, PAGE_TENANT
        from tenancy.models import Grant

        cluster = self.cluster
        self.admin = User.objects.create_superuser("bench-admin")
        self.tenant = User.objects.create_user("bench-tenant")
        self.team = Group.objects.create(name=f"bench-{PAGE_TENANT}")
        self.tenant.groups.add(self.team)
        grant = Grant.objects.create(group=self.team, cluster=cluster, tenant=PAGE_TENANT)
        call_command("api_token", self.tenant.get_username(), name="bench", stdout=io.StringIO())
        clients = {"admin": Client(), "tenant": Client()}
        clients["admin"].force_login(self.admin)
        clients["tenant"].force_login(self.tenant)
        finding = (
            in_namespace(Finding.objects.filter(cluster=cluster, status="open"), PAGE_NAMESPACE)
            .annotate(attributed=Count("attributions"))
            .order_by("-attributed", "pk")
            .first()
        )
        return {
            "clients": clients,
            "cluster": cluster,
            "snapshot": cluster.snapshots.order_by("-seq").first(),
            "finding": finding,
            "grant": grant,
            "admin": self.admin,
            "group": self.team,
        }

    def __exit__(self, *exc):
        self.admin.delete()
        self.tenant.delete()
        self.team.delete()


def _release(database: ThrowawayDatabase, counters, worker, simulator, keep: bool = False) -> None:
    """A run's processes stopped and its database dropped (unless `keep`), in that order (no
    connection left on it); any of them may not have been started."""
    if counters:
        counters.close()
    if worker:
        worker.stop()
    if simulator:
        simulator.stop()
    connections.close_all()
    if not keep:
        database.drop()


def _large_rule(cluster) -> float:
    """Seconds to evaluate one rule of LARGE_RULE_ENTRIES client entries (a node's address among
    them, the rest foreign) and judge every admitted party against the cluster's nodes."""
    latest = Snapshot.objects.filter(cluster=cluster, status__in=Snapshot.VISIBLE).order_by("-seq").first()
    nodes = node_set_of(SnapshotState.load(latest))
    clients = [{"match": str(IPv4Address(0x0A000000 + i))} for i in range(LARGE_RULE_ENTRIES)]
    rule = {"index": 1, "clients": clients, "protocols": ["nfs"], "ro_rule": ["sys"], "rw_rule": ["sys"]}
    gate = Gate("export-policy", "bench-large-rule", "bench", "volume policy", rules=[rule])
    started = time.perf_counter()
    parties = Admissions(nodes).of(Resolution("bench", [], "other", gates=[gate]))
    seconds = time.perf_counter() - started
    assert len(parties) == LARGE_RULE_ENTRIES, len(parties)
    return seconds


__all__ = ["ITEMS", "KEY_PAGES", "Bench", "history_scale"]


@contextmanager
def _timed(item_seconds: dict[str, float], item: str) -> Iterator[None]:
    """How long the block took, recorded as `item`'s seconds (when it completes)."""
    began = time.perf_counter()
    yield
    item_seconds[item] = round(time.perf_counter() - began, 1)
