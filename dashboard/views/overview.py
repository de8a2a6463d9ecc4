"""The overview of every cluster the reader may see, one cluster's page, and the health check."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render

from dashboard.charts import cluster_charts
from dashboard.namespace_list import cluster_rows, first_page
from dashboard.queries import (
    cluster_grade,
    namespace_rows,
    namespaces_unread,
    open_finding_counts,
    visible_clusters,
    worst_namespace,
)
from dashboard.snapshot_history import TextFor, analysis_problems
from inventory.models import Snapshot
from tenancy.access import scope_of


@login_required
def overview(request):
    scope = scope_of(request.user)
    clusters = []
    for cluster in visible_clusters(scope):
        latest = cluster.latest_visible_snapshot()
        clusters.append(
            {
                "cluster": cluster,
                "latest": latest,
                "snapshot_count": cluster.snapshots.filter(status__in=Snapshot.VISIBLE).count(),
                "first": cluster.snapshots.filter(status__in=Snapshot.VISIBLE).order_by("seq").first(),
                "open_findings": open_finding_counts(cluster, scope),
                "problems": analysis_problems(latest, TextFor(cluster, scope)) if latest else {},
                "running": cluster.snapshots.filter(
                    status__in=[Snapshot.Status.QUEUED, Snapshot.Status.RUNNING]
                )
                .order_by("-seq")
                .first(),
                "charts": cluster_charts(cluster, scope) if latest else None,
                "worst": _worst_namespaces(latest, scope) if latest else [],
            }
        )
    return render(request, "dashboard/overview.html", {"clusters": clusters})


WORST_SHOWN = 5


def _worst_namespaces(snapshot, scope) -> list[dict]:
    """The few namespaces the reader may see with the worst own exposure (graded below A)."""
    ranked = namespace_rows(snapshot, scope, counted=False)  # worst first; no object counts shown
    return [row for row in ranked if row["grade"] is not None and row["grade"].grade != "A"][:WORST_SHOWN]


@login_required
def cluster_detail(request, cluster):
    scope = scope_of(request.user)
    cluster = get_object_or_404(visible_clusters(scope), name=cluster)
    latest = cluster.latest_visible_snapshot()
    rows = cluster_rows(latest, scope) if latest else []  # ranked by their own exposure, worst first
    # The first page of the namespaces list (its own page filters, sorts and pages on).
    namespaces = first_page(cluster, rows, scope)
    context = {"cluster": cluster, "latest": latest, "namespaces": namespaces}
    context["cluster_grade"] = cluster_grade(cluster, scope)
    context["worst"] = worst_namespace(rows)
    context["open_findings"] = open_finding_counts(cluster, scope)
    context["namespaces_unread"] = bool(latest) and namespaces_unread(latest)
    if latest:
        text = TextFor(cluster, scope)
        context["problems"] = analysis_problems(latest, text)
        context["unread"] = [(what, text(why)) for what, why in sorted((latest.unread or {}).items())]
    return render(request, "dashboard/cluster.html", context)


def healthz(request):
    return JsonResponse({"ok": True})
