"""A cluster's snapshot history: status, what was not read and why, duration, objects per kind."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from dashboard.queries import visible_clusters
from dashboard.snapshot_history import history_page
from tenancy.access import scope_of


@login_required
def snapshot_history(request, cluster):
    scope = scope_of(request.user)
    cluster = get_object_or_404(visible_clusters(scope), name=cluster)
    page, rows = history_page(cluster, scope, request.GET.get("page"))
    return render(request, "dashboard/snapshots.html", {"cluster": cluster, "page": page, "rows": rows})
