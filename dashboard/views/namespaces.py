"""The namespaces list (every cluster, or one) and a namespace's exposure view: its data, every path
into it grouped by actor, the diagram, what sets its grade, its findings."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from dashboard.charts import namespace_charts
from dashboard.exposure_diagram import sankey
from dashboard.namespace_data import data_tree, namespace_tenant
from dashboard.namespace_list import (
    NAMESPACES_PER_PAGE,
    NamespaceFilter,
    complete,
    sort_links,
    visible_rows,
)
from dashboard.path_groups import grade_setting, grouped_paths, with_own_paths
from dashboard.queries import (
    namespace_contents,
    namespace_exists,
    namespace_exposure,
    namespace_owners,
    reader_for,
    visible_clusters,
)
from tenancy.access import scope_of
from tenancy.boundaries import tenant_label_text


@login_required
def namespace_list(request, cluster=None):
    scope = scope_of(request.user)
    if cluster is None:
        clusters = list(visible_clusters(scope).order_by("name"))
        offered = [c.name for c in clusters]
    else:
        clusters = [get_object_or_404(visible_clusters(scope), name=cluster)]
        offered = None
    # Every namespace's row holds what the list filters and sorts by; only the page's are completed.
    rows = visible_rows(scope, clusters, pvcs=request.GET.get("sort", "").lstrip("-") == "pvcs")
    filters = NamespaceFilter(request.GET, rows, offered)
    page = Paginator(filters.selected(), NAMESPACES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "cluster": clusters[0] if cluster else None,
        "cluster_grade": rows[0]["cluster_grade"] if cluster and rows else None,
        "filters": filters,
        "page": page,
        "rows": complete(page.object_list, scope),
        "show_cluster": cluster is None,
        "sort_links": sort_links(request.GET, filters.value("sort")),
    }
    return render(request, "dashboard/namespaces.html", context)


@login_required
def namespace_detail(request, cluster, namespace):
    scope = scope_of(request.user)
    cluster = get_object_or_404(visible_clusters(scope), name=cluster)
    latest = cluster.latest_visible_snapshot()
    if latest is None or not namespace_exists(latest, namespace, scope):
        raise Http404("no such namespace")
    context = {"cluster": cluster, "latest": latest, "namespace": namespace}
    context["trust_boundary"] = tenant_label_text(namespace_tenant(latest, namespace, scope))
    context["owners"] = namespace_owners(cluster, namespace, scope)
    contents = namespace_contents(latest, namespace, scope)
    exposure = namespace_exposure(latest, namespace, scope)  # paths and findings redacted for the reader
    context.update(contents)
    context.update(exposure)
    paths = exposure["outside_paths"] + exposure["other_paths"]
    context["path_groups"] = grouped_paths(paths)
    context["diagram"] = sankey(paths, namespace)
    setting = grade_setting(exposure["grade_findings"], namespace, exposure["grade"])
    context["grade_setting"] = {**setting, "total": exposure["grade_findings_total"]}
    context["findings"] = with_own_paths(exposure["findings"], namespace)
    context["data"] = data_tree(contents, namespace, exposure["outside_paths"], reader_for(scope, cluster))
    context.update(namespace_charts(cluster, namespace, scope))  # dashboard/parts/namespace_timelines.html
    return render(request, "dashboard/namespace.html", context)
