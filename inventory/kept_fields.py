"""What the inventory keeps of each Kubernetes object, and why.

Everything the rules in rules.md read is listed here, field by field, with the rules (or
purposes) it serves.  Anything not listed is never stored: that is how volatile fields
(resourceVersion, managedFields, heartbeats, pod IPs, container statuses) stay out of the
history, and how secret-bearing fields (the four CHAP values in a TridentVolume's
accessInformation, backend credentials, a SolidFire EndPoint with embedded password) never
reach the database.  Inside values kept whole (annotations, volumeAttributes, StorageClass
parameters, backend config) inventory/secrets.py drops whatever its key says may be a secret.

Path syntax: dotted keys; `key[]` maps over a list; `key{glob,!glob}` keeps only the matching
keys of a mapping (whole values).  Bump SCHEMA_VERSION whenever this file changes what is kept.
"""

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from sys import intern

import orjson

from inventory.secrets import LABEL_MAPS, might_hold_secrets, without_secrets

# 2: secrets judged by pattern (inventory/secrets.py); array records' odd shapes kept
# 3: a URL's credentials dropped up to the authority's last '@' (a password holding '@' left a piece)
SCHEMA_VERSION = 3

# Purposes that are not rules.
IDENTITY = "identity"  # naming the object, joins between objects
SINCE = "at-least-since"  # oldest creationTimestamp among a finding's objects
FINGERPRINT = "fingerprint"  # stable finding identity across rollouts
DISPLAY = "display"  # shown on pages; changes rarely
OWNERS = "ownership"  # namespace owners (issue: ownership)
TRUST = "trust-inputs"  # tenant label, owner keys, Pod Security labels on Namespaces
PLATFORM = "platform workloads"  # which pods are the platform's (by service account)
POD_VIEW = "pod views"  # what every rule's view of a pod holds (exposure/analysis/workloads.py)
# A field serving any of these may be read by every rule reading its kind (inventory/field_changes.py).
PURPOSES = frozenset({IDENTITY, SINCE, FINGERPRINT, DISPLAY, OWNERS, TRUST, PLATFORM, POD_VIEW})
# Read by the access records' derivation (arrays/volume_access.py), by no rule unless it names it too.
JOIN = "access records"
# The RBAC index (exposure/analysis/rbac.py) reads every role and binding for each of these.
_RBAC_RULES = (
    "pv-visible-to-non-admins",
    "pv-writable-by-non-admins",
    "tenant-has-cluster-scope",
    "namespace-labels-writable",
    "chap-secrets-readable",
)
# What node_mounts (exposure/analysis/workloads.py) reads: the volumes a node escape reaches.
_NODE_MOUNT_RULES = (
    "privileged-container",
    "host-path-volume",
    "host-namespace-escape",
    "uid-gid-not-a-boundary",
)


@dataclass(frozen=True)
class Field:
    path: str
    serves: tuple[str, ...]


def _f(path: str, *serves: str) -> Field:
    return Field(path, serves)


_META = (
    _f("metadata.name", IDENTITY),
    _f("metadata.namespace", IDENTITY),
    _f("metadata.uid", IDENTITY),
    _f("metadata.creationTimestamp", SINCE),
)

_CONTAINER_FIELDS = "{name,securityContext,volumeMounts,volumeDevices,ports}"
_CONTAINER_RULES = (
    "privileged-container",
    "host-namespace-escape",
    "uid-gid-not-a-boundary",
    "host-path-volume",
)

KEPT_FIELDS: dict[str, tuple[Field, ...]] = {
    "Namespace": _META
    + (
        _f("metadata.labels", TRUST, "namespace-admits-privileged", "storage-network-reachable", OWNERS),
        _f("metadata.annotations{!kubectl.kubernetes.io/last-applied-configuration}", TRUST, OWNERS),
        _f("status.phase", "pv-available-unclaimed"),
    ),
    "Node": _META
    + (
        _f("metadata.labels{node-role.kubernetes.io/*,kubernetes.io/hostname,kubernetes.io/os}", DISPLAY),
        _f(
            "status.addresses",
            IDENTITY,  # the node set (arrays/node_set.py): whom an array's access names
            "export-allows-foreign-hosts",
            "stale-node-access",
            "san-foreign-initiator",
            "host-network",
            "storage-network-reachable",
        ),
        _f("spec.podCIDR", IDENTITY, "auto-export-cidrs-open"),
        _f("spec.podCIDRs", IDENTITY, "auto-export-cidrs-open"),
    ),
    "PersistentVolume": _META
    + (
        _f("metadata.annotations{pv.kubernetes.io/*}", DISPLAY),
        _f("spec.claimRef{namespace,name,uid}", "pv-available-unclaimed", "pv-released-retained", IDENTITY),
        _f("spec.persistentVolumeReclaimPolicy", "pv-released-retained"),
        _f("spec.storageClassName", DISPLAY),
        _f("spec.accessModes", DISPLAY),
        _f("spec.volumeMode", DISPLAY),
        _f("spec.capacity", DISPLAY),
        _f("spec.mountOptions", "uid-gid-not-a-boundary"),
        _f(
            "spec.csi{driver,volumeHandle,volumeAttributes,readOnly,fsType}",
            "volume-shared-across-tenants",
            "orphaned-backend-volume",
            IDENTITY,
        ),
        _f(
            "spec.nfs",
            JOIN,
            "volume-shared-across-tenants",
            "export-allows-foreign-hosts",
            "inline-storage-volume",
            "storage-network-reachable",
        ),
        _f(
            "spec.iscsi{targetPortal,portals,iqn,lun,readOnly}",
            JOIN,
            "volume-shared-across-tenants",
            "san-foreign-initiator",
            "inline-storage-volume",
            "storage-network-reachable",
        ),
        _f(
            "spec.fc{targetWWNs,lun,wwids,readOnly}",
            "volume-shared-across-tenants",
            "san-foreign-initiator",
            "inline-storage-volume",
        ),
        _f("status.phase", "pv-available-unclaimed", "pv-released-retained", "orphaned-backend-volume"),
        _f("status.lastPhaseTransitionTime", "pv-released-retained"),
    ),
    "PersistentVolumeClaim": _META
    + (
        _f("metadata.annotations{trident.netapp.io/*}", "volume-shared-by-annotation"),
        _f("spec.volumeName", IDENTITY),
        _f("spec.storageClassName", DISPLAY),
        _f("spec.accessModes", DISPLAY),
        _f("spec.volumeMode", DISPLAY),
        _f("spec.dataSourceRef", "volume-shared-by-annotation"),
        _f("status.phase", DISPLAY),
    ),
    "Pod": _META
    + (
        _f("metadata.labels", FINGERPRINT, "storage-network-reachable"),  # pod-template-hash
        _f("metadata.ownerReferences[]{kind,name,uid,controller}", FINGERPRINT),
        _f("spec.nodeName", POD_VIEW),
        _f("spec.hostNetwork", POD_VIEW, "host-network", "storage-network-reachable"),
        _f("spec.hostPID", "host-namespace-escape"),
        _f("spec.hostIPC", "host-namespace-escape"),
        _f("spec.serviceAccountName", PLATFORM),
        _f(
            "spec.securityContext{runAsUser,runAsGroup,fsGroup,supplementalGroups,runAsNonRoot}",
            "uid-gid-not-a-boundary",
        ),
        _f("spec.volumes", JOIN, "inline-storage-volume", "volume-shared-across-tenants", *_NODE_MOUNT_RULES),
        # A pod's containers are listed together (PodView.containers): a rule reading one list reads all.
        *(
            _f(f"spec.{where}[]{_CONTAINER_FIELDS}", *_CONTAINER_RULES)
            for where in ("containers", "initContainers", "ephemeralContainers")
        ),
        _f("status.phase", POD_VIEW, "storage-network-reachable"),
    ),
    "StorageClass": _META
    + (
        _f("provisioner", IDENTITY),
        _f("parameters", DISPLAY),
        _f("reclaimPolicy", "pv-released-retained"),
        _f("mountOptions", "uid-gid-not-a-boundary"),
    ),
    "NetworkPolicy": _META + (_f("spec", "storage-network-reachable"),),
    "Role": _META + (_f("rules", *_RBAC_RULES),),
    "ClusterRole": _META
    + (
        # Aggregation selects ClusterRoles by label, so labels decide which rules a role gains.
        _f("metadata.labels", *_RBAC_RULES),
        _f("rules", *_RBAC_RULES),
        _f("aggregationRule", *_RBAC_RULES),
    ),
    "RoleBinding": _META + (_f("subjects", *_RBAC_RULES, OWNERS), _f("roleRef", *_RBAC_RULES, OWNERS)),
    "ClusterRoleBinding": _META + (_f("subjects", *_RBAC_RULES), _f("roleRef", *_RBAC_RULES)),
    "TridentBackendConfig": _META
    + (
        _f(
            "spec{storageDriverName,backendName,svm,dataLIF,managementLIF,autoExportPolicy,autoExportCIDRs,useCHAP,"
            "storagePrefix,nasType,sanType,exportRule,deletionPolicy}",
            "auto-export-cidrs-open",
            "iscsi-without-chap",
            "export-policy-shared",
            "export-allows-foreign-hosts",
        ),
        _f("spec.defaults{exportPolicy,exportRule,unixPermissions,securityStyle}", "export-policy-shared"),
        _f("spec.credentials{name,type}", DISPLAY),
        _f("status{phase,backendInfo}", IDENTITY),
    ),
    "TridentBackend": _META
    + (
        _f("backendName", IDENTITY),
        _f("backendUUID", IDENTITY),
        _f("state", DISPLAY),
        _f("online", DISPLAY),
        _f("configRef", IDENTITY),
        _f(
            "config.ontap_config{storageDriverName,backendName,svm,dataLIF,managementLIF,autoExportPolicy,"
            "autoExportCIDRs,useCHAP,storagePrefix,nasType,sanType,igroupName}",
            IDENTITY,  # each backend's driver (arrays/backends.py): which family and array it is
            "auto-export-cidrs-open",
            "iscsi-without-chap",
            "export-policy-shared",
            "orphaned-backend-volume",
        ),
        _f(
            "config.ontap_config.defaults{exportPolicy,unixPermissions,securityStyle}", "export-policy-shared"
        ),
        _f(
            "config.solidfire_config{storageDriverName,backendName,TenantName,SVIP,AccessGroups,UseCHAP,Types}",
            IDENTITY,
            "san-foreign-initiator",
            "chap-secrets-readable",
        ),
        _f(
            "config.azure_config{storageDriverName,backendName,exportRule}",
            IDENTITY,
            "export-allows-foreign-hosts",
        ),
        _f("config.azure_config.defaults{exportRule}", "export-allows-foreign-hosts"),
        _f("config.azure_config.storage[]{exportRule,defaults}", "export-allows-foreign-hosts"),
        _f(
            "config.gcnv_config{storageDriverName,backendName,exportRule}",
            IDENTITY,
            "export-allows-foreign-hosts",
        ),
        _f("config.gcnv_config.defaults{exportRule}", "export-allows-foreign-hosts"),
        _f("config.gcnv_config.storage[]{exportRule,defaults}", "export-allows-foreign-hosts"),
    ),
    "TridentVolume": _META
    + (
        _f("backendUUID", IDENTITY),
        _f("pool", DISPLAY),
        _f("orphaned", JOIN, "orphaned-backend-volume"),
        _f("state", "volume-shared-by-annotation", "inline-storage-volume", "volume-shared-across-tenants"),
        _f(
            "config{name,internalName,internalID,protocol,exportPolicy,unixPermissions,accessMode,volumeMode,"
            "storageClass,namespace,requestName,shareSourceVolume,importOriginalName,cloneSourceVolume,size}",
            IDENTITY,
            "volume-shared-across-tenants",
            "export-policy-shared",
            "uid-gid-not-a-boundary",
        ),
        # Never iscsiUsername / iscsiInitiatorSecret / iscsiTargetUsername / iscsiTargetSecret.
        _f(
            "config.accessInformation{nfsServerIp,nfsPath,smbServer,smbPath,iscsiTargetPortal,iscsiPortals,"
            "iscsiTargetIqn,iscsiLunNumber,iscsiIgroup,iscsiVags,iscsiLunSerial,useCHAP,nvmeTargetIPs,"
            "nvmeSubsystemNqn,nvmeSubsystemUUID,nvmeNamespaceUUID,fcTargetWWNN,fcpLunNumber,fcpIgroup,"
            "publishEnforcement,readOnly}",
            "volume-shared-across-tenants",
            "san-foreign-initiator",
            "export-allows-foreign-hosts",
            "iscsi-without-chap",
        ),
    ),
    "TridentNode": _META
    + (
        # Released Trident stores these at the top level; unreleased master moves them into spec.
        # All are the node set's (arrays/node_set.py): whom an array's access names.
        _f("name", IDENTITY),
        _f("iqn", IDENTITY, "san-foreign-initiator"),
        _f("nqn", IDENTITY, "san-foreign-initiator"),
        _f("ips", IDENTITY, "export-allows-foreign-hosts", "stale-node-access", "auto-export-cidrs-open"),
        _f("hostWWPNMap", IDENTITY, "san-foreign-initiator"),
        _f("deleted", IDENTITY, "stale-node-access"),
        _f(
            "spec{nodeName,iqn,nqn,ips,hostWWPNMap}",
            IDENTITY,
            "export-allows-foreign-hosts",
            "san-foreign-initiator",
        ),
        _f("status{deleted}", IDENTITY, "stale-node-access"),
    ),
    "TridentVolumePublication": _META
    + (
        _f("volumeID", IDENTITY),
        _f("nodeID", "export-allows-foreign-hosts", *_NODE_MOUNT_RULES),
        _f("readOnly", DISPLAY),
        _f("accessMode", DISPLAY),
    ),
    "TridentVolumeReference": _META + (_f("spec{pvcName,pvcNamespace}", "volume-shared-by-annotation"),),
    "TridentVersion": _META
    + (_f("trident_version", "chap-secrets-readable"), _f("trident_api_version", DISPLAY)),
    "TridentStorageClass": _META
    + (_f("spec{name,attributes,storagePools,additionalStoragePools}", DISPLAY),),
}

# Array records (stored kind -> kept fields).  Kinds are named after the array family; the
# registry in arrays/array_kinds.py says which REST path or JSON-RPC method each comes from.
_ONTAP_SVM = _f("svm.name", IDENTITY)
ARRAY_KEPT_FIELDS: dict[str, tuple[Field, ...]] = {
    "ontap.Cluster": (_f("name", IDENTITY), _f("uuid", IDENTITY), _f("version.full", DISPLAY)),
    "ontap.Svm": (
        _f("uuid", IDENTITY),
        _f("name", IDENTITY),
        _f("state", DISPLAY),
        _f("nfs{enabled}", "showmount-enabled"),
        _f("iscsi{enabled}", "iscsi-without-chap"),
        _f("nvme{enabled}", "san-foreign-initiator"),
        _f("fcp{enabled}", "san-foreign-initiator"),
    ),
    "ontap.Interface": (
        _f("uuid", IDENTITY),
        _f("name", IDENTITY),
        _ONTAP_SVM,
        _f("ip{address,netmask}", "storage-network-reachable", "volume-shared-across-tenants"),
        _f("services", "storage-network-reachable"),
        _f("enabled", "storage-network-reachable"),
    ),
    "ontap.NfsService": (
        _ONTAP_SVM,
        _f("enabled", "showmount-enabled"),
        _f("showmount_enabled", "showmount-enabled"),
        _f("protocol{v3_enabled,v40_enabled,v41_enabled,v42_enabled}", "uid-gid-not-a-boundary"),
    ),
    "ontap.ExportPolicy": (
        _f("id", IDENTITY),
        _f("name", IDENTITY),
        _ONTAP_SVM,
        _f(
            "rules[]{index,clients,protocols,ro_rule,rw_rule,superuser,anonymous_user,allow_suid,"
            "allow_device_creation,chown_mode,ntfs_unix_security}",
            "export-allows-foreign-hosts",
            "export-root-squash-disabled",
            "stale-node-access",
            "export-policy-shared",
            "uid-gid-not-a-boundary",
        ),
    ),
    "ontap.Volume": (
        _f("uuid", IDENTITY),
        _f("name", IDENTITY),
        _ONTAP_SVM,
        _f("style", DISPLAY),
        _f("type", DISPLAY),
        _f("state", "orphaned-backend-volume"),
        _f(
            "nas{path,export_policy,security_style,unix_permissions,uid,gid,junction_parent}",
            "export-allows-foreign-hosts",
            "uid-gid-not-a-boundary",
            "volume-shared-across-tenants",
        ),
        _f("has_data", "orphaned-backend-volume", "pv-available-unclaimed"),  # derived from space.used
    ),
    "ontap.Qtree": (
        _f("id", IDENTITY),
        _f("name", IDENTITY),
        _f("path", "volume-shared-across-tenants"),
        _f("volume{name,uuid}", IDENTITY),
        _ONTAP_SVM,
        _f("export_policy{name,id}", "export-allows-foreign-hosts"),
        _f("security_style", "uid-gid-not-a-boundary"),
        _f("unix_permissions", "uid-gid-not-a-boundary"),
    ),
    "ontap.Lun": (
        _f("uuid", IDENTITY),
        _f("name", IDENTITY),
        _ONTAP_SVM,
        _f("location{volume,qtree,logical_unit}", IDENTITY),
        _f("serial_number", IDENTITY),
        _f("os_type", DISPLAY),
    ),
    "ontap.Igroup": (
        _f("uuid", IDENTITY),
        _f("name", IDENTITY),
        _ONTAP_SVM,
        _f("protocol", "san-foreign-initiator"),
        _f("os_type", DISPLAY),
        _f("initiators[]{name}", "san-foreign-initiator", "stale-node-access"),
        _f("igroups[]{name,uuid}", "san-foreign-initiator"),
        _f("parent_igroups[]{name,uuid}", "san-foreign-initiator"),
    ),
    "ontap.LunMap": (
        _ONTAP_SVM,
        _f("igroup{name,uuid}", "san-foreign-initiator"),
        _f("lun{name,uuid}", "san-foreign-initiator"),
        _f("logical_unit_number", IDENTITY),
    ),
    "ontap.IscsiCredentials": (
        _ONTAP_SVM,
        _f("initiator", "iscsi-without-chap"),
        _f("authentication_type", "iscsi-without-chap"),
    ),
    "ontap.IscsiService": (
        _ONTAP_SVM,
        _f("target{name,alias}", "volume-shared-across-tenants", "san-foreign-initiator"),
        _f("enabled", DISPLAY),
    ),
    "ontap.NvmeSubsystem": (
        _f("uuid", IDENTITY),
        _f("name", IDENTITY),
        _ONTAP_SVM,
        _f("os_type", DISPLAY),
        _f("hosts[]{nqn}", "san-foreign-initiator", "stale-node-access"),
    ),
    "ontap.NvmeSubsystemMap": (
        _ONTAP_SVM,
        _f("subsystem{name,uuid}", "san-foreign-initiator"),
        _f("namespace{name,uuid}", "san-foreign-initiator"),
    ),
    "ontap.NvmeNamespace": (
        _f("uuid", IDENTITY),
        _f("name", IDENTITY),
        _ONTAP_SVM,
        _f("location{volume,namespace}", IDENTITY),
    ),
    "ontap.FcInterface": (
        _f("uuid", IDENTITY),
        _f("name", IDENTITY),
        _ONTAP_SVM,
        _f("wwpn", "san-foreign-initiator"),
        _f("data_protocol", DISPLAY),
    ),
    "solidfire.Cluster": (
        _f("name", IDENTITY),
        _f("uniqueID", IDENTITY),
        _f("mvip", DISPLAY),
        _f("svip", DISPLAY),
    ),
    # Never initiatorSecret / targetSecret: the CHAP secrets themselves.
    "solidfire.Account": (
        _f("accountID", IDENTITY),
        _f("username", "chap-secrets-readable"),
        _f("status", DISPLAY),
        _f("volumes", "san-foreign-initiator"),
        _f("enableChap", "chap-secrets-readable"),
    ),
    "solidfire.Volume": (
        _f("volumeID", IDENTITY),
        _f("name", IDENTITY),
        _f("accountID", "chap-secrets-readable", "san-foreign-initiator"),
        _f("access", "san-foreign-initiator"),
        _f("volumeAccessGroups", "san-foreign-initiator"),
        _f("iqn", "volume-shared-across-tenants"),
        _f("status", "orphaned-backend-volume"),
    ),
    "solidfire.VolumeAccessGroup": (
        _f("volumeAccessGroupID", IDENTITY),
        _f("name", IDENTITY),
        _f("initiators", "san-foreign-initiator", "stale-node-access"),
        _f("volumes", "san-foreign-initiator"),
    ),
    "solidfire.Initiator": (
        _f("initiatorID", IDENTITY),
        _f("initiatorName", "san-foreign-initiator"),
        _f("alias", DISPLAY),
        _f("volumeAccessGroups", "san-foreign-initiator"),
        _f("requireChap", "san-foreign-initiator"),
    ),
}

# --- projection ---------------------------------------------------------------------------------
# Paths are compiled once per kind into a tree of `_Step`s, and the tree into nested functions (one
# per mapping level and kept key); projecting an object then costs one dict lookup per kept key
# (snapshots project every object, 100,000 pods at bench scale).

_SEGMENT = re.compile(r"^(?P<key>[^\[\]{}]+)(?P<list>\[\])?(?:\{(?P<globs>[^}]*)\})?$")


@dataclass(frozen=True)
class _KeyFilter:
    """Which keys of a mapping `key{glob,!glob}` keeps; globs are exact names or `prefix*`."""

    include_exact: frozenset
    include_prefixes: tuple
    exclude_exact: frozenset
    exclude_prefixes: tuple

    @classmethod
    def parse(cls, globs: str) -> "_KeyFilter":
        parts = {True: ([], []), False: ([], [])}  # excluded? -> (exact, prefixes)
        for glob in (g.strip() for g in globs.split(",") if g.strip()):
            excluded = glob.startswith("!")
            glob = glob.removeprefix("!")
            if "*" in glob[:-1] or "?" in glob or "[" in glob:
                raise ValueError(f"unsupported glob {glob!r}: use an exact key or a trailing *")
            exact, prefixes = parts[excluded]
            (prefixes.append(glob[:-1]) if glob.endswith("*") else exact.append(glob))
        return cls(
            frozenset(parts[False][0]),
            tuple(parts[False][1]),
            frozenset(parts[True][0]),
            tuple(parts[True][1]),
        )

    def picker(self) -> Callable[[dict], dict]:
        """The function keeping a mapping's kept keys, in their order."""
        exact, keeps = self.include_exact, self.keeps
        if exact and not (self.include_prefixes or self.exclude_exact or self.exclude_prefixes):
            return lambda mapping: {k: v for k, v in mapping.items() if k in exact}
        return lambda mapping: {k: v for k, v in mapping.items() if keeps(k)}

    def keeps(self, key: str) -> bool:
        if key in self.exclude_exact or key.startswith(self.exclude_prefixes or ("\0",)):
            return False
        if not self.include_exact and not self.include_prefixes:
            return True
        return (
            key in self.include_exact or bool(self.include_prefixes) and key.startswith(self.include_prefixes)
        )


@dataclass(frozen=True)
class _Step:
    key: str
    over_list: bool
    key_filter: _KeyFilter | None
    children: tuple | None  # None: keep the (filtered) value whole


def _split_path(path: str) -> list[str]:
    """Split on dots outside {...}, since globs such as node-role.kubernetes.io/* contain dots."""
    parts, depth, current = [], 0, ""
    for char in path:
        depth += (char == "{") - (char == "}")
        if char == "." and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _compile(paths: list[str]) -> tuple:
    tree: dict = {}
    for path in paths:
        node = tree
        segments = _split_path(path)
        for i, segment in enumerate(segments):
            if i == len(segments) - 1:
                node[segment] = True
            else:
                child = node.setdefault(segment, {})
                if child is True:  # a whole subtree is already kept
                    break
                node = child
    return _steps(tree)


def _steps(tree: dict) -> tuple:
    steps = []
    for segment, subtree in tree.items():
        match = _SEGMENT.match(segment)
        if match is None:
            raise ValueError(f"bad kept-field segment {segment!r}")
        steps.append(
            _Step(
                key=match["key"],
                over_list=bool(match["list"]),
                key_filter=_KeyFilter.parse(match["globs"]) if match["globs"] is not None else None,
                children=None if subtree is True else _steps(subtree),
            )
        )
    return tuple(steps)


def _identity(value):
    return value


def _interned(value):
    """A value kept whole, with one copy of each string: thousands of objects repeat the same names,
    modes, paths and service-account volumes (a tenth of a snapshot's memory at the bench scale).
    Its containers are the raw object's, made for this snapshot and read by no one else: each string
    is replaced where it is by its equal interned copy, rather than each container copied (a Python
    call per container, not per value: most of what keeping cost)."""
    if type(value) is str:
        return intern(value)
    if type(value) is dict:
        for key, item in value.items():  # values replaced, no key added or removed
            kind = type(item)
            if kind is str:
                value[key] = intern(item)
            elif kind is dict or kind is list:
                _interned(item)
    elif type(value) is list:
        for index, item in enumerate(value):
            kind = type(item)
            if kind is str:
                value[index] = intern(item)
            elif kind is dict or kind is list:
                _interned(item)
    return value


def _projector(steps: tuple, keep_odd: bool, scrub: Callable) -> Callable:
    """The function projecting a mapping onto `steps` (None for anything else); `scrub` is applied to
    each value kept whole but labels.  `keep_odd` (array records): a value or list element of another
    shape than expected is kept as answered (scrubbed), never dropped, so that an igroup's
    `initiators: "x"` reads as unreadable rather than as no initiators.  The API server validates
    Kubernetes objects' shapes."""
    interning = scrub is _interned
    plan = []
    for step in steps:
        apply = _applier(step, keep_odd, scrub)
        odd = _odd_keeper(apply or _identity, scrub) if keep_odd and step.over_list else None
        plan.append((step.key, step.over_list, apply, odd))
    keys = [step.key for step in steps if not step.over_list]
    merged = {key for key in keys if keys.count(key) > 1}  # `spec{a,b}` and `spec.defaults{…}` both

    def project(value):
        if not isinstance(value, dict):
            return None
        out = {}
        for key, over_list, apply, odd in plan:
            if key not in value:
                continue
            item = value[key]
            if over_list:
                if isinstance(item, list):
                    if apply is None:
                        kept = [e for e in item if e is not None] if odd is None else item[:]
                        kept = _interned(kept) if interning else kept
                    elif odd is None:
                        kept = [k for k in map(apply, item) if k is not None]
                    else:
                        kept = [k if (k := apply(e)) is not None else odd(e) for e in item]
                    out[key] = kept
                elif odd is not None:
                    out[key] = odd(item)
                continue
            if apply is not None:
                kept = apply(item)
            elif not interning:
                kept = item
            else:  # inline: this runs for every kept value of every object
                kept = intern(item) if type(item) is str else _interned(item)
            if kept is None:
                continue
            existing = out.get(key) if key in merged else None
            out[key] = {**existing, **kept} if isinstance(existing, dict) and isinstance(kept, dict) else kept
        return out

    return project


def _applier(step: _Step, keep_odd: bool, scrub: Callable) -> Callable | None:
    """The function giving what one step keeps of a value (None when nothing), or None when the
    value is kept as it is."""
    whole = _identity if step.key in LABEL_MAPS else scrub
    pick = step.key_filter.picker() if step.key_filter is not None else None
    if step.children is not None:
        children = _projector(step.children, keep_odd, scrub)
        if pick is None:
            return children
        return lambda element: children(pick(element)) if isinstance(element, dict) else None
    if pick is None:
        return None if whole in (_identity, _interned) else whole  # `project` keeps it inline
    if whole is _identity:
        return lambda element: pick(element) if isinstance(element, dict) else None
    return lambda element: whole(pick(element)) if isinstance(element, dict) else None


def _odd_keeper(apply: Callable, scrub: Callable) -> Callable:
    """A value where a list (or a list element) was expected: a mapping projected as an element would
    be, so no unlisted key rides along; a list element by element; a scalar as it is."""

    def odd(value):
        if isinstance(value, dict):
            return apply(value)
        if isinstance(value, list):
            return [odd(element) for element in value]
        return scrub(value)

    return odd


@dataclass(frozen=True)
class _Projection:
    """One kind's kept fields, compiled twice: as they are, and with every value kept whole scrubbed
    (inventory/secrets.py).  Almost no object holds anything a scrub would drop, so `keep` projects
    without scrubbing, looks once at the whole result and projects again, scrubbing, only when it
    may hold a secret: the same result as scrubbing each part, for one look instead of hundreds."""

    plain: Callable
    scrubbing: Callable

    @classmethod
    def of(cls, fields: tuple[Field, ...], keep_odd: bool) -> "_Projection":
        steps = _compile([f.path for f in fields])
        return cls(_projector(steps, keep_odd, _interned), _projector(steps, keep_odd, without_secrets))


_PROJECTIONS = {kind: _Projection.of(fields, False) for kind, fields in KEPT_FIELDS.items()} | {
    kind: _Projection.of(fields, True) for kind, fields in ARRAY_KEPT_FIELDS.items()
}


def keep(kind: str, obj: dict) -> dict:
    """The stored form of a raw object: only the kept fields, secrets dropped."""
    return keep_serialised(kind, obj)[0]


def keep_serialised(kind: str, obj: dict, stored_digest: str | None = None) -> tuple[dict, bytes, str]:
    """keep(), with its canonical JSON and digest: one serialisation serves the look for secrets
    and the digest (inventory/history.py).

    `stored_digest`: the digest of the object's current stored version.  Kept fields with that
    digest are that very version, which was looked at (and scrubbed if need be) when it was
    stored: they need no new look, and hold nothing the database does not hold already."""
    projection = _PROJECTIONS[kind]
    kept = projection.plain(obj) or {}
    canonical = canonical_json(kept)
    digested = digest_of(canonical)
    if digested != stored_digest and might_hold_secrets(canonical):
        kept = projection.scrubbing(obj) or {}
        canonical = canonical_json(kept)
        digested = digest_of(canonical)
    return kept, canonical, digested


def canonical_json(data) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def digest_of(canonical: bytes) -> str:
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def digest(data: dict) -> str:
    return digest_of(canonical_json(data))
