"""The rules catalog: every rule, its severity on the reader's clusters and their open findings of it."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from dashboard.rules_catalog import catalog_rows, sections
from tenancy.access import scope_of


@login_required
def rules(request):
    rows = catalog_rows(scope_of(request.user))
    return render(request, "dashboard/rules.html", {"sections": sections(rows), "rule_count": len(rows)})
