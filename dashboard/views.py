"""Pages.  Every query of inventory goes through inventory.access (one scoping rule)."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render

from inventory.access import granted_namespaces, is_admin, visible_clusters
from inventory.models import InventoryObject, Snapshot
from inventory.queries import (
    backend_rows,
    current_grades,
    namespace_contents,
    namespace_exposure,
    namespace_rows,
    open_finding_counts,
)


@login_required
def overview(request):
    clusters = []
    for cluster in visible_clusters(request.user):
        latest = cluster.latest_visible_snapshot()
        clusters.append(
            {
                "cluster": cluster,
                "latest": latest,
                "snapshot_count": cluster.snapshots.filter(status__in=Snapshot.VISIBLE).count(),
                "first": cluster.snapshots.filter(status__in=Snapshot.VISIBLE).order_by("seq").first(),
                "open_findings": open_finding_counts(cluster, request.user),
                "running": cluster.snapshots.filter(
                    status__in=[Snapshot.Status.QUEUED, Snapshot.Status.RUNNING]
                )
                .order_by("-seq")
                .first(),
            }
        )
    return render(request, "dashboard/overview.html", {"clusters": clusters})


def _cluster_for(request, name):
    return get_object_or_404(visible_clusters(request.user), name=name)


@login_required
def cluster_detail(request, cluster):
    cluster = _cluster_for(request, cluster)
    latest = cluster.latest_visible_snapshot()
    namespaces = namespace_rows(latest, request.user) if latest else []
    admin = is_admin(request.user)
    snapshots = cluster.snapshots.order_by("-seq")[:50] if admin else []
    grades = current_grades(cluster)
    for row in namespaces:
        row["grade"] = grades.get(row["name"])
    context = {"cluster": cluster, "latest": latest, "namespaces": namespaces, "snapshots": snapshots}
    if admin:
        context["cluster_grade"] = grades.get("")
    if admin and latest:
        context["backends"] = backend_rows(latest)
        context["join"] = latest.facts.get("join") or {}
    return render(request, "dashboard/cluster.html", context)


@login_required
def namespace_detail(request, cluster, namespace):
    cluster = _cluster_for(request, cluster)
    if not is_admin(request.user) and namespace not in granted_namespaces(request.user).get(
        cluster.pk, set()
    ):
        raise Http404("no such namespace")
    latest = cluster.latest_visible_snapshot()
    if (
        latest is None
        or not InventoryObject.objects.as_of(latest).filter(kind="Namespace", name=namespace).exists()
    ):
        raise Http404("no such namespace")
    context = {"cluster": cluster, "latest": latest, "namespace": namespace}
    context.update(namespace_contents(latest, namespace))
    context.update(namespace_exposure(latest, namespace))
    return render(request, "dashboard/namespace.html", context)


def healthz(request):
    return JsonResponse({"ok": True})
