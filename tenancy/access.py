"""Who may see which namespaces: `scope_of(user)`, the one scoping mechanism every page, export, API
view and digest goes through (with `.restrict(scope)` on every model, and tenancy/redaction.py).

Admins (superusers, or holders of the `tenancy.view_all_namespaces` permission) see everything;
being staff is not enough.  Everyone else sees exactly the namespaces granted to them or to one of
their groups, by namespace name or by tenant, and the namespaces they own (tenancy/ownership.py:
owner keys on Namespace objects, admin RoleBindings, the manual mapping).  A tenant is what
`tenancy.boundaries.tenant_of_namespace` says, read from the latest visible snapshot's Namespace
objects: the same definition the rules use.
"""

from collections import defaultdict

from django.db.models import Q

from inventory.models import Cluster, InventoryObject, Snapshot
from tenancy.boundaries import tenant_of_namespace
from tenancy.models import Grant
from tenancy.ownership import Owner, owned_namespaces, owned_namespaces_of_address
from tenancy.scope import Scope
from tenancy.snapshot_cache import derived, latest_visible

ADMIN_PERMISSION = "tenancy.view_all_namespaces"
_CACHE_ATTRIBUTE = "_dashboard_scope"  # one computation per request (request.user lives as long)


def is_admin(user) -> bool:
    return bool(
        user
        and user.is_authenticated
        and user.is_active
        and (user.is_superuser or user.has_perm(ADMIN_PERMISSION))
    )


def namespace_tenants(cluster: Cluster, names=None) -> dict[str, str]:
    """namespace -> tenant, as of the cluster's latest visible snapshot (never one still being written);
    of `names` only when given (a reader's own few, not every namespace of a large cluster)."""
    latest = latest_visible(cluster)  # its identity, not its facts (a large document)
    if latest is None:
        return {}

    def read(only=None) -> dict[str, str]:
        namespaces = InventoryObject.objects.as_of(Snapshot(cluster_id=cluster.pk, seq=latest["seq"]))
        namespaces = namespaces.filter(scope="", kind="Namespace")
        if only is not None:
            namespaces = namespaces.filter(name__in=sorted(only))
        return {
            name: tenant_of_namespace(name, data, cluster.tenant_label)
            for name, data in namespaces.values_list("name", "data")
        }

    if names is not None:
        return read(names)
    # Every namespace's: what a tenant grant asks on every page; the tenant label is the cluster's
    # setting, changed without a snapshot, so it is part of the key.
    return derived(cluster, latest, f"namespace-tenants|{cluster.tenant_label}", read)


def granted_namespaces(user) -> dict[int, set[str]]:
    """cluster id -> namespace names the (non-admin) user may see: grants and ownership."""
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
    for cluster in Cluster.objects.all():
        visible[cluster.pk] |= owned_namespaces(user, cluster)
    for cluster_id, tenants in tenants_by_cluster.items():
        for namespace, tenant in namespace_tenants(clusters[cluster_id]).items():
            if tenant in tenants:
                visible[cluster_id].add(namespace)
    return {cluster_id: names for cluster_id, names in visible.items() if names}


def scope_of(user) -> Scope:
    """What `user` may see; computed once per user object (a request's user)."""
    cached = getattr(user, _CACHE_ATTRIBUTE, None)
    if cached is not None:
        return cached
    if is_admin(user):
        scope = Scope.everything(who=user.get_username())
    elif user is not None and user.is_authenticated and user.is_active:
        scope = Scope(
            namespaces={cid: frozenset(names) for cid, names in granted_namespaces(user).items()},
            who=user.get_username(),
        )
    else:
        scope = Scope.nothing()
    if user is not None:
        setattr(user, _CACHE_ATTRIBUTE, scope)
    return scope


def ownership_scope(
    user=None, *, address: str = "", owners: dict[Cluster, dict[str, list[Owner]]] | None = None
) -> Scope:
    """Exactly the namespaces an active account (`user`) or a bare email `address` owns, across
    clusters: what an owner's digest covers.  For an account it is a part of `scope_of(user)` (the
    owned namespaces, without what grants add); for an address, what the owner keys and manual owners
    name it owner of.  `owners`: each cluster's `owners_of`, read once by a caller asking for many."""
    if user is not None and not (user.is_authenticated and user.is_active):
        return Scope.nothing(who=user.get_username())
    if owners is None:
        owners = {cluster: None for cluster in Cluster.objects.all()}
    namespaces = {}
    for cluster, found in owners.items():
        if user is not None:
            names = owned_namespaces(user, cluster, found)
        else:
            names = owned_namespaces_of_address(address, cluster, found)
        if names:
            namespaces[cluster.pk] = frozenset(names)
    return Scope(namespaces=namespaces, who=user.get_username() if user is not None else address)
