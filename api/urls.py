"""/api/v1/: the router's resources, the two-part namespace URLs, the schema and its docs page.

Lookups are path converters (no regexes), so each URL names what it takes (`<name:cluster>`,
`<int:finding>`) and the canary crawl (tests/test_canary.py) fills every one.  `name` is the
project's converter (dashboard/converters.py): any object name as one segment.
"""

from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

import dashboard.converters  # noqa: F401  (registers `<name:…>`, whoever loads first)
from api.errors import not_found
from api.views import catalog, clusters, docs, findings, namespaces, timeline

router = SimpleRouter(use_regex_path=False)
router.register("clusters", clusters.ClusterViewSet, basename="api-cluster")
router.register("snapshots", clusters.SnapshotViewSet, basename="api-snapshot")
router.register("namespaces", namespaces.NamespaceViewSet, basename="api-namespace")
router.register("volumes", namespaces.VolumeViewSet, basename="api-volume")
router.register("findings", findings.FindingViewSet, basename="api-finding")
router.register("rules", catalog.RuleViewSet, basename="api-rule")
router.register("arrays", catalog.ArrayViewSet, basename="api-array")
router.register("backends", catalog.BackendViewSet, basename="api-backend")
router.register("timeline", timeline.TimelineViewSet, basename="api-timeline")

urlpatterns = [
    *router.urls,
    path(
        "namespaces/<name:cluster>/<name:namespace>/",
        namespaces.NamespaceDetailViewSet.as_view({"get": "retrieve"}),
        name="api-namespace-detail",
    ),
    path(
        "namespaces/<name:cluster>/<name:namespace>/paths/",
        namespaces.NamespaceDetailViewSet.as_view({"get": "paths"}),
        name="api-namespace-paths",
    ),
    path("schema/", docs.SchemaView.as_view(), name="api-schema"),
    path("docs/", docs.docs, name="api-docs"),
    re_path(r"^", not_found, name="api-not-found"),  # anything else under /api/: a 404 in the API's shape
]
