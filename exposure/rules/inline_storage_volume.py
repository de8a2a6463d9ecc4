"""`inline-storage-volume`: a pod spec mounts storage directly, bypassing PVC and PV.

The kubelet mounts `volumes[].nfs`, `.iscsi`, `.cephfs`, `.rbd`, `.fc` and `.glusterfs` for anyone who
may create pods; an inline `.csi` volume counts when its driver is Trident's or one the admin lists
as storage (other CSI drivers, e.g. a secrets store, are not storage).  Judgements:
- Critical when the server is a known backend data LIF: an NFS server or iSCSI portal that is an
  ONTAP data interface or a Trident backend's dataLIF, an iSCSI target IQN that is an SVM's, or an FC
  target WWPN of an ONTAP FC interface.  Host names are never resolved, so they stay high.
- One hit per workload (its top controller) and volume name, so a rollout keeps the finding.
- Attributed to the pod's namespace and to the namespaces whose PVs the same backend object backs
  (exposure/analysis/storage_backing.py), when known.  Platform pods yield paths, no violation.
"""

from arrays.backends import host_of
from exposure.analysis.paths import ExposurePath, Hop
from exposure.analysis.storage_backing import (
    INLINE_STORAGE_KINDS,
    data_lifs,
    group_of,
    iscsi_targets,
    record_object_ref,
)
from exposure.rules.base import Hit, Rule
from inventory.constants import TRIDENT_CSI_DRIVER

SLUG = "inline-storage-volume"


def _storage_kind(ctx, volume: dict) -> str:
    for kind in INLINE_STORAGE_KINDS:
        if isinstance(volume.get(kind), dict):
            return kind
    csi = volume.get("csi")
    if isinstance(csi, dict) and csi.get("driver") in (TRIDENT_CSI_DRIVER, *ctx.settings.storage_drivers):
        return "csi"
    return ""


def _fc_wwpns(ctx) -> set[str]:
    return ctx.memo(
        "inline_storage_volume.wwpns",
        lambda: {
            str(fc.get("wwpn") or "").lower().replace(":", "")
            for records in ctx.state.arrays.values()
            for fc in records.all("ontap.FcInterface").values()
            if fc.get("wwpn")
        },
    )


def _known_lif(ctx, kind: str, source: dict) -> str:
    """The known backend address or target the volume names ("" when none)."""
    lifs = data_lifs(ctx)
    if kind == "nfs":
        server = host_of(str(source.get("server") or "")).lower()
        return server if server in lifs else ""
    if kind == "iscsi":
        portals = [source.get("targetPortal"), *(source.get("portals") or [])]
        for portal in portals:
            if isinstance(portal, str) and host_of(portal).lower() in lifs:
                return host_of(portal)
        iqn = str(source.get("iqn") or "").lower()
        return iqn if iqn in iscsi_targets(ctx) else ""
    if kind == "fc":
        wwns = [str(w).lower().replace(":", "") for w in source.get("targetWWNs") or []]
        return next((w for w in wwns if w in _fc_wwpns(ctx)), "")
    return ""


def _describe(kind: str, source: dict) -> str:
    if kind == "nfs":
        return f"nfs {source.get('server')}:{source.get('path')}"
    if kind == "iscsi":
        return f"iscsi {source.get('targetPortal')} {source.get('iqn')} LUN {source.get('lun')}"
    if kind == "csi":
        return f"csi driver {source.get('driver')}"
    if kind == "fc":
        return f"fc {', '.join(map(str, source.get('targetWWNs') or []))} LUN {source.get('lun')}"
    return kind


def evaluate(ctx):
    seen: dict[str, Hit] = {}
    for pod in ctx.pods:
        volumes = pod.spec.get("volumes")
        for volume in volumes if isinstance(volumes, list) else []:
            if not isinstance(volume, dict) or not isinstance(volume.get("name"), str):
                continue
            kind = _storage_kind(ctx, volume)
            if not kind:
                continue
            identity = f"{pod.workload} volume {volume['name']}"
            if identity in seen:
                seen[identity].objects.append(pod.ref)
                continue
            seen[identity] = _hit(ctx, pod, volume, kind, identity)
    yield from seen.values()


def _hit(ctx, pod, volume: dict, kind: str, identity: str) -> Hit:
    source = volume[kind]
    lif = _known_lif(ctx, kind, source)
    severity = "critical" if lif else "high"
    what = _describe(kind, source)
    record = ctx.inline_access.get((pod.namespace, f"{pod.name} volume {volume['name']}"))
    obj = record_object_ref(ctx, record)
    owners = [c for c in group_of(ctx, identity) if c.identity != identity and c.namespace and c.pod is None]
    actor = ctx.pod_actor(pod)
    hop = Hop(pod.ref, f"spec.volumes[{volume['name']}].{kind}: {what}")
    access = "read" if source.get("readOnly") is True else "write"

    def path(namespace: str, data: list[str], inside: bool) -> ExposurePath:
        return ExposurePath(
            actor=actor,
            hops=[hop],
            data=data,
            namespace=namespace,
            access=access,
            rule=SLUG,
            severity="info" if inside or pod.platform else severity,
            mitigations=_mitigations(ctx, pod.namespace, kind),
            inside_tenant=inside,
            platform=pod.platform,
        )

    # The bypass itself: storage mounted without any claim, whoever's data it is.
    paths = [path("", [obj] if obj else [], False)]
    for owner in owners:
        paths.append(
            path(owner.namespace, owner.data, ctx.tenancy.same_tenant(pod.namespace, owner.namespace))
        )
    namespaces = list(dict.fromkeys([pod.namespace, *(o.namespace for o in owners)]))
    objects = [pod.ref, *(ref for o in owners for ref in o.objects)]
    reached = ", ".join(sorted({o.namespace for o in owners})) or "no known claim"
    return Hit(
        identity=(identity,),
        severity=severity,
        title=f"{pod.workload} mounts {what} directly, bypassing PVC and PV",
        namespaces=[ns for ns in namespaces if not ctx.tenancy.is_platform(ns)] or [pod.namespace],
        evidence={"kind": kind, "source": what, "known_data_lif": lif, "read_only": access == "read"},
        paths=paths,
        objects=list(dict.fromkeys(objects)),
        arrays={(record or {}).get("array")} - {None, ""} if obj else set(),
        detail=(
            f"{'a known backend data LIF (' + lif + ')' if lif else 'storage the rule cannot place'}; "
            f"reaches the data of {reached}. "
            "The kubelet mounts inline volumes for anyone who may create pods."
        ),
        violation=not pod.platform,
    )


def _mitigations(ctx, namespace: str, kind: str) -> list[str]:
    labels = ctx.tenancy.label_values(namespace)
    level = labels.get("pod-security.kubernetes.io/enforce") or ctx.settings.pod_security_default
    if level == "restricted" and kind != "csi":
        return ["Pod Security restricted is enforced: new pods with this volume kind are rejected"]
    if kind == "csi":
        return ["Pod Security restricted admits inline CSI volumes: it does not block this one"]
    return []


RULE = Rule(
    slug=SLUG,
    severity="high",
    guideline=(
        "Namespaces are the trust boundaries: tenants reach storage only through claims an administrator's "
        "PVs or Trident bind, never by naming a server in a pod spec."
    ),
    remediation=(
        "Replace the inline volume with a PersistentVolumeClaim. Enforce Pod Security 'restricted' on tenant "
        "namespaces (it rejects inline nfs, iscsi, cephfs, rbd, fc and glusterfs volumes), and deny inline "
        "CSI volumes of storage drivers with an admission policy; restrict export policies to the nodes."
    ),
    evidence_key="the volume kind and the server, path or target it names",
    reads=("Pod", "Namespace", "TridentBackend", "PersistentVolumeClaim"),
    evaluate=evaluate,
    reads_arrays=True,
    attributed_to="the pod's namespace, and the tenant whose volume it reaches if known",
)
