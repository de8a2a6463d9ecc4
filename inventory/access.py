"""Who may see which namespaces: the one scoping mechanism every page, export, API view and
digest goes through.

Admins (staff) see everything.  Everyone else sees exactly the namespaces granted to them or
to one of their groups, by namespace name or by tenant, and the namespaces they own
(inventory/ownership.py: owner keys on Namespace objects, admin RoleBindings, the manual mapping).
Tenancy is read from the current Namespace objects under the cluster's admin-declared tenant
label, never from tenant-editable objects.
"""

from collections import defaultdict

from django.db.models import Q

from .models import Cluster, Grant, InventoryObject
from .ownership import owned_namespaces


def is_admin(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)


def tenant_of(namespace_object_data: dict, cluster: Cluster) -> str:
    """The tenant a Namespace belongs to: its tenant label's value, else the namespace itself."""
    metadata = namespace_object_data.get("metadata", {})
    if cluster.tenant_label:
        value = (metadata.get("labels") or {}).get(cluster.tenant_label)
        if value:
            return value
    return metadata.get("name", "")


def granted_namespaces(user) -> dict[int, set[str]]:
    """cluster id -> namespace names the (non-admin) user may see."""
    if not (user and user.is_authenticated and user.is_active):
        return {}
    grants = Grant.objects.filter(Q(user=user) | Q(group__in=user.groups.all())).select_related("cluster")
    visible: dict[int, set[str]] = defaultdict(set)
    tenants_by_cluster: dict[int, set[str]] = defaultdict(set)
    clusters: dict[int, Cluster] = {}
    for grant in grants:
        if grant.namespace:
            visible[grant.cluster_id].add(grant.namespace)
        else:
            tenants_by_cluster[grant.cluster_id].add(grant.tenant)
            clusters[grant.cluster_id] = grant.cluster
    for cluster in Cluster.objects.all():  # owners see the namespaces they own (inventory/ownership.py)
        visible[cluster.pk] |= owned_namespaces(user, cluster)
    for cluster_id, tenants in tenants_by_cluster.items():
        cluster = clusters[cluster_id]
        latest = cluster.latest_visible_snapshot()  # never the rows of a snapshot still being written
        if latest is None:
            continue
        namespaces = (
            InventoryObject.objects.as_of(latest).filter(scope="", kind="Namespace").only("name", "data")
        )
        for ns in namespaces:
            if tenant_of(ns.data, cluster) in tenants:
                visible[cluster_id].add(ns.name)
    return {cluster_id: names for cluster_id, names in visible.items() if names}


def namespace_filter_for(user, field_prefix: str = "") -> Q:
    """A Q object restricting any model with `<prefix>cluster` and `<prefix>namespace` fields."""
    if is_admin(user):
        return Q()
    q = Q(pk__in=[])  # nothing, unless granted
    for cluster_id, namespaces in granted_namespaces(user).items():
        q |= Q(
            **{f"{field_prefix}cluster_id": cluster_id, f"{field_prefix}namespace__in": sorted(namespaces)}
        )
    return q


def visible_clusters(user):
    if is_admin(user):
        return Cluster.objects.all()
    return Cluster.objects.filter(pk__in=list(granted_namespaces(user)))
