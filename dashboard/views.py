"""Pages.  Every read goes through the reader's scope (tenancy.access.scope_of) and
dashboard.queries, which restricts and redacts by it."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render

from dashboard.queries import (
    backend_rows,
    current_grades,
    namespace_contents,
    namespace_exists,
    namespace_exposure,
    namespace_owners,
    namespace_rows,
    open_finding_counts,
    visible_clusters,
)
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
    snapshots = cluster.snapshots.restrict(scope).order_by("-seq")[:50] if scope.admin else []
    grades = current_grades(cluster, scope)
    for row in namespaces:
        row["grade"] = grades.get(row["name"])
    context = {"cluster": cluster, "latest": latest, "namespaces": namespaces, "snapshots": snapshots}
    context["cluster_grade"] = grades.get("")  # the cluster as a whole: only admins' scope holds it
    if latest:
        context["backends"] = backend_rows(latest, scope)
        context["join"] = (latest.facts.get("join") or {}) if scope.admin else {}
    return render(request, "dashboard/cluster.html", context)


@login_required
def namespace_detail(request, cluster, namespace):
    scope = scope_of(request.user)
    cluster = get_object_or_404(visible_clusters(scope), name=cluster)
    latest = cluster.latest_visible_snapshot()
    if latest is None or not namespace_exists(latest, namespace, scope):
        raise Http404("no such namespace")
    context = {"cluster": cluster, "latest": latest, "namespace": namespace}
    context["owners"] = namespace_owners(cluster, namespace, scope)
    context.update(namespace_contents(latest, namespace, scope))
    context.update(namespace_exposure(latest, namespace, scope))
    return render(request, "dashboard/namespace.html", context)


def healthz(request):
    return JsonResponse({"ok": True})
