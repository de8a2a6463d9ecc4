"""What backs each volume a tenant uses, and which volumes resolve to the same backend object.

A *consumer* is one way a namespace reaches storage: a PV (used by the namespace in its claimRef)
or a pod's inline `nfs`/`iscsi`/`fc` volume (used by the pod's namespace).  Two consumers share
data when they resolve to the same backend object (rules.md, `volume-shared-across-tenants`):
- the same Trident backend UUID + internal name;
- the same NFS server + export path, or a path nested under another's (path components, never a
  string prefix: `/exports/reports-old` is not under `/exports/reports`).  A server address that is
  a data LIF stands for its SVM, so two LIFs of one SVM are one server;
- the same iSCSI target IQN + LUN, or the same array LUN/namespace the join resolved.
Trident's own LUN numbers are per igroup, so two Trident volumes are never matched by IQN + LUN
alone; a static or inline iSCSI volume is.  Trident subordinate volumes (a `shareToNamespace`
share) are left out: `volume-shared-by-annotation` judges those.

Everything is computed once per snapshot (`ctx.memo`).
"""

import posixpath
from dataclasses import dataclass, field

from arrays.backends import backend_info, host_of
from exposure.analysis.paths import Hop
from exposure.analysis.workloads import PodView
from inventory.constants import TRIDENT_CSI_DRIVER
from inventory.fields import as_mapping as _mapping
from inventory.refs import array_ref, k8s_ref

# Inline volume kinds that mount storage directly (rules.md, inline-storage-volume), besides CSI.
INLINE_STORAGE_KINDS = ("nfs", "iscsi", "cephfs", "rbd", "fc", "glusterfs")


@dataclass
class Consumer:
    """One PV, or one inline volume of one workload's pods, and what it resolves to."""

    identity: str  # `PersistentVolume/<name>`, or `<workload> volume <name>`
    namespace: str  # whose it is: the claimRef's namespace or the pod's ("" for an unclaimed PV)
    hops: list[Hop]  # how its users reach it: PVC then PV, or the pod
    data: list[str]  # what it holds: PVC, PV, array object
    objects: list[str]  # references that make it true, the key object first
    location: str  # the backend object in words: `nfs 192.0.2.31:/exports/reports`
    platform: bool = False
    pod: PodView | None = None
    read_only: bool = False
    keys: set[tuple] = field(default_factory=set)  # exact identities of its backend object
    weak_keys: set[tuple] = field(default_factory=set)  # matched only against static/inline keys
    nfs: tuple[str, str] | None = None  # (server identity, normalised export path)


def clean_path(path: str) -> str:
    """Absolute, normalised (`//`, `.`, `..`, a trailing `/`); `""` stays `/`."""
    return posixpath.normpath("/" + str(path or "").lstrip("/"))


def ancestors(path: str) -> list[str]:
    """`path` and every directory above it, itself first, `/` last."""
    current, out = clean_path(path), []
    while True:
        out.append(current)
        if current == "/":
            return out
        current = posixpath.dirname(current)


def is_nested(inner: str, outer: str) -> bool:
    """Whether `inner` is `outer` or lies beneath it, by path components."""
    return clean_path(outer) in ancestors(inner)


def data_lifs(ctx) -> dict[str, str]:
    """Data LIF address -> `<array>/<svm>` (ONTAP interfaces serving data, and Trident's dataLIFs)."""

    def build():
        lifs: dict[str, str] = {}
        for name, records in ctx.state.arrays.items():
            for lif in records.all("ontap.Interface").values():
                address = _mapping(lif.get("ip")).get("address")
                svm = _mapping(lif.get("svm")).get("name")
                services = lif.get("services")
                serves_data = not isinstance(services, list) or any(
                    str(s).startswith("data_") and s != "data_core" for s in services
                )
                if isinstance(address, str) and address and isinstance(svm, str) and svm and serves_data:
                    lifs.setdefault(address, f"{name}/{svm}")
        for backend in ctx.state.of_kind("TridentBackend").values():
            info = backend_info(backend)
            if info.data_lif:
                array = ctx.state.array_for_backend(info.uuid)
                lifs.setdefault(info.data_lif, f"{array}/{info.svm}" if array and info.svm else info.data_lif)
        return lifs

    return ctx.memo("storage_backing.data_lifs", build)


def iscsi_targets(ctx) -> dict[str, str]:
    """SVM iSCSI target IQN (lower case) -> `<array>/<svm>`."""

    def build():
        targets = {}
        for name, records in ctx.state.arrays.items():
            for service in records.all("ontap.IscsiService").values():
                iqn = _mapping(_mapping(service).get("target")).get("name")
                if isinstance(iqn, str) and iqn:
                    svm = _mapping(service.get("svm")).get("name")
                    targets[iqn.lower()] = f"{name}/{svm if isinstance(svm, str) else ''}"
        return targets

    return ctx.memo("storage_backing.iscsi_targets", build)


def server_identity(ctx, server) -> str:
    """A data LIF stands for its SVM; any other server is its host text (names are never resolved)."""
    host = host_of(str(server or "")).lower()
    return data_lifs(ctx).get(host, host)


def record_object_ref(ctx, record: dict | None) -> str:
    """The array object an access record resolved to, as a reference ("" when none or unknown)."""
    obj = (record or {}).get("object") or {}
    if not record or not obj.get("name") or not record.get("array"):
        return ""
    ref = array_ref(record["array"], obj.get("kind") or "", obj["name"])
    return ref if ctx.lookup(ref) is not None else ""


def tvol_of_pv(ctx, pv: dict) -> tuple[str, dict | None]:
    """(name, data) of the TridentVolume behind a Trident CSI PV (name "" when not Trident)."""
    csi = _mapping(_mapping(pv.get("spec")).get("csi"))
    if csi.get("driver") != TRIDENT_CSI_DRIVER:
        return "", None
    handle = str(csi.get("volumeHandle") or _mapping(pv.get("metadata")).get("name") or "")
    return handle, ctx.state.get("TridentVolume", handle.lower(), ctx.trident_namespace)


def pods_using_claim(ctx) -> dict[tuple[str, str], list[PodView]]:
    """(namespace, claim) -> pods whose spec mounts it."""

    def build():
        users: dict[tuple[str, str], list[PodView]] = {}
        for pod in ctx.pods:
            for claim in pod.claims:
                users.setdefault((pod.namespace, claim), []).append(pod)
        return users

    return ctx.memo("storage_backing.pods_using_claim", build)


def consumers(ctx) -> list[Consumer]:
    return ctx.memo("storage_backing.consumers", lambda: _pv_consumers(ctx) + _inline_consumers(ctx))


def _pv_consumers(ctx) -> list[Consumer]:
    out = []
    for (_, name), pv in ctx.state.of_kind("PersistentVolume").items():
        spec = _mapping(pv.get("spec"))
        claim = spec.get("claimRef") if isinstance(spec.get("claimRef"), dict) else {}
        namespace = claim.get("namespace") if isinstance(claim.get("namespace"), str) else ""
        pv_ref = k8s_ref("PersistentVolume", name)
        pvc_ref = ""
        if (
            namespace
            and claim.get("name")
            and ctx.state.get("PersistentVolumeClaim", claim["name"], namespace)
        ):
            pvc_ref = k8s_ref("PersistentVolumeClaim", claim["name"], namespace)
        record = ctx.volume_access.get(name)
        obj = record_object_ref(ctx, record)
        consumer = Consumer(
            identity=pv_ref,
            namespace=namespace,
            hops=[Hop(r, via) for r, via in ((pvc_ref, "spec.volumeName"), (pv_ref, "spec")) if r],
            data=[r for r in (pvc_ref, pv_ref, obj) if r],
            objects=[r for r in (pv_ref, pvc_ref) if r],
            location="",
            platform=bool(namespace) and ctx.tenancy.is_platform(namespace),
        )
        handle, tvol = tvol_of_pv(ctx, pv)
        if handle:
            if _is_subordinate(tvol):
                continue  # a Trident share: volume-shared-by-annotation judges it
            _trident_keys(ctx, consumer, spec.get("csi") or {}, tvol)
        for key in ("nfs", "iscsi", "fc"):
            if isinstance(spec.get(key), dict):
                _static_keys(ctx, consumer, key, spec[key])
        _object_key(consumer, record, obj)
        if consumer.keys or consumer.nfs:
            out.append(consumer)
    return out


def _inline_consumers(ctx) -> list[Consumer]:
    by_identity: dict[str, Consumer] = {}
    for pod in ctx.pods:
        volumes = pod.spec.get("volumes")
        for volume in volumes if isinstance(volumes, list) else []:
            if not isinstance(volume, dict) or not isinstance(volume.get("name"), str):
                continue
            kind = next((k for k in ("nfs", "iscsi", "fc") if isinstance(volume.get(k), dict)), None)
            if kind is None:
                continue
            identity = f"{pod.workload} volume {volume['name']}"
            if identity in by_identity:
                by_identity[identity].objects.append(pod.ref)
                continue
            record = ctx.inline_access.get((pod.namespace, f"{pod.name} volume {volume['name']}"))
            obj = record_object_ref(ctx, record)
            consumer = Consumer(
                identity=identity,
                namespace=pod.namespace,
                hops=[Hop(pod.ref, f"spec.volumes[{volume['name']}].{kind}")],
                data=[obj] if obj else [],
                objects=[pod.ref],
                location="",
                platform=pod.platform,
                pod=pod,
                read_only=volume[kind].get("readOnly") is True,
            )
            _static_keys(ctx, consumer, kind, volume[kind])
            _object_key(consumer, record, obj)
            by_identity[identity] = consumer
    return list(by_identity.values())


def _is_subordinate(tvol: dict | None) -> bool:
    config = _mapping((tvol or {}).get("config"))
    return bool(config.get("shareSourceVolume")) or (tvol or {}).get("state") == "subordinate"


def _trident_keys(ctx, consumer: Consumer, csi: dict, tvol: dict | None) -> None:
    attributes = csi.get("volumeAttributes") if isinstance(csi.get("volumeAttributes"), dict) else {}
    config = _mapping((tvol or {}).get("config"))
    uuid = (tvol or {}).get("backendUUID") or attributes.get("backendUUID") or ""
    internal = config.get("internalName") or attributes.get("internalName") or ""
    if uuid and internal:
        consumer.keys.add(("trident", str(uuid), str(internal)))
        consumer.location = f"Trident backend {uuid} volume {internal}"
    access = _mapping(config.get("accessInformation"))
    if access.get("nfsServerIp") and access.get("nfsPath"):
        consumer.nfs = (server_identity(ctx, access["nfsServerIp"]), clean_path(access["nfsPath"]))
    if access.get("iscsiTargetIqn") and access.get("iscsiLunNumber") is not None:
        lun = str(access["iscsiLunNumber"])
        consumer.weak_keys.add(("iscsi", str(access["iscsiTargetIqn"]).lower(), lun))


def _static_keys(ctx, consumer: Consumer, kind: str, source: dict) -> None:
    if kind == "nfs" and source.get("server") and source.get("path"):
        consumer.nfs = (server_identity(ctx, source["server"]), clean_path(source["path"]))
        consumer.location = f"nfs {source['server']}:{source['path']}"
    elif kind == "iscsi" and source.get("iqn") and source.get("lun") is not None:
        consumer.keys.add(("iscsi", str(source["iqn"]).lower(), str(source["lun"])))
        consumer.location = f"iscsi {source['iqn']} LUN {source['lun']}"
    elif kind == "fc" and source.get("targetWWNs") and source.get("lun") is not None:
        wwns = tuple(sorted(str(w).lower() for w in source["targetWWNs"] if w))
        consumer.keys.add(("fc", wwns, str(source["lun"])))
        consumer.location = f"fc {', '.join(wwns)} LUN {source['lun']}"


def _object_key(consumer: Consumer, record: dict | None, obj: str) -> None:
    """A LUN, NVMe namespace or SolidFire volume the join resolved is one object whoever names it.

    NFS objects are not: two paths inside one volume are different exports (compared by path)."""
    if obj and (record or {}).get("protocol") != "nfs":
        consumer.keys.add(("object", obj))
        consumer.location = consumer.location or f"array object {obj}"
    if not consumer.location and consumer.nfs:
        consumer.location = f"nfs {consumer.nfs[0]}:{consumer.nfs[1]}"


def sharing_groups(ctx) -> list[list[Consumer]]:
    """Consumers that reach the same backend object, in groups of two or more."""
    return ctx.memo("storage_backing.groups", lambda: _groups(consumers(ctx)))


def group_of(ctx, identity: str) -> list[Consumer]:
    index = ctx.memo(
        "storage_backing.group_index",
        lambda: {c.identity: group for group in sharing_groups(ctx) for c in group},
    )
    return index.get(identity, [])


def _groups(items: list[Consumer]) -> list[list[Consumer]]:
    parent = list(range(len(items)))

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i, j):
        parent[find(i)] = find(j)

    by_key: dict[tuple, int] = {}
    for i, consumer in enumerate(items):
        for key in consumer.keys:
            if key in by_key:
                union(i, by_key[key])
            else:
                by_key[key] = i
    for i, consumer in enumerate(items):
        for key in consumer.weak_keys:
            if key in by_key:
                union(i, by_key[key])
    by_path: dict[tuple[str, str], list[int]] = {}
    for i, consumer in enumerate(items):
        if consumer.nfs:
            by_path.setdefault(consumer.nfs, []).append(i)
    for i, consumer in enumerate(items):
        if consumer.nfs:
            server, path = consumer.nfs
            for above in ancestors(path):
                for j in by_path.get((server, above), []):
                    union(i, j)
    grouped: dict[int, list[Consumer]] = {}
    for i, consumer in enumerate(items):
        grouped.setdefault(find(i), []).append(consumer)
    return [group for group in grouped.values() if len(group) > 1]


def world_accessible(permissions) -> bool | None:
    """Whether Unix permissions let everyone read, write and enter; None when unknown.

    Accepts ONTAP's integer (`755`, read as octal digits), an octal string (`0770`) or Trident's
    symbolic form (`---rwxrwxrwx`)."""
    if isinstance(permissions, bool) or permissions is None:
        return None
    text = str(permissions).strip()
    if len(text) >= 9 and set(text) <= set("-rwxstST"):
        return text[-3:].lower() in ("rwx", "rwt")
    if text.isdigit() and set(text) <= set("01234567"):
        return text[-1] == "7"
    return None
