from django.contrib import admin

from .models import Array, Cluster, Grant, Snapshot


@admin.register(Cluster)
class ClusterAdmin(admin.ModelAdmin):
    list_display = ("name", "source", "interval_minutes", "tenant_label", "enabled")
    fields = (
        "name",
        "source",
        "kubeconfig_path",
        "context",
        "interval_minutes",
        "tenant_label",
        "owner_keys",
        "platform_namespaces",
        "kubelet_root",
        "enabled",
    )


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = ("cluster", "seq", "status", "origin", "taken_at", "duration_seconds")
    list_filter = ("cluster", "status", "origin")

    def has_add_permission(self, request):
        return False  # snapshots are taken, not typed in

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ("__str__", "cluster", "namespace", "tenant")
    list_filter = ("cluster",)


@admin.register(Array)
class ArrayAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "host", "port", "verify_tls", "enabled")
    fields = (
        "name",
        "kind",
        "host",
        "port",
        "scheme",
        "ca_bundle",
        "verify_tls",
        "credentials",
        "trident_addresses",
        "trident_backends",
        "clusters",
        "enabled",
    )
    filter_horizontal = ("clusters",)
