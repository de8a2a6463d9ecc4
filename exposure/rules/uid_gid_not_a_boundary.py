"""`uid-gid-not-a-boundary`: isolation that rests on uid/gid, on an export that speaks NFSv3.

Fires (info) for a PVC whose PV is an NFS volume on an SVM with NFSv3 enabled (its `ontap.NfsService`
record) whose export admits some party over `nfs3`, `nfs` or `any`, when pods mounting the PVC set
`runAsUser`, `runAsGroup` or `fsGroup` (pod or container securityContext) or the volume's Unix
permissions are not world-accessible (others lack `rwx`).  Judgements:
- The permissions read are Trident's `unixPermissions` for the volume, else the array's.
- Block volumes (SAN, `volumeMode: Block`) never fire: no NFS uid/gid trust is involved.  Cloud
  volumes fire only when their array's NFS service can be read (it cannot for ANF/GCNV).
- The path's actor is any pod of the same namespace: the seed says exactly that pod could assert the
  owner's uid; it is inside the tenant, so the finding is information, not a cross-tenant violation.
"""

from arrays.party_lists import PerPartyList
from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.analysis.storage_backing import (
    pods_using_claim,
    record_object_ref,
    tvol_of_pv,
    world_accessible,
)
from exposure.rules.base import ARRAY_GATE_KINDS, Hit, Rule
from inventory.fields import as_mapping
from inventory.refs import k8s_ref

SLUG = "uid-gid-not-a-boundary"
NFS3_PROTOCOLS = {"nfs3", "nfs", "any"}
SEED_EXPLANATION = (
    "NFSv3 assumes that the client has done the authentication and authorization: the uid and gid are "
    "asserted by the client, can be arbitrarily specified, and no validation is done by the NFSv3 server. "
    "Any pod in the same namespace could use the uid/gid associated with the volume and gain access. "
    "Kerberos could solve this, but Kubernetes does not support it for volumes."
)


def _nfs3_admitted(ctx, record: dict, of_parties: PerPartyList[list[str]]) -> list[str]:
    """The NFSv3-capable protocols the export admits, when the SVM has v3 enabled; [] otherwise.
    `of_parties`: those of each party list, worked out once per list."""
    obj = record.get("object") or {}
    records = ctx.state.arrays.get(record.get("array") or "")
    if record.get("protocol") != "nfs" or records is None or not obj.get("name"):
        return []
    service = records.get("ontap.NfsService", str(obj["name"]).split("/", 1)[0]) or {}
    protocol = service.get("protocol") if isinstance(service.get("protocol"), dict) else {}
    if service.get("enabled") is False or protocol.get("v3_enabled") is not True:
        return []
    admitted = record.get("admitted")
    if not isinstance(admitted, list):
        return []
    return list(of_parties(admitted))


def _nfs3_protocols(parties: list) -> list[str]:
    return sorted({p for party in parties for p in party.get("protocols") or [] if p in NFS3_PROTOCOLS})


def _permissions(ctx, pv: dict, record: dict):
    _, tvol = tvol_of_pv(ctx, pv)
    config = (tvol or {}).get("config")
    value = config.get("unixPermissions") if isinstance(config, dict) else None
    if value:
        return value
    obj = record.get("object") or {}
    found = as_mapping(ctx.state.arrays[record["array"]].get(obj.get("kind") or "", obj.get("name") or ""))
    return as_mapping(found.get("nas")).get("unix_permissions", found.get("unix_permissions"))


def evaluate(ctx):
    users = pods_using_claim(ctx)
    protocols_of = PerPartyList(_nfs3_protocols)
    for (namespace, name), pvc in ctx.judged(ctx.state.of_kind("PersistentVolumeClaim")):
        spec = pvc.get("spec") if isinstance(pvc.get("spec"), dict) else {}
        volume = spec.get("volumeName")
        pv = ctx.state.get("PersistentVolume", volume) if isinstance(volume, str) and volume else None
        if pv is None or not isinstance(pv.get("spec"), dict) or pv["spec"].get("volumeMode") == "Block":
            continue
        record = ctx.volume_access.get(volume) or {}
        protocols = _nfs3_admitted(ctx, record, protocols_of)
        if not protocols:
            continue
        pods = users.get((namespace, name), [])
        setting = {pod.workload: list(pod.ids_set) for pod in pods if pod.ids_set}
        permissions = _permissions(ctx, pv, record)
        restricted = world_accessible(permissions) is False
        if not setting and not restricted:
            continue
        yield _hit(ctx, namespace, name, volume, record, protocols, setting, permissions, restricted, pods)


def _hit(ctx, namespace, name, volume, record, protocols, setting, permissions, restricted, pods) -> Hit:
    pvc_ref, pv_ref = k8s_ref("PersistentVolumeClaim", name, namespace), k8s_ref("PersistentVolume", volume)
    obj = record_object_ref(ctx, record)
    platform = ctx.tenancy.is_platform(namespace)
    rests_on = [f"{w} sets {', '.join(f)}" for w, f in sorted(setting.items())]
    if restricted:
        rests_on.append(f"the volume's Unix permissions are {permissions}")
    return Hit(
        identity=(pvc_ref,),
        severity=RULE.severity,
        title=f"PersistentVolumeClaim {namespace}/{name}: uid/gid isolation on an NFSv3 export",
        namespaces=[namespace],
        evidence={
            "protocols": protocols,
            "ids": {w: f for w, f in sorted(setting.items())},
            "permissions": str(permissions) if restricted else "",
        },
        paths=[
            ExposurePath(
                actor=Actor("subject", f"any pod in {namespace}", ctx.tenancy.tenant_of(namespace), platform),
                hops=[
                    Hop(pvc_ref, "spec.volumeName"),
                    Hop(pv_ref, f"NFS, admitted over {', '.join(protocols)}"),
                ],
                data=[r for r in (pvc_ref, pv_ref, obj) if r],
                namespace=namespace,
                access="write",
                rule=SLUG,
                severity="info",
                inside_tenant=True,
                platform=platform,
            )
        ],
        objects=list(dict.fromkeys([pvc_ref, pv_ref, *(p.ref for p in pods if p.workload in setting)])),
        arrays={record["array"]},
        detail=f"isolation rests on uid/gid ({'; '.join(rests_on)}). {SEED_EXPLANATION}",
        violation=not platform,
    )


RULE = Rule(
    slug=SLUG,
    severity="info",
    guideline=(
        "A uid or gid is not a trust boundary on NFSv3: the client asserts it and the server believes it. "
        "Namespaces are the boundaries."
    ),
    remediation=(
        "Do not rely on runAsUser, runAsGroup, fsGroup or Unix permissions to separate data on NFSv3: "
        "put data that must be separated into volumes of different namespaces (trust boundaries), and "
        "disable NFSv3 on "
        "the SVM (or remove nfs3 from the export rules) where NFSv4 with Kerberos is an option."
    ),
    evidence_key="the NFSv3 protocols admitted, the workloads setting uid/gid and the volume's permissions",
    # The access records it judges come from the join (ARRAY_GATE_KINDS); platform/tenant from Namespaces.
    reads=("PersistentVolumeClaim", "Pod", "Namespace", *ARRAY_GATE_KINDS),
    evaluate=evaluate,
    reads_arrays=True,
    attributed_to="the namespace",
    # A claim, the pods mounting it (only pods of its namespace can) and its namespace's tenancy.
    namespace_local=("PersistentVolumeClaim", "Pod", "Namespace"),
)
