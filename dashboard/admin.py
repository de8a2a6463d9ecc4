"""The admin site's tables.  Configuration (clusters, grants, arrays, rule settings) is edited here;
what the snapshots recorded (snapshots, inventory, findings with their events and suppressions) is
only viewed: it is never added, changed or deleted one row at a time, and goes only with its cluster.
A finding changes through suppress and lift on its page, which record the event."""

import json
from collections import Counter, defaultdict

from django import forms
from django.contrib import admin
from django.db import router
from django.db.models import CASCADE, PROTECT, RESTRICT, Q
from django.db.models.deletion import Collector, ProtectedError, get_candidate_relations_to_delete
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import capfirst

from arrays.models import Array
from dashboard.snapshot_history import with_analysis
from exposure.models import Finding, FindingEvent, RuleSetting, Suppression
from exposure.rules import ALL_RULES
from inventory.models import Cluster, InventoryObject, Snapshot
from tenancy.access import namespace_tenants
from tenancy.boundaries import SOLO_PREFIX
from tenancy.models import Grant, NamespaceOwner


class CountedDeletion:
    """The delete confirmation counts what goes with the object, model by model, instead of listing
    every row: a cluster's history holds hundreds of thousands of rows at scale (Django's listing
    loads and renders each one, and even its collector loads every finding to find their events).
    Each model reached by cascade is counted by one COUNT joined along the cascade's foreign keys,
    never loading a row.  A relation that protects (none of ours does) is left to Django's collector,
    which says what stands in the way."""

    def get_deleted_objects(self, objs, request):
        objs = list(objs)
        paths = cascade_paths(self.model)
        if paths is None:
            return self._collected_deletion(objs, request)
        pks = [obj.pk for obj in objs]
        counts = {self.model: len(objs)}
        for model, lookups in paths.items():
            matches = Q()
            for lookup in lookups:
                matches |= Q(**{f"{lookup}__in": pks})
            counts[model] = model._base_manager.filter(matches).count()
        return self._confirmation(objs, {model: n for model, n in counts.items() if n}, request)

    def _collected_deletion(self, objs, request):
        collector = Collector(using=router.db_for_write(self.model), origin=objs)
        try:
            collector.collect(objs)
        except ProtectedError as error:
            return [], {}, set(), [str(obj) for obj in error.protected_objects]
        counts = Counter()
        for model, instances in collector.data.items():
            counts[model] += len(instances)
        for queryset in collector.fast_deletes:
            counts[queryset.model] += queryset.count()
        return self._confirmation(objs, {model: n for model, n in counts.items() if n}, request)

    def _confirmation(self, objs, counts: dict, request):
        perms_needed = {
            model._meta.verbose_name
            for model in counts
            if self.admin_site.is_registered(model)
            and not self.admin_site.get_model_admin(model).has_delete_permission(request)
        }
        listed = [f"{capfirst(self.model._meta.verbose_name)}: {obj}" for obj in objs]
        listed += [
            f"{capfirst(model._meta.verbose_name_plural)}: {n:,}"
            for model, n in counts.items()
            if model is not self.model
        ]
        return listed, {model._meta.verbose_name_plural: n for model, n in counts.items()}, perms_needed, []


def cascade_paths(model, path: str = "pk", seen: tuple = ()) -> dict | None:
    """Each model whose rows a deletion of `model`'s rows takes by cascade -> the lookups from it
    back to `model`'s primary key (a model reached along two paths goes if either matches); None
    when a relation protects.  Relations that set null or do nothing take no row."""
    found: dict = defaultdict(list)
    for relation in get_candidate_relations_to_delete(model._meta):
        on_delete = relation.field.remote_field.on_delete
        if on_delete in (PROTECT, RESTRICT):
            return None
        related = relation.related_model
        if on_delete is not CASCADE or related in seen:  # a cycle: the rows are counted once already
            continue
        lookup = f"{relation.field.name}__{path}"
        found[related].append(lookup)
        further = cascade_paths(related, lookup, (*seen, model))
        if further is None:
            return None
        for reached, lookups in further.items():
            found[reached] += lookups
    return dict(found)


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


def pretty_json(value) -> str:
    """A JSON value readable: indented, keys sorted, every character escaped."""
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return format_html("<pre>{}</pre>", text)


def _json_display(name: str):
    @admin.display(description=name.replace("_", " "))
    def shown(self, obj):
        return pretty_json(getattr(obj, name))

    return shown


# Deleting a cluster (its page's delete button, or the clusters list's action) takes its history.
CLUSTER_DELETION = {"inventory_cluster_delete", "inventory_cluster_changelist"}


def deleting_a_cluster(request) -> bool:
    match = getattr(request, "resolver_match", None)
    return match is not None and match.url_name in CLUSTER_DELETION


class RecordedAdmin(admin.ModelAdmin):
    """What a snapshot recorded: viewed (JSON fields pretty and escaped), never added, changed or
    deleted on its own."""

    json_fields: tuple[str, ...] = ()
    extra_fields: tuple[str, ...] = ()  # read-only displays shown after the fields

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name in cls.json_fields:
            setattr(cls, f"{name}_shown", _json_display(name))

    def get_fields(self, request, obj=None):
        plain = [f.name for f in self.model._meta.fields if f.name not in self.json_fields and f.name != "id"]
        return plain + [f"{name}_shown" for name in self.json_fields] + list(self.extra_fields)

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return deleting_a_cluster(request) and super().has_delete_permission(request, obj)


class RecordedInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return deleting_a_cluster(request) and super().has_delete_permission(request, obj)


@admin.register(Snapshot)
class SnapshotAdmin(RecordedAdmin):
    list_display = (
        "__str__",
        "taken_at",
        "status",
        "origin",
        "duration_seconds",
        "objects",
        "not_read",
        "analysis",
    )
    list_filter = ("cluster", "status", "origin")
    list_select_related = ("cluster",)
    date_hierarchy = "taken_at"
    json_fields = ("counts", "unread", "rows_written", "warnings", "facts")

    def get_queryset(self, request):
        # The list shows a few facts of the analysis, not the facts (large at scale).
        return with_analysis(super().get_queryset(request))

    @admin.display(description="objects read")
    def objects(self, obj):
        return sum(n for n in (obj.counts or {}).values() if isinstance(n, int))

    @admin.display(description="not read")
    def not_read(self, obj):
        return len(obj.unread or {}) or ""

    @admin.display(description="analysis")
    def analysis(self, obj):
        if obj.analysis_error:
            return "failed"
        failed = obj.analysis_failed if isinstance(obj.analysis_failed, dict) else {}
        return f"rules failed: {', '.join(sorted(failed))}" if failed else ""


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


class SuppressionInline(RecordedInline):
    """Suppressions are made and lifted on the finding's page (or `manage.py suppress`), which record
    the event in the finding's history."""

    model = Suppression
    fields = ("reason", "expires_at", "evidence_key", "created_by", "created_at", "lifted_at")
    readonly_fields = fields


class FindingEventInline(RecordedInline):
    model = FindingEvent
    fields = ("at", "seq", "kind", "detail_shown")
    readonly_fields = fields
    ordering = ("at", "pk")
    detail_shown = _json_display("detail")


@admin.register(Finding)
class FindingAdmin(RecordedAdmin):
    """Findings are computed, never typed in: viewed here with their history; suppressed and lifted on
    the finding's own page."""

    list_display = ("rule", "severity", "status", "cluster", "title", "first_seen", "resolved_at")
    list_filter = ("cluster", "status", "severity", "rule")
    list_select_related = ("cluster",)
    search_fields = ("title", "fingerprint")
    json_fields = ("namespaces", "identity", "evidence", "refs", "depends", "paths")
    extra_fields = ("suppress_or_lift",)
    inlines = (SuppressionInline, FindingEventInline)

    @admin.display(description="suppress or lift")
    def suppress_or_lift(self, obj):
        return format_html('<a href="{}">on the finding\'s page</a>', reverse("finding", args=[obj.pk]))


@admin.register(InventoryObject)
class InventoryObjectAdmin(RecordedAdmin):
    """The versioned inventory, one row per version (valid from / to in snapshot numbers)."""

    list_display = ("__str__", "cluster", "scope", "kind", "namespace", "name", "valid_from", "valid_to")
    list_filter = ("cluster", "kind")
    list_select_related = ("cluster",)
    search_fields = ("name", "namespace")
    show_full_result_count = False  # millions of rows at scale: no second count
    json_fields = ("data",)
