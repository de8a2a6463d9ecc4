"""Read-side queries over the versioned inventory, shared by pages, exports and (later) the API."""

from django.db.models import Count

from .access import granted_namespaces, is_admin, tenant_of
from .exposure import EXPOSURE_PATHS
from .findings import SUPPRESSED, by_status, in_namespace, summary, with_suppression
from .models import Finding, InventoryObject, NamespaceStatus, Snapshot
from .rules import SEVERITIES, SEVERITY_RANK
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
        elif backend.get("unread"):  # a dump without this backend's array answers
            status = f"array not read: {backend['unread']}"
        else:
            status = "array not read (not configured)"
        rows.append({**backend, "uuid": uuid, "status": status})
    return rows


def current_grades(cluster) -> dict[str, NamespaceStatus]:
    """namespace -> its current grade and open-violation counts ("" is the cluster as a whole)."""
    return {s.namespace: s for s in NamespaceStatus.objects.filter(cluster=cluster, valid_to=None)}


def namespace_exposure(snapshot: Snapshot, namespace: str) -> dict:
    """The namespace's grade, its findings (open and suppressed first, then resolved) and every exposure
    path into its data as of `snapshot` (inside its tenant and from platform workloads included)."""
    findings = in_namespace(with_suppression(Finding.objects.filter(cluster=snapshot.cluster)), namespace)
    items = sorted(
        (summary(f) for f in findings.select_related("cluster")),
        key=lambda f: (f["status"] == "resolved", f["status"] == SUPPRESSED, -SEVERITY_RANK[f["severity"]]),
    )
    record = (
        InventoryObject.objects.as_of(snapshot)
        .filter(scope=DERIVED_SCOPE, kind=EXPOSURE_PATHS, namespace=namespace)
        .values_list("data", flat=True)
        .first()
    )
    paths = (record or {}).get("paths") or []
    status = NamespaceStatus.objects.filter(
        cluster=snapshot.cluster, namespace=namespace, valid_to=None
    ).first()
    return {
        "grade": status.grade if status else "",
        "grade_counts": status.counts if status else {},
        "grade_since": status.valid_from_at if status else None,
        "findings": items,
        "outside_paths": [p for p in paths if not (p["inside_tenant"] or p["platform"])],
        "other_paths": [p for p in paths if p["inside_tenant"] or p["platform"]],
    }


def open_finding_counts(cluster, user) -> list[tuple[str, int]]:
    """(severity, open unsuppressed findings) worst first, over what `user` may see of `cluster`."""
    findings = by_status(Finding.objects.filter(cluster=cluster), "open")
    if not is_admin(user):
        visible = granted_namespaces(user).get(cluster.pk, set())
        findings = findings.filter(attributions__namespace__in=sorted(visible)).distinct()
    counted = dict(findings.order_by().values_list("severity").annotate(n=Count("pk", distinct=True)))
    return [(severity, counted[severity]) for severity in reversed(SEVERITIES) if counted.get(severity)]
