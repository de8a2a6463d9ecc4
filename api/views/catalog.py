"""rules/, arrays/ and backends/: what the dashboard judges by, and what it reads."""

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets

from api import params
from api.pagination import Key
from api.serializers import ArrayOut, BackendOut, RuleOut
from arrays.models import Array
from dashboard.storage import backend_rows, volumes_held
from exposure.catalog import catalog
from tenancy.access import scope_of


class RuleViewSet(viewsets.GenericViewSet):
    orderings = {"slug": (Key("slug", kind=str),)}
    default_ordering = "slug"
    serializer_class = RuleOut

    @extend_schema(responses=RuleOut(many=True))
    def list(self, request):
        """Every rule, by slug, as `manage.py rules --format json` and the rules page show it
        (exposure/catalog.py)."""
        page = self.paginate_queryset(catalog())
        return self.get_paginated_response(RuleOut(page, many=True).data)


class ArrayViewSet(viewsets.GenericViewSet):
    orderings = {"name": (Key("name", kind=str),)}
    default_ordering = "name"
    serializer_class = ArrayOut

    @extend_schema(responses=ArrayOut(many=True))
    def list(self, request):
        """The configured arrays (dashboard admins; an empty list for others: arrays serve every tenant)."""
        page = self.paginate_queryset(Array.objects.restrict(scope_of(request.user)))
        return self.get_paginated_response(
            ArrayOut(
                [
                    {
                        "name": a.name,
                        "kind": a.kind,
                        "endpoint": f"{a.scheme}://{a.host}" + (f":{a.port}" if a.port else ""),
                        "enabled": a.enabled,
                    }
                    for a in page
                ],
                many=True,
            ).data
        )


class BackendViewSet(viewsets.GenericViewSet):
    orderings = {"name": (Key("cluster", kind=str), Key("name", kind=str), Key("uuid", kind=str))}
    default_ordering = "name"
    serializer_class = BackendOut

    @extend_schema(parameters=[params.CLUSTER, params.AS_OF], responses=BackendOut(many=True))
    def list(self, request):
        """Each cluster's Trident backends, the array each links to and where its access control was
        read from (as the arrays and backends page shows them: a tenant sees the backends that hold
        their volumes)."""
        scope = scope_of(request.user)
        rows = []
        for snapshot in params.snapshots(request, scope, params.clusters(request, scope)):
            for row in backend_rows(snapshot, scope, volumes_held(snapshot, scope)):
                shown = {**row, "name": str(row.get("name") or ""), "uuid": str(row["uuid"])}
                rows.append({**shown, "cluster": snapshot.cluster.name, "snapshot": snapshot.pk})
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(BackendOut(page, many=True).data)
