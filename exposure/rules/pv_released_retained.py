"""`pv-released-retained`: a Released PV kept by `Retain` is data with no owner.

The seed: such a PV can never be bound again and only an administrator can reach it; its data
outlives its claim.  It is attributed to the namespace in its `claimRef` (the former owner), and its
age (since it became Released, or since creation when the transition time is unknown) is reported.
"""

from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.rules.base import Hit, Rule
from inventory.fields import as_mapping as _mapping
from inventory.refs import k8s_ref

SLUG = "pv-released-retained"


def evaluate(ctx):
    for (_, name), pv in ctx.state.of_kind("PersistentVolume").items():
        spec, status = _mapping(pv.get("spec")), _mapping(pv.get("status"))
        if status.get("phase") != "Released" or spec.get("persistentVolumeReclaimPolicy") != "Retain":
            continue
        claim = _mapping(spec.get("claimRef"))
        owner = claim.get("namespace") if isinstance(claim.get("namespace"), str) else ""
        pv_ref = k8s_ref("PersistentVolume", name)
        since = status.get("lastPhaseTransitionTime") or _mapping(pv.get("metadata")).get("creationTimestamp")
        former = f"{owner}/{claim.get('name')}" if owner else "an unknown claim"
        yield Hit(
            identity=(pv_ref,),
            severity=RULE.severity,
            title=f"PersistentVolume {name} was released by {former} and kept (Retain)",
            namespaces=[owner] if owner else [],
            evidence={"phase": "Released", "reclaim": "Retain", "claim": former},
            paths=[
                ExposurePath(
                    actor=Actor(
                        "subject", "cluster administrators", "(cluster administrators)", platform=True
                    ),
                    hops=[Hop(pv_ref, "status.phase Released, spec.persistentVolumeReclaimPolicy Retain")],
                    data=[pv_ref],
                    namespace=owner,
                    access="write",
                    rule=SLUG,
                    severity=RULE.severity,
                    platform=True,
                )
            ],
            objects=[pv_ref],
            detail=f"released since {since or 'an unknown time'}; its data outlives its claim {former}",
        )


RULE = Rule(
    slug=SLUG,
    severity="medium",
    guideline="Namespaces are the trust boundaries: data whose claim is gone belongs to no namespace.",
    remediation=(
        "Decide what the data is for: delete the PV and its backend volume if it is no longer needed, or "
        "re-bind it deliberately (clear spec.claimRef, then pre-bind it to the owner's new claim). "
        "Until then only cluster administrators can reach it, and nobody owns it."
    ),
    evidence_key="the PV's phase and reclaim policy, and the claim it was released by",
    reads=("PersistentVolume",),
    evaluate=evaluate,
    attributed_to="the namespace in its claimRef",
)
