"""`pv-available-unclaimed`: an Available PV that the first matching PVC from any namespace gets.

Fires for phase `Available` with no `claimRef`, and for a `claimRef` that pre-binds it to a namespace
that does not exist (or is Terminating: once gone, whoever creates a namespace of that name claims
it).  Judgements rules.md leaves open:
- "Ever bound": the claimRef names a claim's uid, the bind controller annotated it, Trident provisioned
  it dynamically (provisioning happens for a claim), or its TridentVolume records a requesting claim.
- "Holds a backend volume with data": the array object it resolves to (or, for a qtree or LUN, the
  volume holding it) reports used space.  Either makes it high; otherwise low.
- The former owner is the TridentVolume's `config.namespace`, else the namespace of a claimRef that
  carried a uid.  Without one the finding is the cluster's.
- When the snapshot holds no Namespace at all (not read), pre-binding is not judged: every namespace
  would look missing.
"""

from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.analysis.storage_backing import record_object_ref, tvol_of_pv
from exposure.rules.base import Hit, Rule
from inventory.fields import as_mapping as _mapping
from inventory.refs import EVERYONE, k8s_ref

SLUG = "pv-available-unclaimed"


def _has_data(ctx, record: dict | None) -> bool:
    obj = (record or {}).get("object") or {}
    array = ctx.state.arrays.get((record or {}).get("array") or "")
    if array is None or not obj.get("name"):
        return False
    found = array.get(obj.get("kind") or "", obj["name"]) or {}
    if found.get("has_data") is True:
        return True
    svm = str(obj["name"]).split("/", 1)[0]
    holder = (found.get("volume") or (found.get("location") or {}).get("volume") or {}).get("name")
    return bool(holder) and (array.get("ontap.Volume", f"{svm}/{holder}") or {}).get("has_data") is True


def _missing_namespaces(ctx) -> set[str] | None:
    """Namespaces that do not exist or are going away; None when Namespaces were not read."""
    namespaces = ctx.state.of_kind("Namespace")
    if not namespaces:
        return None
    return {
        name
        for (_, name), ns in namespaces.items()
        if isinstance(ns.get("status"), dict) and ns["status"].get("phase") == "Terminating"
    }


def _exists(ctx, namespace: str, terminating: set[str]) -> bool:
    return ctx.state.get("Namespace", namespace) is not None and namespace not in terminating


def evaluate(ctx):
    terminating = _missing_namespaces(ctx)
    for (_, name), pv in ctx.state.of_kind("PersistentVolume").items():
        spec, status = _mapping(pv.get("spec")), _mapping(pv.get("status"))
        if status.get("phase") != "Available":
            continue
        claim = spec.get("claimRef") if isinstance(spec.get("claimRef"), dict) else {}
        prebound = claim.get("namespace") if isinstance(claim.get("namespace"), str) else ""
        if prebound and (terminating is None or _exists(ctx, prebound, terminating)):
            continue  # pre-bound to a namespace that exists: only it can claim the PV
        meta = _mapping(pv.get("metadata"))
        annotations = _mapping(meta.get("annotations"))
        tvol_name, tvol = tvol_of_pv(ctx, pv)
        tconfig = _mapping((tvol or {}).get("config"))
        ever_bound = bool(
            claim.get("uid")
            or annotations.get("pv.kubernetes.io/bound-by-controller")
            or annotations.get("pv.kubernetes.io/provisioned-by")
            or tconfig.get("requestName")
        )
        record = ctx.volume_access.get(name)
        has_data = _has_data(ctx, record)
        former = tconfig.get("namespace") or (prebound if claim.get("uid") else "") or ""
        former = former if isinstance(former, str) else ""
        severity = "high" if ever_bound or has_data else "low"
        pv_ref = k8s_ref("PersistentVolume", name)
        tvol_ref = k8s_ref("TridentVolume", tvol_name.lower(), ctx.trident_namespace)  # as looked up
        obj = record_object_ref(ctx, record)
        why = (
            f"claimRef pre-binds it to namespace {prebound}, which does not exist"
            if prebound
            else "no claimRef"
        )
        yield Hit(
            identity=(pv_ref,),
            severity=severity,
            title=f"PersistentVolume {name} is Available to the first matching claim from any namespace",
            namespaces=[former] if former else [],
            evidence={"prebound_to": prebound, "ever_bound": ever_bound, "has_data": has_data},
            paths=[
                ExposurePath(
                    actor=Actor("any-namespace", "whoever first creates a matching PVC", EVERYONE),
                    hops=[Hop(pv_ref, f"status.phase Available, {why}")],
                    data=[r for r in (pv_ref, obj) if r],
                    namespace=former,
                    access="write",
                    rule=SLUG,
                    severity=severity,
                )
            ],
            objects=[pv_ref, *([tvol_ref] if tvol else [])],
            arrays={record["array"]} if obj else set(),
            detail=(
                f"{why}; {'it was bound before' if ever_bound else 'never bound'}"
                f"{', its backend volume holds data' if has_data else ''}"
                f"{f'; former owner {former}' if former else ''}."
            ),
        )


RULE = Rule(
    slug=SLUG,
    severity="high",
    guideline=(
        "Namespaces are the trust boundaries: a PV that any namespace's claim can bind hands its data to "
        "whoever asks first."
    ),
    remediation=(
        "Pre-bind the PV to its intended claim (spec.claimRef with namespace and name of an existing "
        "namespace), or delete it and its backend volume if the data is no longer needed. Never leave a "
        "PV holding data Available."
    ),
    evidence_key="whether it is pre-bound and to what, whether it was ever bound, whether it holds data",
    reads=("PersistentVolume", "Namespace", "TridentVolume"),
    evaluate=evaluate,
    reads_arrays=True,
    attributed_to="cluster (and the former owner, if known)",
)
