"""A cluster's arrays and Trident backends: what Trident says, what was read, who is admitted."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render

from dashboard.queries import visible_clusters
from dashboard.storage import storage_view
from tenancy.access import scope_of


@login_required
def arrays(request, cluster):
    scope = scope_of(request.user)
    cluster = get_object_or_404(visible_clusters(scope), name=cluster)
    latest = cluster.latest_visible_snapshot()
    context = {"cluster": cluster, "latest": latest}
    if latest is not None:
        context.update(storage_view(latest, scope, request.GET.get("page")))
    return render(request, "dashboard/arrays.html", context)
