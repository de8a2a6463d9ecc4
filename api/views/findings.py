"""findings/, findings/{id}/, and admins' suppress / unsuppress."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from api.filters import DEFAULT_ORDERING, ORDERINGS, ApiFindingFilter
from api.serializers import FindingDetailOut, FindingOut, SuppressIn
from dashboard.queries import finding_history, redacted_findings, visible_findings
from exposure.findings import STATUSES, lift_suppression, suppress
from exposure.rules import RULES, SEVERITIES
from tenancy.access import scope_of

FILTERS = [
    OpenApiParameter("cluster", str, description="Only this cluster (one the caller sees, else 400)."),
    OpenApiParameter("namespace", str, description="Only findings attributed to this namespace."),
    OpenApiParameter("tenant", str, description="Only findings attributed to this tenant's namespaces."),
    OpenApiParameter("rule", str, enum=sorted(RULES), description="Only this rule (slug)."),
    OpenApiParameter(
        "severity", str, many=True, enum=list(reversed(SEVERITIES)), description="Only these severities."
    ),
    OpenApiParameter(
        "status",
        str,
        enum=list(STATUSES),
        description="open (default; suppressed ones excluded), resolved, suppressed (open, accepted) or all.",
    ),
    OpenApiParameter("array", str, description="Only findings resting on this array."),
    *(
        OpenApiParameter(
            name, str, description="ISO 8601 time or date; `after` inclusive, `before` exclusive."
        )
        for name in ("first_seen_after", "first_seen_before", "resolved_after", "resolved_before")
    ),
]


def shaped(row: dict, request) -> dict:
    """A redacted finding summary with its URL, as the serializers write it."""
    url = request.build_absolute_uri(reverse("api-finding-detail", kwargs={"finding": row["id"]}))
    return {**row, "url": url, "redacted": row.get("redacted", False)}


class FindingViewSet(viewsets.GenericViewSet):
    lookup_url_kwarg = "finding"
    lookup_value_converter = "int"
    orderings = ORDERINGS
    default_ordering = DEFAULT_ORDERING
    serializer_class = FindingOut

    @extend_schema(parameters=FILTERS, responses=FindingOut(many=True))
    def list(self, request):
        """The findings the caller may see, filtered; redacted as on the pages."""
        scope = scope_of(request.user)
        filters = ApiFindingFilter(request.query_params, scope)
        if not filters.is_valid():
            raise ValidationError(_messages(filters.errors))
        page = self.paginate_queryset(filters.selected())
        rows = [shaped(row, request) for row in redacted_findings(page, scope)]
        return self.get_paginated_response(FindingOut(rows, many=True).data)

    @extend_schema(responses=FindingDetailOut)
    def retrieve(self, request, finding=None):
        """One finding, with its history."""
        scope = scope_of(request.user)
        target = _visible(scope, finding)
        return Response(FindingDetailOut(_detail(target, scope, request)).data)

    @extend_schema(request=SuppressIn, responses=FindingDetailOut)
    @action(detail=True, methods=["post"])
    def suppress(self, request, finding=None):
        """Accept the finding (dashboard admins): it stays listed as suppressed until `expires_at`,
        or until its evidence changes."""
        scope = scope_of(request.user)
        target = _visible(scope, finding)  # one the caller may not see: 404, as everywhere
        if not scope.admin:
            raise PermissionDenied("Only dashboard admins suppress findings.")
        given = SuppressIn(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            suppress(target, given.validated_data["reason"], given.validated_data["expires_at"], request.user)
        except ValueError as error:  # an empty reason, an expiry in the past
            raise ValidationError({"non_field_errors": [str(error)]}) from None
        return Response(FindingDetailOut(_detail(_visible(scope, finding), scope, request)).data)

    @extend_schema(request=None, responses=FindingDetailOut)
    @action(detail=True, methods=["post"])
    def unsuppress(self, request, finding=None):
        """Lift the finding's suppression now (dashboard admins)."""
        scope = scope_of(request.user)
        target = _visible(scope, finding)
        if not scope.admin:
            raise PermissionDenied("Only dashboard admins lift suppressions.")
        lift_suppression(target, request.user)
        return Response(FindingDetailOut(_detail(_visible(scope, finding), scope, request)).data)


def _messages(errors) -> dict:
    return {field: [e["message"] for e in problems] for field, problems in errors.get_json_data().items()}


def _visible(scope, finding_id):
    return get_object_or_404(visible_findings(scope), pk=finding_id)


def _detail(finding, scope, request) -> dict:
    shown = next(redacted_findings([finding], scope))
    return {**shaped(shown, request), "history": finding_history(finding, shown, scope)}
