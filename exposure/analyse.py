"""One snapshot's analysis: rules → findings (with their life) → exposure paths → grades.

Runs right after the snapshot's inventory and access records are stored, in the same worker.  A
quiet snapshot (no inventory row written, the same admin decisions, nothing held open or failed
last time) re-runs no rule: its findings are those still open, so only grades are refreshed (a
suppression may have expired).  Each namespace's exposure paths (every path into its data, inside
its tenant and from platform workloads included) are stored like inventory, under the derived
scope, so an unchanged view costs no row.
"""

import logging
import time
from collections import defaultdict

import orjson

from arrays.volume_access import Derivation
from exposure.analysis.context import Context
from exposure.analysis.settings import AnalysisSettings
from exposure.engine import evaluate
from exposure.findings import reconcile
from exposure.grades import record_grades
from exposure.rules.namespace_labels_writable import forgers as label_forgers
from inventory.history import StoredObject, write_versions
from inventory.kept_fields import digest
from inventory.models import Snapshot
from inventory.sources.parsing import gc_paused
from inventory.state import DERIVED_SCOPE, SnapshotState
from tenancy.ownership import derived_owners

logger = logging.getLogger(__name__)

# Bump when a rule or the path shape changes: the next snapshot then analyses anew.
ANALYSIS_VERSION = 3  # 2: findings on array records rest on the join's kinds; 3: cluster-wide hits
EXPOSURE_PATHS = "ExposurePaths"


def analyse(snapshot: Snapshot, derivation: Derivation) -> dict:
    """Analyse `snapshot` (complete or partial) and return what it did, also kept in its facts."""
    # Hits, paths and findings are acyclic: the collector's full passes over the snapshot's millions
    # of inventory containers would only cost time (the rules pause it too, engine.py).
    with gc_paused():
        return _analyse(snapshot, derivation)


def _analyse(snapshot: Snapshot, derivation: Derivation) -> dict:
    started = time.monotonic()
    settings = AnalysisSettings.for_cluster(snapshot.cluster)
    previous = _previous_analysis(snapshot)
    quiet = (
        derivation.state is None
        and previous.get("version") == ANALYSIS_VERSION
        and previous.get("settings") == settings.digest()
        and not previous.get("held")
        and not previous.get("failed")
    )
    if quiet:
        namespaces = previous.get("namespaces") or []
        facts = {**previous, "reused": True, "grade_rows": record_grades(snapshot, namespaces)}
    else:
        state = derivation.state or SnapshotState.load(snapshot)
        context = Context(state, settings, derivation.records)
        evaluation = evaluate(context)
        reconciliation = reconcile(snapshot, context, evaluation)
        namespaces = state.namespace_names()
        path_rows = _store_paths(snapshot, evaluation, namespaces)
        facts = {
            "version": ANALYSIS_VERSION,
            "settings": settings.digest(),
            "namespaces": namespaces,
            "violations": {
                slug: sum(1 for hit in hits if hit.violation) for slug, hits in evaluation.hits.items()
            },
            "paths": {slug: sum(len(hit.paths) for hit in hits) for slug, hits in evaluation.hits.items()},
            "rule_seconds": evaluation.seconds,
            "failed": evaluation.failed,
            "skipped": evaluation.skipped,
            **reconciliation.as_dict(),
            "path_rows": path_rows,
            "owners": derived_owners(
                state, list(settings.owner_keys), label_forgers(context), settings.owner_label_trust
            ),
            "grade_rows": record_grades(snapshot, namespaces),
        }
    facts["seconds"] = round(time.monotonic() - started, 3)
    snapshot.facts = {**(snapshot.facts or {}), "analysis": facts}
    return facts


def _previous_analysis(snapshot: Snapshot) -> dict:
    previous = (
        Snapshot.objects.filter(
            cluster_id=snapshot.cluster_id, seq__lt=snapshot.seq, status__in=Snapshot.VISIBLE
        )
        .order_by("-seq")
        .values_list("facts", flat=True)
        .first()
    )
    return (previous or {}).get("analysis") or {}


def exposure_paths(evaluation, namespaces: list[str]) -> dict[tuple[str, str], StoredObject]:
    """Each namespace's exposure paths as stored: every path into its data, sorted, with whether its
    hit is a violation."""
    by_namespace: dict[str, list] = defaultdict(list)
    for _, hit in evaluation.all_hits():
        for path in hit.paths:
            by_namespace[path.namespace].append((path, hit.violation))
    stored = {}
    for namespace in sorted(set(namespaces) | set(by_namespace)):
        found = by_namespace.get(namespace, [])
        # One serialisation per namespace: orjson turns the dataclasses into JSON in C.
        as_json = orjson.loads(orjson.dumps([path for path, _ in found]))
        for data, (_, violation) in zip(as_json, found, strict=True):
            data["violation"] = violation
        paths = sorted(as_json, key=orjson.dumps)
        data = {"paths": paths}
        stored[(namespace, EXPOSURE_PATHS)] = StoredObject("", data, digest(data))
    return stored


def _store_paths(snapshot: Snapshot, evaluation, namespaces: list[str]) -> int:
    stored = exposure_paths(evaluation, namespaces)
    stats = write_versions(snapshot.cluster_id, snapshot.seq, EXPOSURE_PATHS, stored, scope=DERIVED_SCOPE)
    return stats.inserted + stats.closed
