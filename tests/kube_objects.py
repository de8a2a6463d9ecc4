"""Small, well-formed Kubernetes objects for the wire-format tests (not the simulator's cluster)."""

from inventory.kinds import KINDS, KindInfo

CREATED = "2026-01-05T10:00:00Z"
_POD = next(info for info in KINDS if info.kind == "Pod")


def make_object(info: KindInfo, name: str, namespace: str | None = None, labels: dict | None = None) -> dict:
    metadata = {
        "name": name,
        "uid": f"uid-{info.plural}-{namespace or ''}-{name}",
        "resourceVersion": "100",
        "creationTimestamp": CREATED,
        "labels": labels or {},
    }
    if info.namespaced:
        metadata["namespace"] = namespace or "default"
    obj = {"apiVersion": info.api_version, "kind": info.kind, "metadata": metadata}
    if info.kind == "Namespace":
        obj["status"] = {"phase": "Active"}
    if info.kind in ("RoleBinding", "ClusterRoleBinding"):
        obj["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"}
    return obj


def make_pod(namespace: str, name: str, labels: dict | None = None, node: str = "node-1") -> dict:
    """A pod of about 3 KB of JSON, shaped like a real controller-made one."""
    pod = make_object(_POD, name, namespace, labels or {"app": name.rsplit("-", 1)[0]})
    pod["metadata"]["ownerReferences"] = [
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "name": f"{name}-rs",
            "uid": f"rs-{namespace}-{name}",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    pod["spec"] = {
        "nodeName": node,
        "serviceAccountName": "default",
        "restartPolicy": "Always",
        "containers": [
            {
                "name": "app",
                "image": "registry.example.com/team/app:1.2.3",
                "env": [{"name": f"SETTING_{i}", "value": f"value-{i}-{namespace}"} for i in range(16)],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
                "volumeMounts": [
                    {"name": "data", "mountPath": "/data"},
                    {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"},
                ],
                "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False},
            }
        ],
        "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data"}},
            {
                "name": "kube-api-access",
                "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]},
            },
        ],
        "tolerations": [
            {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
        ],
    }
    pod["status"] = {
        "phase": "Running",
        "hostIP": "10.0.0.11",
        "podIP": "10.244.1.23",
        "startTime": CREATED,
        "conditions": [
            {"type": kind, "status": "True", "lastTransitionTime": CREATED}
            for kind in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
        ],
        "containerStatuses": [
            {
                "name": "app",
                "ready": True,
                "restartCount": 0,
                "image": "registry.example.com/team/app:1.2.3",
                "imageID": "registry.example.com/team/app@sha256:" + "0" * 64,
                "containerID": "containerd://" + "1" * 64,
                "state": {"running": {"startedAt": CREATED}},
            }
        ],
    }
    return pod


def every_kind(per_kind: int = 2) -> dict[str, list[dict]]:
    """`per_kind` objects of every kind the product reads, in two namespaces for namespaced kinds."""
    objects = {}
    for info in KINDS:
        if info.kind == "Namespace":
            objects[info.kind] = [make_object(info, f"ns-{i}") for i in range(max(per_kind, 2))]
        elif info.kind == "Pod":
            objects[info.kind] = [make_pod(f"ns-{i % 2}", f"pods-{i}") for i in range(per_kind)]
        else:
            namespaces = [f"ns-{i % 2}" if info.namespaced else None for i in range(per_kind)]
            objects[info.kind] = [
                make_object(info, f"{info.plural}-{i}", ns) for i, ns in enumerate(namespaces)
            ]
    return objects


def secret(namespace: str, name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": CREATED},
        "type": "Opaque",
        "data": {"password": "c3VwZXItc2VjcmV0"},
    }
