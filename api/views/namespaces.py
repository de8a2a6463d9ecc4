"""namespaces/, namespaces/{cluster}/{namespace}/, its paths/, and volumes/: the inventory, as of
the latest snapshot or the one `as_of` names."""

import hashlib
from collections import Counter

import orjson
from django.db.models import F
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
from rest_framework.response import Response

from api import params
from api.pagination import Key
from api.serializers import NamespaceDetailOut, NamespaceOut, PathOut, VolumeOut, severity_counts
from dashboard.queries import (
    grades_as_of,
    namespace_exists,
    namespace_objects,
    namespace_owners,
    namespace_paths,
    namespace_rows,
    visible_clusters,
    volume_records,
    volume_rows,
)
from inventory.times import rfc3339
from tenancy.access import scope_of


def _namespace_shapes(page: list, snapshots, scope, request) -> list[dict]:
    """A page of Namespace objects (from several clusters) as rows with their counts and grades: a
    few queries per cluster on the page, whatever the page's or the cluster's size."""
    by_cluster = {s.cluster_id: s for s in snapshots}
    rows = {}
    for cluster_id in sorted({obj.cluster_id for obj in page}):
        snapshot = by_cluster[cluster_id]
        names = [obj.name for obj in page if obj.cluster_id == cluster_id]
        grades = grades_as_of(snapshot, scope, only=names)
        for row in namespace_rows(snapshot, scope, only=names):
            rows[(cluster_id, row["name"])] = _shape(snapshot, row, grades.get(row["name"]), request)
    return [rows[(obj.cluster_id, obj.name)] for obj in page if (obj.cluster_id, obj.name) in rows]


def _shape(snapshot, row: dict, grade, request) -> dict:
    cluster = snapshot.cluster.name
    url = reverse("api-namespace-detail", kwargs={"cluster": cluster, "namespace": row["name"]})
    return {
        **row,
        "cluster": cluster,
        "url": request.build_absolute_uri(url),
        "snapshot": snapshot.pk,
        "created": _time(row["created"]),
        "grade": grade.grade if grade else None,
        "open_violations": severity_counts(grade.counts if grade else {}),
    }


def _time(value) -> str | None:
    """A time the cluster wrote (creationTimestamp), in the API's one format; None if it is none."""
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    return rfc3339(parsed) if parsed else None


class NamespaceViewSet(viewsets.GenericViewSet):
    orderings = {"name": (Key("cluster_name", kind=str), Key("name", kind=str))}
    default_ordering = "name"
    serializer_class = NamespaceOut

    @extend_schema(parameters=[params.CLUSTER, params.AS_OF], responses=NamespaceOut(many=True))
    def list(self, request):
        """The namespaces the caller sees, with their tenant, counts and grade."""
        scope = scope_of(request.user)
        snapshots = params.snapshots(request, scope, params.clusters(request, scope))
        namespaces = (
            namespace_objects(snapshots, scope)
            .annotate(cluster_name=F("cluster__name"))
            .only("cluster_id", "name")
        )
        page = self.paginate_queryset(namespaces)
        return self.get_paginated_response(
            NamespaceOut(_namespace_shapes(page, snapshots, scope, request), many=True).data
        )


class NamespaceDetailViewSet(viewsets.GenericViewSet):
    """A namespace is named by its cluster and its name (two URL segments, not a router lookup)."""

    # A namespace's paths: by rule, then by what each path is (its digest; `#n` tells identical
    # paths apart), a fixed unique order a cursor can continue from.
    orderings = {"rule": (Key("rule", kind=str), Key("key", kind=str))}
    default_ordering = "rule"
    serializer_class = NamespaceDetailOut

    def _snapshot(self, request, scope, cluster: str, namespace: str):
        found = get_object_or_404(visible_clusters(scope), name=cluster)
        snapshot = params.snapshot_of(request, scope, found)
        if snapshot is None or not namespace_exists(snapshot, namespace, scope):
            raise Http404
        return snapshot

    @extend_schema(
        parameters=[params.AS_OF], responses=NamespaceDetailOut, operation_id="namespaces_retrieve"
    )
    def retrieve(self, request, cluster=None, namespace=None):
        """One namespace: counts, grade and owners (a namespace the caller may not see: 404)."""
        scope = scope_of(request.user)
        snapshot = self._snapshot(request, scope, cluster, namespace)
        grade = grades_as_of(snapshot, scope, only=[namespace]).get(namespace)
        row = _shape(snapshot, namespace_rows(snapshot, scope, only=[namespace])[0], grade, request)
        here = {"cluster": cluster, "namespace": namespace}
        row.update(
            grade_since=grade.grade_since_at if grade else None,  # when it took this letter
            owners=namespace_owners(snapshot.cluster, namespace, scope),
            paths_url=request.build_absolute_uri(reverse("api-namespace-paths", kwargs=here)),
            volumes_url=request.build_absolute_uri(
                reverse("api-volume-list") + f"?cluster={cluster}&namespace={namespace}"
            ),
            findings_url=request.build_absolute_uri(
                reverse("api-finding-list") + f"?cluster={cluster}&namespace={namespace}&status=all"
            ),
        )
        return Response(NamespaceDetailOut(row).data)

    @extend_schema(
        parameters=[params.AS_OF], responses=PathOut(many=True), operation_id="namespaces_paths_list"
    )
    def paths(self, request, cluster=None, namespace=None):
        """Every exposure path into the namespace's data (inside its tenant and from platform
        workloads included), redacted for the caller."""
        scope = scope_of(request.user)
        snapshot = self._snapshot(request, scope, cluster, namespace)
        page = self.paginate_queryset(_keyed(namespace_paths(snapshot, namespace, scope)))
        return self.get_paginated_response(PathOut(page, many=True).data)


def _keyed(paths: list[dict]) -> list[dict]:
    """Each path with its `key` for the cursor: the digest of what it says, as the reader sees it."""
    seen: Counter = Counter()
    keyed = []
    for path in paths:
        digest = hashlib.sha256(orjson.dumps(path, option=orjson.OPT_SORT_KEYS)).hexdigest()[:24]
        seen[digest] += 1
        keyed.append({**path, "rule": str(path.get("rule", "")), "key": f"{digest}#{seen[digest]}"})
    return keyed


class VolumeViewSet(viewsets.GenericViewSet):
    orderings = {
        "name": (
            Key("cluster_name", kind=str),
            Key("namespace", kind=str),
            Key("kind", kind=str),
            Key("name", kind=str),
        )
    }
    default_ordering = "name"
    serializer_class = VolumeOut

    @extend_schema(
        parameters=[params.CLUSTER, params.NAMESPACE, params.AS_OF], responses=VolumeOut(many=True)
    )
    def list(self, request):
        """Every volume the caller sees (a PV with its claim, or a pod's inline volume): the array
        object that holds its data, the gates that guard it, whom they admit and the verdicts."""
        scope = scope_of(request.user)
        snapshots = params.snapshots(request, scope, params.clusters(request, scope))
        records = volume_records(snapshots, scope).annotate(cluster_name=F("cluster__name"))
        if namespace := request.query_params.get("namespace"):
            records = records.filter(namespace=namespace)
        page = self.paginate_queryset(records)
        return self.get_paginated_response(VolumeOut(volume_rows(page, snapshots, scope), many=True).data)
