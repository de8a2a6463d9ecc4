"""Read-side queries over the versioned inventory, shared by pages, exports and (later) the API."""

from django.db.models import Count

from .access import granted_namespaces, is_admin, tenant_of
from .models import InventoryObject, Snapshot
from .storage.state import DERIVED_SCOPE
from .volume_access import INLINE_VOLUME_ACCESS, VOLUME_ACCESS


def namespace_rows(snapshot: Snapshot, user) -> list[dict]:
    """The namespaces of `snapshot` the user may see, with their tenant and object counts."""
    cluster = snapshot.cluster
    state = InventoryObject.objects.as_of(snapshot).filter(scope="")
    namespaces = state.filter(kind="Namespace")
    if not is_admin(user):
        namespaces = namespaces.filter(name__in=granted_namespaces(user).get(cluster.pk, set()))
    names = {ns.name: ns for ns in namespaces.only("name", "data")}
    # Counted by the database: a large cluster has a hundred thousand pods.
    counted = (
        state.filter(namespace__in=list(names), kind__in=["PersistentVolumeClaim", "Pod"])
        .values_list("namespace", "kind")
        .annotate(n=Count("pk"))
    )
    counts = {(namespace, kind): n for namespace, kind, n in counted}
    return [
        {
            "name": name,
            "tenant": tenant_of(ns.data, cluster),
            "created": (ns.data.get("metadata") or {}).get("creationTimestamp"),
            "pvcs": counts.get((name, "PersistentVolumeClaim"), 0),
            "pods": counts.get((name, "Pod"), 0),
        }
        for name, ns in sorted(names.items())
    ]


def namespace_contents(snapshot: Snapshot, namespace: str) -> dict:
    """PVCs, the PVs claimed by them, pods, and each volume's access record, as of `snapshot`."""
    state = InventoryObject.objects.as_of(snapshot)
    kubernetes = state.filter(scope="")
    claimed = kubernetes.filter(kind="PersistentVolume", data__spec__claimRef__namespace=namespace)
    access = (
        state.filter(scope=DERIVED_SCOPE, kind__in=[VOLUME_ACCESS, INLINE_VOLUME_ACCESS], namespace=namespace)
        .order_by("kind", "name")
        .values_list("name", "data")
    )
    return {
        "pvcs": list(kubernetes.filter(kind="PersistentVolumeClaim", namespace=namespace).order_by("name")),
        "pvs": list(claimed.order_by("name")),
        "pods": list(kubernetes.filter(kind="Pod", namespace=namespace).order_by("name")),
        "volume_access": [{"name": name, **data} for name, data in access],
    }


def backend_rows(snapshot: Snapshot) -> list[dict]:
    """Each Trident backend of the snapshot and where its access control was read from."""
    rows = []
    backends = (snapshot.facts or {}).get("backends") or {}
    for uuid, backend in sorted(backends.items(), key=lambda item: item[1].get("name", "")):
        if backend.get("access_rules"):
            status = backend["access_rules"]
        elif backend.get("array"):
            failed = [key for key in snapshot.unread if key.startswith(f"{backend['array']}:")]
            status = f"read from {backend['array']}" + (
                f" ({len(failed)} collections not read)" if failed else ""
            )
        else:
            status = "array not read (not configured)"
        rows.append({**backend, "uuid": uuid, "status": status})
    return rows
