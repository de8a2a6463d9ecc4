"""`manage.py snapshot [--cluster NAME] [--from-dump DIR [--taken-at ISO-TIME]] [--demo]`.

Prints each snapshot, then its open findings per rule and severity.

Exit status: 0 when every snapshot is complete, 2 when one is partial, 1 when one failed or its
analysis failed (an exception, or a rule that raised: its findings are held open, not resolved).
"""

import signal
import sys
import threading
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from exposure.findings import by_status
from exposure.models import Finding
from exposure.rules import ALL_RULES, SEVERITIES
from inventory.demo import Demo, real_cluster_registered
from inventory.importing import import_dump
from inventory.lease import ClusterBusy
from inventory.management.options import cluster_name
from inventory.models import Cluster, Snapshot
from inventory.sources import SourceError
from inventory.tasks import snapshot_now

EXIT_CODES = {Snapshot.Status.COMPLETE: 0, Snapshot.Status.PARTIAL: 2, Snapshot.Status.FAILED: 1}


def exit_code(snapshot: Snapshot) -> int:
    """A snapshot whose analysis failed stored its inventory but judged nothing: not a success."""
    return 1 if snapshot.is_visible and snapshot.analysis_failure else EXIT_CODES[snapshot.status]


def _exit_on_sigterm(signum, frame):
    sys.exit(128 + signum)


class Command(BaseCommand):
    help = "Snapshot the named cluster (or every registered one) now, or import an offline dump."

    def add_arguments(self, parser):
        parser.add_argument("--cluster", help="cluster name (default: every enabled live cluster)")
        parser.add_argument("--from-dump", metavar="DIR", help="import DIR (kubernetes/ inside) instead")
        parser.add_argument("--taken-at", metavar="ISO-TIME", help="when the dump was taken (default: now)")
        parser.add_argument(
            "--demo",
            action="store_true",
            help="serve the built-in demo cluster and arrays for one snapshot (the default when no real "
            "cluster is registered); replaces the demo's previous history",
        )

    def handle(self, *args, **options):
        # SIGTERM (a supervisor, a CI timeout) ends the run like Ctrl-C: its writes are undone and the
        # cluster's lease released at once, instead of the process vanishing while holding them.
        if threading.current_thread() is not threading.main_thread():
            return self._handle(**options)
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
        try:
            return self._handle(**options)
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _handle(self, *, cluster=None, from_dump=None, taken_at=None, demo=False, **options):
        if demo or (not from_dump and not cluster and not real_cluster_registered()):
            snapshots = [Demo(Path(settings.DATA_DIR)).snapshot_once()]
        elif from_dump:
            snapshots = [self._import(cluster, from_dump, taken_at)]
        else:
            if taken_at:
                raise CommandError("--taken-at only applies to --from-dump")
            clusters = (
                Cluster.objects.filter(name=cluster) if cluster else Cluster.objects.filter(enabled=True)
            )
            clusters = [c for c in clusters if c.is_live]
            if cluster and not clusters:
                raise CommandError(f"no live cluster named {cluster!r} (offline clusters take --from-dump)")
            if not clusters:
                raise CommandError("no cluster is registered; see `manage.py add_cluster --help`")
            try:
                snapshots = [snapshot_now(c) for c in clusters]
            except ClusterBusy as error:
                raise CommandError(f"{error}; try again when it has finished") from error
        for snapshot in snapshots:
            self._report(snapshot)
        worst = max((exit_code(s) for s in snapshots), key=lambda code: (code == 1, code))
        raise SystemExit(worst)

    def _import(self, cluster, directory, taken_at):
        if not cluster:
            raise CommandError("--from-dump needs --cluster NAME")
        cluster = cluster_name(cluster)  # an import creates the cluster: its name is checked first
        when = None
        if taken_at:
            when = parse_datetime(taken_at)
            if when is None or when.tzinfo is None:
                raise CommandError(f"--taken-at {taken_at!r} is not an ISO time with a timezone")
        try:
            return import_dump(cluster, directory, when)
        except (SourceError, ClusterBusy) as error:
            raise CommandError(str(error)) from error

    def _report(self, snapshot):
        out = self.stdout
        out.write(
            f"{snapshot.cluster.name} #{snapshot.seq}: {snapshot.status} "
            f"(taken {snapshot.taken_at.isoformat()}, {snapshot.duration_seconds or 0:.2f}s)"
        )
        for kind, count in sorted(snapshot.counts.items()):
            out.write(f"  {kind:<26} {count:>8}")
        if snapshot.rows_written:
            out.write(f"  rows written: {snapshot.rows_written}")
        for kind, reason in sorted(snapshot.unread.items()):
            out.write(f"  not read: {kind}: {reason}")
        for warning in snapshot.warnings:
            out.write(f"  warning: {warning}")
        if snapshot.error:
            out.write(f"  error: {snapshot.error}")
        self._report_findings(snapshot)

    def _report_findings(self, snapshot):
        """Open findings per rule and severity, and what this snapshot changed about them."""
        out = self.stdout
        analysis = (snapshot.facts or {}).get("analysis")
        if not analysis or not snapshot.is_visible:
            return
        if analysis.get("error"):
            out.write(f"  analysis failed: {analysis['error']}")
            return
        rows = by_status(Finding.objects.filter(cluster=snapshot.cluster), "open").values_list(
            "rule", "severity"
        )
        table = Counter(rows)
        out.write(
            f"  findings: {sum(table.values())} open (opened {analysis.get('opened', 0)}, "
            f"reopened {analysis.get('reopened', 0)}, resolved {analysis.get('resolved', 0)}, "
            f"held open by what was not read {analysis.get('held', 0)})"
        )
        severities = [s for s in reversed(SEVERITIES)]
        out.write(f"  {'rule':<32}" + "".join(f"{s:>10}" for s in severities))
        for rule in ALL_RULES:
            counts = [table.get((rule.slug, s), 0) for s in severities]
            if any(counts):
                out.write(f"  {rule.slug:<32}" + "".join(f"{c or '·':>10}" for c in counts))
        for slug, error in (analysis.get("failed") or {}).items():
            out.write(f"  rule {slug} failed: {error}")
