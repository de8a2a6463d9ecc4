"""timeline/: open findings per severity over time, and grades, of a cluster or one namespace.

The same reader as the pages' timeline charts (dashboard.timelines.timeline): the same numbers for
the same cluster, namespace and window.  One list of steps per cluster, each holding from its
`start` until its `end` (the next step's start).
"""

from datetime import datetime

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets

from api import params
from api.pagination import Key
from api.serializers import TimelineStepOut, severity_counts
from dashboard.timelines import DEFAULT_DAYS, Window, timeline, window_of
from tenancy.access import scope_of


class TimelineViewSet(viewsets.GenericViewSet):
    orderings = {"time": (Key("cluster", kind=str), Key("start", kind=datetime))}
    default_ordering = "time"
    serializer_class = TimelineStepOut

    @extend_schema(
        parameters=[
            params.CLUSTER,
            OpenApiParameter(
                "namespace",
                str,
                description="This namespace's findings (each counted while it was attributed there) and "
                "grade.  Without it: the cluster as far as the caller sees it, and the grade of its "
                "cluster-wide findings (admins).",
            ),
            OpenApiParameter(
                "since",
                str,
                description=f"ISO 8601 time or date: where the timeline starts (default: midnight UTC "
                f"{DEFAULT_DAYS} days before `until`, not before the cluster's first snapshot; as the "
                "pages' charts).",
            ),
            OpenApiParameter(
                "until",
                str,
                description="ISO 8601 time or date: where the timeline ends (default: now, and the last "
                "step's `end` is null: still so).",
            ),
        ],
        responses=TimelineStepOut(many=True),
    )
    def list(self, request):
        """Open, unsuppressed findings per severity over time, and the grade, as the pages' timeline
        charts draw them; steps by cluster, oldest first."""
        scope = scope_of(request.user)
        since, until = request.query_params.get("since"), request.query_params.get("until")
        since = params.parse_time(since, "since") if since else None
        until = params.parse_time(until, "until") if until else timezone.now()
        namespace = request.query_params.get("namespace")
        ongoing = "until" not in request.query_params  # up to now: the last step is still so
        steps = []
        for cluster in params.clusters(request, scope):
            window = Window(since, until) if since else window_of(cluster, scope, until)
            if window.start >= window.end:
                continue
            shown = timeline(cluster, scope, namespace, window).steps()
            for step in shown:
                steps.append(
                    {
                        "cluster": cluster.name,
                        "namespace": namespace,
                        "start": step.start,
                        "end": None if ongoing and step is shown[-1] else step.end,
                        "open_findings": severity_counts(step.open),
                        "grade": step.grade,
                        "grade_counts": None
                        if step.grade_counts is None
                        else severity_counts(step.grade_counts),
                    }
                )
        page = self.paginate_queryset(steps)
        return self.get_paginated_response(TimelineStepOut(page, many=True).data)
