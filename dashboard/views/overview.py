"""The overview of every cluster the reader may see, one cluster's page, and the health check."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render

from dashboard.charts import cluster_charts
from dashboard.namespace_list import cluster_rows, first_page
from dashboard.queries import (
    cluster_grade,
    namespaces_unread,
    open_finding_counts,
    visible_clusters,
    worst_namespace,
    worst_namespaces,
)
from dashboard.snapshot_history import TextFor, analysis_problems, with_analysis
from inventory.models import Snapshot
from tenancy.access import scope_of


@login_required
def overview(request):
    scope = scope_of(request.user)
    clusters = []
    for cluster in visible_clusters(scope):
        # The analysis' few facts the page shows, not the whole facts (a megabyte at scale).
        visible = cluster.snapshots.filter(status__in=Snapshot.VISIBLE)
        latest = with_analysis(visible).order_by("-seq").first()
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
                "worst": worst_namespaces(latest, scope, WORST_SHOWN) if latest else [],
            }
        )
    return render(request, "dashboard/overview.html", {"clusters": clusters})


WORST_SHOWN = 5


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
