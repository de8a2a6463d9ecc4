"""The overview of every cluster the reader may see, one cluster's page, and the health check."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render

from dashboard.queries import (
    current_grades,
    namespace_rows,
    open_finding_counts,
    visible_clusters,
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
            }
        )
    return render(request, "dashboard/overview.html", {"clusters": clusters})


@login_required
def cluster_detail(request, cluster):
    scope = scope_of(request.user)
    cluster = get_object_or_404(visible_clusters(scope), name=cluster)
    latest = cluster.latest_visible_snapshot()
    namespaces = namespace_rows(latest, scope) if latest else []
    grades = current_grades(cluster, scope)
    for row in namespaces:
        row["grade"] = grades.get(row["name"])
    context = {"cluster": cluster, "latest": latest, "namespaces": namespaces}
    context["cluster_grade"] = grades.get("")  # the cluster as a whole: only admins' scope holds it
    if latest:
        text = TextFor(cluster, scope)
        context["problems"] = analysis_problems(latest, text)
        context["unread"] = [(what, text(why)) for what, why in sorted((latest.unread or {}).items())]
    return render(request, "dashboard/cluster.html", context)


def healthz(request):
    return JsonResponse({"ok": True})
