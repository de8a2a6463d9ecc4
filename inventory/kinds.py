"""The Kubernetes kinds the product reads, and where each lives in the API.

One registry shared by the live source, the offline importer and the simulator, so
that "which kinds a snapshot must contain" is written down once.  Secrets are
deliberately absent: the product never lists them.
"""

from dataclasses import dataclass

TRIDENT_GROUP = "trident.netapp.io"


@dataclass(frozen=True)
class KindInfo:
    kind: str  # as in an object's "kind" field
    group: str  # "" for the core API group
    version: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_path(self) -> str:
        """Cluster-wide list path (all namespaces)."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        return f"{prefix}/{self.plural}"

    @property
    def is_trident(self) -> bool:
        return self.group == TRIDENT_GROUP


def _core(kind, plural, namespaced=True):
    return KindInfo(kind, "", "v1", plural, namespaced)


def _group(kind, group, plural, namespaced=True, version="v1"):
    return KindInfo(kind, group, version, plural, namespaced)


def _trident(kind, plural):
    return KindInfo(kind, TRIDENT_GROUP, "v1", plural, True)


KINDS: tuple[KindInfo, ...] = (
    _core("Namespace", "namespaces", namespaced=False),
    _core("Node", "nodes", namespaced=False),
    _core("PersistentVolume", "persistentvolumes", namespaced=False),
    _core("PersistentVolumeClaim", "persistentvolumeclaims"),
    _core("Pod", "pods"),
    _group("StorageClass", "storage.k8s.io", "storageclasses", namespaced=False),
    _group("NetworkPolicy", "networking.k8s.io", "networkpolicies"),
    _group("Role", "rbac.authorization.k8s.io", "roles"),
    _group("ClusterRole", "rbac.authorization.k8s.io", "clusterroles", namespaced=False),
    _group("RoleBinding", "rbac.authorization.k8s.io", "rolebindings"),
    _group("ClusterRoleBinding", "rbac.authorization.k8s.io", "clusterrolebindings", namespaced=False),
    _trident("TridentBackendConfig", "tridentbackendconfigs"),
    _trident("TridentBackend", "tridentbackends"),
    _trident("TridentVolume", "tridentvolumes"),
    _trident("TridentNode", "tridentnodes"),
    _trident("TridentVolumePublication", "tridentvolumepublications"),
    _trident("TridentVolumeReference", "tridentvolumereferences"),
    _trident("TridentVersion", "tridentversions"),
    _trident("TridentStorageClass", "tridentstorageclasses"),
)

BY_KIND: dict[str, KindInfo] = {k.kind: k for k in KINDS}
KIND_NAMES: tuple[str, ...] = tuple(k.kind for k in KINDS)
TRIDENT_KINDS: tuple[str, ...] = tuple(k.kind for k in KINDS if k.is_trident)

# Kinds that must never be stored, even if a dump or a misbehaving server hands them over.
FORBIDDEN_KINDS = frozenset({"Secret"})
