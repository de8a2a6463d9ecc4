"""Read-side queries over the versioned inventory, shared by pages, exports and (later) the API."""

from collections import Counter

from .access import granted_namespaces, is_admin, tenant_of
from .models import InventoryObject, Snapshot


def namespace_rows(snapshot: Snapshot, user) -> list[dict]:
    """The namespaces of `snapshot` the user may see, with their tenant and object counts."""
    cluster = snapshot.cluster
    state = InventoryObject.objects.as_of(snapshot)
    namespaces = state.filter(kind="Namespace")
    if not is_admin(user):
        namespaces = namespaces.filter(name__in=granted_namespaces(user).get(cluster.pk, set()))
    names = {}
    for ns in namespaces.only("name", "data"):
        names[ns.name] = ns
    counts = Counter(
        state.filter(namespace__in=list(names), kind__in=["PersistentVolumeClaim", "Pod"]).values_list(
            "namespace", "kind"
        )
    )
    return [
        {
            "name": name,
            "tenant": tenant_of(ns.data, cluster),
            "created": (ns.data.get("metadata") or {}).get("creationTimestamp"),
            "pvcs": counts[(name, "PersistentVolumeClaim")],
            "pods": counts[(name, "Pod")],
        }
        for name, ns in sorted(names.items())
    ]


def namespace_contents(snapshot: Snapshot, namespace: str) -> dict:
    """PVCs, the PVs bound to them, and pods of one namespace as of `snapshot`."""
    state = InventoryObject.objects.as_of(snapshot)
    pvcs = list(state.filter(kind="PersistentVolumeClaim", namespace=namespace).order_by("name"))
    pvs = list(
        state.filter(kind="PersistentVolume", data__spec__claimRef__namespace=namespace).order_by("name")
    )
    pods = list(state.filter(kind="Pod", namespace=namespace).order_by("name"))
    return {"pvcs": pvcs, "pvs": pvs, "pods": pods}
