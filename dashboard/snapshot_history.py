"""Snapshots as pages show them: a cluster's history, and what went wrong in one snapshot.

Anyone who sees one of a cluster's namespaces sees its snapshots (`Snapshot.restrict`): their status,
duration, objects read per kind and rows written are facts about the cluster, and so is what was not
read (kinds, arrays, backends).  The reasons and errors are free text a source or the analysis wrote,
which may quote any name: a non-admin reads them through `source_text_scrubber` (tenancy/redaction.py).
What only admins see: the snapshot's warnings (file names of a dump, …) and how many findings it
opened and resolved (findings of every tenant).
"""

from collections.abc import Callable
from functools import cached_property

from django.core.paginator import Paginator
from django.db.models import F

from dashboard.queries import reader_for
from inventory.models import Cluster, Snapshot
from tenancy.access import namespace_tenants
from tenancy.redaction import source_text_scrubber
from tenancy.scope import Scope

SNAPSHOTS_PER_PAGE = 50
# The facts of the analysis a page shows; the rest (every namespace's name and owners) is large at
# scale and stays in the database.
ANALYSIS_KEYS = ("failed", "error", "opened", "reopened", "changed", "resolved", "held", "reused", "carried")

# What the analysis did to findings (admins: findings of every tenant), as the page words it.
FINDING_COUNTS = {
    "opened": "opened",
    "reopened": "reopened",
    "changed": "changed",
    "resolved": "resolved",
    "held": "held open (not read)",
}


def with_analysis(snapshots):
    """Snapshots without their facts, with the few facts of their analysis the pages show."""
    return snapshots.defer("facts").annotate(
        **{f"analysis_{key}": F(f"facts__analysis__{key}") for key in ANALYSIS_KEYS}
    )


def _analysis(snapshot: Snapshot) -> dict:
    if hasattr(snapshot, "analysis_failed"):  # read by with_analysis()
        return {key: getattr(snapshot, f"analysis_{key}") for key in ANALYSIS_KEYS}
    return (snapshot.facts or {}).get("analysis") or {}


class TextFor:
    """The free text of one cluster's snapshots as the reader may read it; the cluster's namespaces
    and the reader's own volumes are read (a few queries) only when a non-admin reader meets some
    text."""

    def __init__(self, cluster: Cluster, scope: Scope):
        self.cluster, self.scope = cluster, scope

    @cached_property
    def _scrub(self) -> Callable[[str], str]:
        return source_text_scrubber(reader_for(self.scope, self.cluster), namespace_tenants(self.cluster))

    def __call__(self, text) -> str:
        text = text if isinstance(text, str) else str(text or "")
        if self.scope.admin or not text:
            return text
        return self._scrub(text)


def analysis_problems(snapshot: Snapshot, text: TextFor) -> dict:
    """What of the snapshot's analysis failed: the rules that raised (with why) and an error of the
    analysis as a whole.  Either way the findings it could not judge were held open."""
    analysis = _analysis(snapshot)
    failed = analysis.get("failed")
    rules = sorted(failed.items()) if isinstance(failed, dict) else []
    return {
        "failed_rules": [{"slug": str(slug), "error": text(error)} for slug, error in rules],
        "error": text(analysis.get("error") or ""),
        "any": bool(rules or analysis.get("error")),
    }


def _counts(snapshot: Snapshot) -> dict:
    """Objects read per kind: Kubernetes' kinds, then each array's records per kind."""
    kubernetes, arrays = [], {}
    for key, count in sorted((snapshot.counts or {}).items()):
        array, sep, kind = key.partition(":")
        if sep:
            arrays.setdefault(array, []).append((kind, count))
        else:
            kubernetes.append((key, count))
    return {"kubernetes": kubernetes, "arrays": sorted(arrays.items())}


def snapshot_row(snapshot: Snapshot, scope: Scope, text: TextFor) -> dict:
    analysis = _analysis(snapshot)
    row = {
        "snapshot": snapshot,
        "summary": snapshot.count_summary(),
        "counts": _counts(snapshot),
        "rows_written": snapshot.rows_written or {},
        "unread": [(str(what), text(why)) for what, why in sorted((snapshot.unread or {}).items())],
        "error": text(snapshot.error),
        "analysis": analysis_problems(snapshot, text),
        "analysis_reused": bool(analysis.get("reused")),
        # Rules none of whose inputs changed: not re-run, their findings stood (exposure/analyse.py).
        "rules_carried": [] if analysis.get("reused") else list(analysis.get("carried") or []),
    }
    if scope.admin:
        row["warnings"] = [str(w) for w in snapshot.warnings or []]
        # A quiet snapshot reuses the previous analysis, counts included: it changed no finding.
        row["findings"] = [
            (analysis[key], FINDING_COUNTS[key])
            for key in FINDING_COUNTS
            if isinstance(analysis.get(key), int) and analysis[key] and not analysis.get("reused")
        ]
    return row


def history_page(cluster: Cluster, scope: Scope, page_number) -> tuple:
    """One page of the cluster's snapshots, newest first, and their rows (two queries a page)."""
    snapshots = with_analysis(Snapshot.objects.restrict(scope).filter(cluster=cluster)).order_by("-seq")
    page = Paginator(snapshots, SNAPSHOTS_PER_PAGE).get_page(page_number)
    text = TextFor(cluster, scope)
    return page, [snapshot_row(snapshot, scope, text) for snapshot in page.object_list]
