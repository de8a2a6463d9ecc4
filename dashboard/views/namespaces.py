"""A namespace's page: its data, every path into it, its findings."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from dashboard.charts import namespace_charts
from dashboard.queries import (
    namespace_contents,
    namespace_exists,
    namespace_exposure,
    namespace_owners,
    visible_clusters,
)
from tenancy.access import scope_of


@login_required
def namespace_detail(request, cluster, namespace):
    scope = scope_of(request.user)
    cluster = get_object_or_404(visible_clusters(scope), name=cluster)
    latest = cluster.latest_visible_snapshot()
    if latest is None or not namespace_exists(latest, namespace, scope):
        raise Http404("no such namespace")
    context = {"cluster": cluster, "latest": latest, "namespace": namespace}
    context["owners"] = namespace_owners(cluster, namespace, scope)
    context.update(namespace_contents(latest, namespace, scope))
    context.update(namespace_exposure(latest, namespace, scope))
    context.update(namespace_charts(cluster, namespace, scope))  # dashboard/parts/namespace_timelines.html
    return render(request, "dashboard/namespace.html", context)
