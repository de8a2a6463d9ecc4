"""`volume-shared-by-annotation`: a PVC shared with other namespaces through Trident's volume sharing.

Reads the source PVC's `trident.netapp.io/shareToNamespace` (a comma list; `*` is every namespace)
and TridentVolumeReferences in other namespaces that point at it.  Judgements:
- One hit per source PVC, at the worst of its targets: `*` or a namespace of another tenant is high,
  a namespace of the same tenant is info, a platform namespace is shown but raises nothing.
- A TridentVolumeReference counts even when the annotation does not list its namespace (Trident then
  refuses the subordinate volume, but someone asked for the data); the detail says so.
- A clone (`dataSourceRef`, `trident.netapp.io/cloneFromPVC`) is an independent copy, not a share:
  only the annotation and the references make a share.
"""

from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.rules.base import Hit, Rule, worst
from inventory.fields import as_mapping as _mapping
from inventory.refs import EVERYONE, k8s_ref

SLUG = "volume-shared-by-annotation"
SHARE_TO = "trident.netapp.io/shareToNamespace"
SHARE_FROM = "trident.netapp.io/shareFromPVC"


def share_targets(value) -> list[str]:
    """The annotation's namespaces, in order, without blanks or repeats (`*` kept as such)."""
    if not isinstance(value, str):
        return []
    return list(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))


def _annotations(obj: dict) -> dict:
    return _mapping(_mapping(obj.get("metadata")).get("annotations"))


def evaluate(ctx):
    references: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for (namespace, name), tvr in ctx.state.of_kind("TridentVolumeReference").items():
        spec = _mapping(tvr.get("spec"))
        source = (spec.get("pvcNamespace"), spec.get("pvcName"))
        if all(isinstance(s, str) and s for s in source) and namespace != source[0]:
            references.setdefault(source, []).append((namespace, name))
    subordinates: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for (namespace, name), pvc in ctx.state.of_kind("PersistentVolumeClaim").items():
        source = _annotations(pvc).get(SHARE_FROM)
        if isinstance(source, str) and "/" in source:
            subordinates.setdefault(tuple(source.split("/", 1)), []).append((namespace, name))
    for (namespace, name), pvc in ctx.state.of_kind("PersistentVolumeClaim").items():
        annotated = share_targets(_annotations(pvc).get(SHARE_TO))
        refs = references.get((namespace, name), [])
        if annotated or refs:
            hit = _hit(ctx, namespace, name, pvc, annotated, refs, subordinates.get((namespace, name), []))
            if hit is not None:
                yield hit


def _hit(ctx, namespace, name, pvc, annotated, refs, subordinates) -> Hit | None:
    pvc_ref = k8s_ref("PersistentVolumeClaim", name, namespace)
    volume = _mapping(pvc.get("spec")).get("volumeName")
    pv_ref = (
        k8s_ref("PersistentVolume", volume)
        if isinstance(volume, str) and volume and ctx.state.get("PersistentVolume", volume)
        else ""
    )
    data = [r for r in (pvc_ref, pv_ref) if r]
    targets = list(dict.fromkeys([t for t in annotated if t != namespace] + [ns for ns, _ in refs]))
    paths, severities = [], []
    for target in targets:
        hops = (
            [Hop(pvc_ref, f"metadata.annotations[{SHARE_TO}]")]
            if target in annotated or "*" in annotated
            else []
        )
        hops += [
            Hop(k8s_ref("TridentVolumeReference", ref_name, ref_ns), "spec.pvcName/pvcNamespace")
            for ref_ns, ref_name in refs
            if ref_ns == target or target == "*"
        ]
        hops += [
            Hop(k8s_ref("PersistentVolumeClaim", sub_name, sub_ns), f"metadata.annotations[{SHARE_FROM}]")
            for sub_ns, sub_name in subordinates
            if sub_ns == target or target == "*"
        ]
        if target == "*":
            actor, inside, platform, severity = (
                Actor("any-namespace", "every namespace", EVERYONE),
                False,
                False,
                "high",
            )
        else:
            inside = ctx.tenancy.same_tenant(namespace, target)
            platform = ctx.tenancy.is_platform(target)
            severity = "info" if inside or platform else "high"
            actor = Actor(
                "subject", f"anyone who may create PVCs in {target}", ctx.tenancy.tenant_of(target), platform
            )
        severities.append(severity)
        paths.append(
            ExposurePath(
                actor=actor,
                hops=hops or [Hop(pvc_ref, "shared")],
                data=data,
                namespace=namespace,
                access="write",
                rule=SLUG,
                severity=severity,
                inside_tenant=inside,
                platform=platform,
            )
        )
    if not paths:
        return None  # shared only with its own namespace
    unadmitted = sorted({ns for ns, _ in refs} - set(annotated)) if "*" not in annotated else []
    severity = worst(*severities)
    objects = [pvc_ref, *([pv_ref] if pv_ref else [])]
    objects += [k8s_ref("TridentVolumeReference", n, ns) for ns, n in refs]
    objects += [k8s_ref("PersistentVolumeClaim", n, ns) for ns, n in subordinates]
    return Hit(
        identity=(pvc_ref,),
        severity=severity,
        title=f"PersistentVolumeClaim {namespace}/{name} is shared with {', '.join(targets)}",
        namespaces=[namespace],
        evidence={"share_to": annotated, "references": sorted(f"{ns}/{n}" for ns, n in refs)},
        paths=paths,
        objects=objects,
        detail=(
            ("shared with every namespace; " if "*" in annotated else "")
            + (
                f"references from {', '.join(unadmitted)} are not admitted by the annotation; "
                if unadmitted
                else ""
            )
            + "a subordinate volume in the target namespace reads and writes the source's data."
        ),
        violation=any(not p.platform for p in paths),
    )


RULE = Rule(
    slug=SLUG,
    severity="high",
    guideline=(
        "Namespaces are the trust boundaries: a volume shared into another namespace is an exposure path, "
        "judged by the tenant it reaches."
    ),
    remediation=(
        "Share only inside one tenant: list explicit namespaces in trident.netapp.io/shareToNamespace, never "
        "'*', and remove namespaces of other tenants (and their TridentVolumeReferences) unless the data "
        "owner has agreed to the share."
    ),
    evidence_key="the namespaces the annotation lists and the references pointing at the PVC",
    reads=("PersistentVolumeClaim", "TridentVolumeReference", "Namespace", "PersistentVolume"),
    evaluate=evaluate,
    attributed_to="the source PVC's namespace",
)
