"""The findings list, its CSV, a finding's page, and admins' suppress and lift."""

import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST

from dashboard.charts import finding_chart
from dashboard.exports import FINDING_COLUMNS, csv_lines
from dashboard.filters import FindingFilter
from dashboard.forms import SuppressForm
from dashboard.queries import (
    active_suppression,
    finding_history,
    listed_findings,
    redacted_findings,
    visible_findings,
)
from exposure.findings import SUPPRESSED, lift_suppression, suppress
from exposure.models import Finding
from exposure.rules import SEVERITIES
from tenancy.access import scope_of

FINDINGS_PER_PAGE = 50
NAMESPACES_PER_ROW = 5  # a cluster-wide finding is attributed to every namespace: a row names a few
DATES = ("first_seen", "at_least_since", "resolved_at")


def _listed(findings, filters: FindingFilter, scope):
    """Redacted rows (the CSV's), each with the tenants of the namespaces the reader may see."""
    for row in redacted_findings(findings, scope):
        yield {**row, "tenants": filters.tenants_of(row["cluster_id"], row["namespaces"])}


def _dated(row: dict) -> dict:
    """A summary's ISO times as datetimes, for the templates to format (the CSV keeps ISO)."""
    return {**row, **{key: parse_datetime(row[key]) if row.get(key) else None for key in DATES}}


def _page_row(row: dict) -> dict:
    shown = row["namespaces"][:NAMESPACES_PER_ROW]
    return {**_dated(row), "shown_namespaces": shown, "more_namespaces": len(row["namespaces"]) - len(shown)}


@login_required
def findings(request):
    scope = scope_of(request.user)
    filters = FindingFilter(request.GET, scope)
    selected = filters.findings()
    counted = dict(selected.order_by().values_list("severity").annotate(n=Count("pk")))
    paginator = Paginator(selected, FINDINGS_PER_PAGE)
    paginator.count = sum(counted.values())  # what a COUNT(*) over every finding selected would say
    page = paginator.get_page(request.GET.get("page"))
    context = {
        "filters": filters,
        "page": page,
        "rows": [_page_row(row) for row in _listed(page.object_list, filters, scope)],
        "severity_counts": [(s, counted[s]) for s in reversed(SEVERITIES) if counted.get(s)],
        "sort": filters.value("sort"),
    }
    return render(request, "dashboard/findings.html", context)


@login_required
def findings_csv(request):
    """Exactly what the findings page lists for the same query string, every page of it."""
    scope = scope_of(request.user)
    filters = FindingFilter(request.GET, scope)
    if not filters.is_valid():
        return HttpResponse(
            "The filter is not valid.\n", status=400, content_type="text/plain; charset=utf-8"
        )
    # Only the columns exported are read, and each row redacted from them: a constant cost per row.
    listed = listed_findings(filters.findings(Finding.objects.all()), scope)
    rows = ({**row, "tenants": filters.tenants_of(row["cluster_id"], row["namespaces"])} for row in listed)
    response = StreamingHttpResponse(csv_lines(FINDING_COLUMNS, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="findings.csv"'
    return response


def _finding_page(request, finding, scope, suppress_form=None, status=200):
    shown = next(redacted_findings([finding], scope))
    context = {
        "finding": _dated(shown),
        "cluster": finding.cluster,
        "evidence": [(key, _text(value)) for key, value in sorted((shown["evidence"] or {}).items())],
        "history": finding_history(finding, shown, scope),
        "life_chart": finding_chart(finding, scope),
        "suppression": active_suppression(finding, shown, scope),
        "suppress_form": (suppress_form or SuppressForm.default()) if scope.admin else None,
        "suppressed": shown["status"] == SUPPRESSED,
    }
    return render(request, "dashboard/finding.html", context, status=status)


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=1, sort_keys=True, default=str)


def _visible_finding(scope, finding_id):
    return get_object_or_404(visible_findings(scope).select_related("cluster"), pk=finding_id)


@login_required
def finding_detail(request, finding):
    scope = scope_of(request.user)
    return _finding_page(request, _visible_finding(scope, finding), scope)


@login_required
@require_POST
def finding_suppress(request, finding):
    scope = scope_of(request.user)
    target = _visible_finding(scope, finding)  # a finding the reader may not see: 404, as everywhere
    if not scope.admin:
        raise PermissionDenied("only dashboard admins suppress findings")
    form = SuppressForm(request.POST)
    if not form.is_valid():
        return _finding_page(request, target, scope, suppress_form=form, status=400)
    suppress(target, form.cleaned_data["reason"], form.cleaned_data["until"], request.user)
    return redirect("finding", finding=target.pk)


@login_required
@require_POST
def finding_lift(request, finding):
    scope = scope_of(request.user)
    target = _visible_finding(scope, finding)
    if not scope.admin:
        raise PermissionDenied("only dashboard admins lift suppressions")
    lift_suppression(target, request.user)
    return redirect("finding", finding=target.pk)
