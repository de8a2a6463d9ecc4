"""timeline/: each namespace's grade and open findings per severity over time.

A minimal reader over the grade intervals (dashboard.queries.grade_intervals, restricted to the
caller): one row per interval that overlaps [since, until).  The pages' timeline readers
(dashboard/timelines.py, findings' lives) are to serve this endpoint too: left for the merge.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets

from api import params
from api.pagination import Key
from api.serializers import TimelineIntervalOut, severity_counts
from dashboard.queries import grade_intervals
from tenancy.access import scope_of


class TimelineViewSet(viewsets.GenericViewSet):
    orderings = {"time": (Key("cluster_id"), Key("namespace", kind=str), Key("valid_from"), Key("id"))}
    default_ordering = "time"
    serializer_class = TimelineIntervalOut

    @extend_schema(
        parameters=[
            params.CLUSTER,
            OpenApiParameter(
                "namespace", str, description="Only this namespace (empty: cluster-wide findings)."
            ),
            OpenApiParameter("since", str, description="ISO 8601 time or date: intervals that end after it."),
            OpenApiParameter(
                "until", str, description="ISO 8601 time or date: intervals that start before it."
            ),
        ],
        responses=TimelineIntervalOut(many=True),
    )
    def list(self, request):
        """Intervals of each namespace's grade and open, unsuppressed findings per severity (graded
        severities), by cluster and namespace, oldest first."""
        scope = scope_of(request.user)
        clusters = {c.pk: c for c in params.clusters(request, scope)}
        since, until = request.query_params.get("since"), request.query_params.get("until")
        rows = grade_intervals(
            list(clusters.values()),
            scope,
            namespace=request.query_params.get("namespace"),
            since=params.parse_time(since, "since") if since else None,
            until=params.parse_time(until, "until") if until else None,
        )
        page = self.paginate_queryset(rows)
        shaped = [
            {
                "cluster": clusters[row.cluster_id].name,
                "namespace": row.namespace,
                "grade": row.grade,
                "open_violations": severity_counts(row.counts or {}),
                "start": row.valid_from_at,
                "end": row.valid_to_at,
                "start_seq": row.valid_from,
                "end_seq": row.valid_to,
            }
            for row in page
        ]
        return self.get_paginated_response(TimelineIntervalOut(shaped, many=True).data)
