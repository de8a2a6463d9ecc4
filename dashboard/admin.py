from collections import Counter

from django import forms
from django.contrib import admin
from django.db import router
from django.db.models.deletion import Collector, ProtectedError
from django.utils.text import capfirst

from arrays.models import Array
from exposure.models import Finding, RuleSetting, Suppression
from exposure.rules import ALL_RULES
from inventory.models import Cluster, Snapshot
from tenancy.access import namespace_tenants
from tenancy.boundaries import SOLO_PREFIX
from tenancy.models import Grant, NamespaceOwner


class CountedDeletion:
    """The delete confirmation counts what goes with the object, model by model, instead of listing
    every row: a cluster's history holds hundreds of thousands of rows at scale (Django's listing
    loads and renders each one), a cluster-wide finding one attribution per namespace.  The counts
    come from the collector the deletion itself uses, which loads no row it can delete by query."""

    def get_deleted_objects(self, objs, request):
        objs = list(objs)
        collector = Collector(using=router.db_for_write(self.model), origin=objs)
        try:
            collector.collect(objs)
        except ProtectedError as error:  # nothing of ours protects; shown as Django shows it
            return [], {}, set(), [str(obj) for obj in error.protected_objects]
        counts = Counter()
        for model, instances in collector.data.items():
            counts[model] += len(instances)
        for queryset in collector.fast_deletes:
            counts[queryset.model] += queryset.count()
        counts = {model: n for model, n in counts.items() if n}
        perms_needed = {
            model._meta.verbose_name
            for model in counts
            if self.admin_site.is_registered(model)
            and not self.admin_site.get_model_admin(model).has_delete_permission(request)
        }
        listed = [f"{capfirst(self.model._meta.verbose_name)}: {obj}" for obj in objs]
        listed += [
            f"{n:,} {model._meta.verbose_name_plural}"
            for model, n in counts.items()
            if model is not self.model
        ]
        return listed, {model._meta.verbose_name_plural: n for model, n in counts.items()}, perms_needed, []


class RuleSettingInline(admin.TabularInline):
    """Per cluster: another severity for a rule, or the rule off."""

    model = RuleSetting
    extra = 0

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "rule":
            return forms.ChoiceField(choices=[(r.slug, r.slug) for r in ALL_RULES])
        return super().formfield_for_dbfield(db_field, request, **kwargs)


class NamespaceOwnerInline(admin.TabularInline):
    """Owners declared by hand: for a namespace that has any, they replace what the cluster says."""

    model = NamespaceOwner
    extra = 0


@admin.register(Cluster)
class ClusterAdmin(CountedDeletion, admin.ModelAdmin):
    list_display = (
        "name",
        "source",
        "interval_minutes",
        "tenant_label",
        "storage_network_firewalled",
        "enabled",
    )
    fieldsets = (
        (None, {"fields": ("name", "source", "kubeconfig_path", "context", "interval_minutes", "enabled")}),
        (
            "Trust inputs (read from Namespace objects only)",
            {"fields": ("tenant_label", "owner_keys", "owner_label_trust")},
        ),
        (
            "Platform and identities",
            {
                "fields": (
                    "platform_namespaces",
                    "platform_service_accounts",
                    "cluster_admins",
                    "identity_mapping",
                    "storage_drivers",
                    "kubelet_root",
                    "pod_security_default",
                )
            },
        ),
        ("Attestations", {"fields": ("storage_network_firewalled", "firewall_attestation")}),
    )
    inlines = (RuleSettingInline, NamespaceOwnerInline)


@admin.register(Snapshot)
class SnapshotAdmin(admin.ModelAdmin):
    list_display = ("cluster", "seq", "status", "origin", "taken_at", "duration_seconds")
    list_filter = ("cluster", "status", "origin")

    def has_add_permission(self, request):
        return False  # snapshots are taken, not typed in

    def has_change_permission(self, request, obj=None):
        return False


class GrantForm(forms.ModelForm):
    """Offers the namespaces and tenants each cluster has (as of its latest snapshot), so that a grant
    never names something that silently matches nothing."""

    namespace = forms.ChoiceField(
        required=False, help_text="One namespace; or leave empty and pick a tenant."
    )
    tenant = forms.ChoiceField(
        required=False, help_text="Every namespace whose tenant label (the cluster's setting) has this value."
    )

    class Meta:
        model = Grant
        fields = ("user", "group", "cluster", "namespace", "tenant")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.known = {cluster.pk: namespace_tenants(cluster) for cluster in Cluster.objects.all()}
        names = {cluster.pk: cluster.name for cluster in Cluster.objects.all()}
        namespaces = [("", "---------")]
        tenants = [("", "---------")]
        for cluster_id, by_namespace in sorted(self.known.items(), key=lambda item: names[item[0]]):
            namespaces.append((names[cluster_id], [(n, n) for n in sorted(by_namespace)]))
            labelled = sorted({t for t in by_namespace.values() if not t.startswith(SOLO_PREFIX)})
            tenants.append((names[cluster_id], [(t, t) for t in labelled]))
        self.fields["namespace"].choices = namespaces
        self.fields["tenant"].choices = tenants

    def clean(self):
        data = super().clean()
        cluster, namespace, tenant = data.get("cluster"), data.get("namespace"), data.get("tenant")
        if bool(namespace) == bool(tenant):
            raise forms.ValidationError("Name either one namespace or one tenant.")
        if cluster is None:
            return data
        known = self.known.get(cluster.pk, {})
        if namespace and namespace not in known:
            self.add_error("namespace", f"cluster {cluster.name} has no namespace {namespace!r}")
        if tenant and tenant not in known.values():
            self.add_error("tenant", f"no namespace of cluster {cluster.name} belongs to tenant {tenant!r}")
        return data


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    form = GrantForm
    list_display = ("__str__", "cluster", "namespace", "tenant")
    list_select_related = ("user", "group", "cluster")  # __str__ names them: not a query per row
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


class SuppressionInline(admin.TabularInline):
    model = Suppression
    extra = 0
    fields = ("reason", "expires_at", "evidence_key", "created_by", "created_at", "lifted_at")
    readonly_fields = ("evidence_key", "created_by", "created_at")

    def has_add_permission(self, request, obj=None):
        return False  # `manage.py suppress` records the evidence it accepts; here they can be lifted


@admin.register(Finding)
class FindingAdmin(CountedDeletion, admin.ModelAdmin):
    """Findings are computed, never typed in; their suppressions are listed (and may be lifted) here."""

    list_display = ("rule", "severity", "status", "cluster", "title", "first_seen", "resolved_at")
    list_filter = ("cluster", "status", "severity", "rule")
    search_fields = ("title",)
    inlines = (SuppressionInline,)
    exclude = ("paths",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Finding._meta.fields if f.name != "paths"]

    def has_add_permission(self, request):
        return False
