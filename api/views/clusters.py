"""clusters/, clusters/{cluster}/, its snapshots (and admins' request for one), snapshots/{id}/."""

from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.response import Response

from api import params
from api.pagination import Key
from api.serializers import ClusterOut, Error, SnapshotOut, severity_counts
from dashboard.queries import grades_as_of, open_finding_counts, visible_clusters
from dashboard.timelines import Window, cluster_open_series
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.snapshotting import queue_snapshot
from inventory.tasks import UNFINISHED, resend_after, snapshot_cluster
from tenancy.access import scope_of


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "This cluster cannot be snapshotted now."


def snapshot_ref(snapshot: Snapshot | None, request) -> dict | None:
    if snapshot is None:
        return None
    url = request.build_absolute_uri(reverse("api-snapshot-detail", kwargs={"snapshot": snapshot.pk}))
    return {
        "id": snapshot.pk,
        "seq": snapshot.seq,
        "status": snapshot.status,
        "taken_at": snapshot.taken_at,
        "url": url,
    }


def snapshot_shape(snapshot: Snapshot, cluster: Cluster, scope, request) -> dict:
    """A snapshot; what it could not read, its error and analysis failure for admins only (they
    name kinds, arrays and objects of every tenant)."""
    return {
        **snapshot_ref(snapshot, request),
        "cluster": cluster.name,
        "origin": snapshot.origin,
        "started_at": snapshot.started_at,
        "finished_at": snapshot.finished_at,
        "duration_seconds": snapshot.duration_seconds,
        "unread": {k: str(v) for k, v in (snapshot.unread or {}).items()} if scope.admin else None,
        "error": snapshot.error if scope.admin else None,
        "analysis_failure": snapshot.analysis_failure if scope.admin else None,
    }


def cluster_shape(cluster: Cluster, scope, request, as_of: Snapshot | None = None) -> dict:
    """A cluster with the counts tools need: open findings per severity, namespaces and their grades,
    as of its latest snapshot, or as of the snapshot `as_of` (open findings: those open when it was
    taken, the timelines' count)."""
    snapshots = cluster.snapshots.restrict(scope)
    latest = snapshots.filter(status__in=Snapshot.VISIBLE).order_by("-seq").first()
    running = snapshots.filter(status__in=UNFINISHED).order_by("-seq").first()
    read = as_of or latest
    namespace_count, grades, open_findings = 0, {}, {}
    if read is not None:
        namespace_count = (
            InventoryObject.objects.as_of(read).restrict(scope).filter(scope="", kind="Namespace").count()
        )
        grades = grades_as_of(read, scope)
        if as_of is None:
            open_findings = dict(open_finding_counts(cluster, scope))
        else:
            moment = Window(as_of.taken_at, as_of.taken_at + timedelta(microseconds=1))
            open_findings = cluster_open_series(cluster, scope, moment).at_end()
    url = request.build_absolute_uri(reverse("api-cluster-detail", kwargs={"cluster": cluster.name}))
    cluster_wide = grades.pop("", None)
    return {
        "name": cluster.name,
        "url": url,
        "source": cluster.source,
        "enabled": cluster.enabled,
        "interval_minutes": cluster.interval_minutes,
        "latest_snapshot": snapshot_ref(latest, request),
        "running_snapshot": snapshot_ref(running, request),
        "snapshot": snapshot_ref(read, request),
        "namespace_count": namespace_count,
        "open_findings": severity_counts(open_findings),
        "grades": dict(sorted(Counter(s.grade for s in grades.values()).items())),
        "grade": cluster_wide.grade if cluster_wide and scope.admin else None,
    }


def _as_of_shape(cluster: Cluster, scope, request, when) -> dict:
    """`cluster_shape` now, or as of `when` (`as_of`: a snapshot id of this cluster, or a time)."""
    if when is None:
        return cluster_shape(cluster, scope, request)
    then = params.snapshot_of(request, scope, cluster)
    shown = cluster_shape(cluster, scope, request, as_of=then)
    if then is None:  # nothing was known then
        shown.update(snapshot=None, namespace_count=0, open_findings=severity_counts({}), grades={})
    return shown


class ClusterViewSet(viewsets.GenericViewSet):
    lookup_url_kwarg = "cluster"
    lookup_value_converter = "name"  # dashboard/converters.py: any cluster name as one segment
    orderings = {"name": (Key("name", kind=str),)}
    default_ordering = "name"
    serializer_class = ClusterOut

    @extend_schema(parameters=[params.AS_OF], responses=ClusterOut(many=True))
    def list(self, request):
        """The clusters the caller sees (any namespace of), with summary counts; with `as_of`, each
        as of its latest snapshot taken by then (a snapshot id: its cluster only)."""
        scope = scope_of(request.user)
        clusters = visible_clusters(scope)
        when = params.as_of(request)
        if isinstance(when, int):  # a snapshot of one of the caller's clusters (400 otherwise)
            clusters = clusters.filter(pk=params.snapshots(request, scope, list(clusters))[0].cluster_id)
        page = self.paginate_queryset(clusters)
        return self.get_paginated_response(
            ClusterOut([_as_of_shape(c, scope, request, when) for c in page], many=True).data
        )

    @extend_schema(parameters=[params.AS_OF], responses=ClusterOut)
    def retrieve(self, request, cluster=None):
        """One cluster with its counts, as of its latest snapshot or the one `as_of` names (before its
        first snapshot: no snapshot, nothing counted)."""
        scope = scope_of(request.user)
        found = get_object_or_404(visible_clusters(scope), name=cluster)
        return Response(ClusterOut(_as_of_shape(found, scope, request, params.as_of(request))).data)

    @extend_schema(methods=["GET"], responses=SnapshotOut(many=True), operation_id="clusters_snapshots_list")
    @extend_schema(
        methods=["POST"],
        request=None,
        operation_id="clusters_snapshots_create",
        responses={
            202: OpenApiResponse(
                SnapshotOut,
                description="Requested: the queued (or already queued or running) snapshot; "
                "its URL in `Location`. Poll it until it is complete, partial or failed.",
            ),
            409: OpenApiResponse(Error, description="An offline or disabled cluster is not snapshotted."),
        },
    )
    @action(
        detail=True,
        methods=["get", "post"],
        orderings={"-seq": (Key("seq", descending=True),)},
        default_ordering="-seq",
    )
    def snapshots(self, request, cluster=None):
        """GET: the cluster's snapshots, newest first. POST (dashboard admins): request a snapshot now."""
        scope = scope_of(request.user)
        found = get_object_or_404(visible_clusters(scope), name=cluster)
        if request.method == "POST":
            return self._request_snapshot(found, scope, request)
        page = self.paginate_queryset(found.snapshots.restrict(scope))
        return self.get_paginated_response(
            SnapshotOut([snapshot_shape(s, found, scope, request) for s in page], many=True).data
        )

    def _request_snapshot(self, cluster: Cluster, scope, request):
        if not scope.admin:
            raise PermissionDenied("Only dashboard admins request snapshots.")
        if cluster.source == Cluster.Source.OFFLINE or not cluster.enabled:
            raise Conflict("An offline or disabled cluster is not snapshotted (offline: import a dump).")
        snapshot = cluster.snapshots.filter(status__in=UNFINISHED).order_by("-seq").first()
        if snapshot is None:
            snapshot = queue_snapshot(cluster)
            if not settings.CELERY_TASK_ALWAYS_EAGER:
                # A broker: sent now, marked sent first (the dispatcher resends a lost one).  Without
                # one the embedded scheduler's next tick runs it, not this request's thread.
                Snapshot.objects.filter(pk=snapshot.pk).update(dispatched_at=timezone.now())
                snapshot_cluster.apply_async(
                    (cluster.pk, snapshot.pk), expires=resend_after().total_seconds()
                )
        shown = snapshot_shape(snapshot, cluster, scope, request)
        return Response(
            SnapshotOut(shown).data, status=status.HTTP_202_ACCEPTED, headers={"Location": shown["url"]}
        )


class SnapshotViewSet(viewsets.GenericViewSet):
    lookup_url_kwarg = "snapshot"
    lookup_value_converter = "int"
    serializer_class = SnapshotOut

    @extend_schema(responses=SnapshotOut)
    def retrieve(self, request, snapshot=None):
        """One snapshot: poll a requested one until it is complete, partial or failed."""
        scope = scope_of(request.user)
        found = get_object_or_404(Snapshot.objects.restrict(scope).select_related("cluster"), pk=snapshot)
        return Response(SnapshotOut(snapshot_shape(found, found.cluster, scope, request)).data)
