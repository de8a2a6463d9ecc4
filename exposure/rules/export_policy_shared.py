"""`export-policy-shared`: one export policy serves volumes of several tenants, or of a Trident NAS
backend with `autoExportPolicy` off; a rule added for one of them reaches all.

Judgements:
- A policy serves a PV when it is the PV's own (volume or qtree) policy, or, for an economy qtree,
  its parent FlexVol's policy (rules.md names it).  The SVM root's and other junctions' policies
  only gate traversal; they are `export-allows-foreign-hosts`'s concern through the evaluation.
- Only this cluster is visible: a policy shared with another cluster on the same SVM cannot be
  seen, so the detail says so rather than claiming it is not shared.
- A policy that admits nobody (Trident's `<prefix>empty`, held by unpublished volumes) shares no
  access: it is not reported until some rule admits a client.
- Medium when the policy, evaluated as ONTAP does, admits any client that is not a current node
  (foreign, wildcard, unverifiable, a departed node's); info otherwise, Trident's own shared
  policies (`trident-<backendUUID>` of economy and FlexGroup backends) included.
- One finding per array, SVM and policy, attributed to every namespace on it.
"""

import orjson

from arrays.export_policy import ExportPolicy, policy_of
from exposure.analysis.array_exposure import backends, objects_of, volume_uses
from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.rules.base import Hit, Rule
from inventory.constants import NAS_DRIVERS
from inventory.refs import OUTSIDE, array_ref

SLUG = "export-policy-shared"
TRIDENT_ECONOMY_POOL_POLICY = "trident_qtree_pool_export_policy"


def _served_policies(use) -> list[tuple[str, str]]:
    """(policy name, role) of the policies serving this PV's data."""
    record = use.record
    gates = [g for g in record.get("gates") or [] if isinstance(g, dict)]
    own = [(g.get("name") or "", g.get("role") or "") for g in gates if g.get("kind") == "export-policy"][:1]
    if (record.get("object") or {}).get("kind") == "ontap.Qtree":
        parent = next((g for g in gates if g.get("kind") == "traversal-policy"), None)
        if parent is not None:
            own.append((parent.get("name") or "", f"{parent.get('role')} (the qtree's FlexVol)"))
    return [(name, str(role)) for name, role in own if isinstance(name, str)]


def _verdicts(ctx, policy: dict) -> list[str]:
    """Each client the policy itself admits, with its verdict against the node set."""
    if "rules" in policy and not isinstance(policy["rules"], list):
        return ["(unreadable rules): unverifiable"]  # whom it admits cannot be read: anyone, maybe
    rules = policy.get("rules") or []
    # Per-volume policies repeat the same few rule lists (the same nodes): each is evaluated once.
    cache = ctx.memo(f"{SLUG}:verdicts", dict)
    try:
        key = orjson.dumps(rules)
    except orjson.JSONEncodeError:  # not JSON as stored: evaluated as it is
        return _evaluated(ctx, ExportPolicy.from_records(rules))
    if key not in cache:
        # The worker's one policy of these rules, evaluated once while it keeps it (arrays/export_policy.py).
        cache[key] = _evaluated(ctx, policy_of(rules, key))
    return list(cache[key])


def _evaluated(ctx, policy: ExportPolicy) -> list[str]:
    return sorted({f"{p.entry.text}: {ctx.nodes.verdict(p).kind}" for p in policy.admitted_parties()})


def _trident_own(ctx, name: str) -> bool:
    known = backends(ctx).values()
    return name == TRIDENT_ECONOMY_POOL_POLICY or any(
        name in (f"trident-{b.info.uuid}", f"{b.info.storage_prefix}empty") for b in known
    )


def evaluate(ctx):
    known = backends(ctx)
    served: dict[tuple[str, str, str], tuple[set, list]] = {}
    pvs: dict[tuple[str, str, str], set[str]] = {}  # the PVs in each policy's uses, to add each once
    for use in volume_uses(ctx):
        array, obj = use.record.get("array") or "", use.record.get("object") or {}
        if not array or not isinstance(obj.get("name"), str):
            continue
        svm = obj["name"].split("/", 1)[0]
        for name, role in _served_policies(use):
            roles, uses = served.setdefault((array, svm, name), (set(), []))
            roles.add(role)
            if use.pv not in pvs.setdefault((array, svm, name), set()):
                pvs[(array, svm, name)].add(use.pv)
                uses.append(use)
    for (array, svm, name), (roles, uses) in sorted(served.items()):
        ref = array_ref(array, "ontap.ExportPolicy", f"{svm}/{name}")
        policy = ctx.lookup(ref)
        if policy is None:
            continue
        verdicts = _verdicts(ctx, policy)
        if not verdicts:
            continue
        tenants = sorted({ctx.tenancy.tenant_of(u.namespace) for u in uses if u.namespace})
        static = sorted(
            {
                b.info.name
                for u in uses
                if isinstance(u.record.get("backend"), str)
                and (b := known.get(u.record["backend"])) is not None
                and b.info.driver in NAS_DRIVERS
                and b.info.config.get("autoExportPolicy") is not True
            }
        )
        if len(tenants) < 2 and not static:
            continue
        beyond = [v for v in verdicts if not v.endswith(": node")]
        severity = RULE.severity if beyond else "info"
        reasons = []
        if len(tenants) > 1:
            reasons.append(f"serves {len(tenants)} tenants")
        if static:
            reasons.append(f"backend {', '.join(static)} has autoExportPolicy off")
        whose = "Trident's own shared policy" if _trident_own(ctx, name) else "policy"
        yield Hit(
            identity=(ref,),
            severity=severity,
            title=f"Export {whose} {name} on {svm} ({array}) is shared: {'; '.join(reasons)}",
            namespaces=sorted({u.namespace for u in uses if u.namespace}),
            evidence={
                "policy": name,
                "tenants": tenants,
                "backends_without_auto_export": static,
                "admits": verdicts,
            },
            paths=[
                ExposurePath(
                    actor=Actor("outside-host", f"any client policy {name} admits", OUTSIDE),
                    hops=[Hop(ref, f"policy {name}: {', '.join(sorted(roles))}")],
                    data=list(u.data),
                    namespace=u.namespace,
                    access="write",
                    rule=SLUG,
                    severity=severity,
                )
                for u in uses
            ],
            objects=objects_of(ctx, uses, ref),
            arrays={array},
            detail="; ".join(
                [
                    *reasons,
                    f"admits beyond the current nodes: {', '.join(beyond)}"
                    if beyond
                    else "admits only nodes",
                    "volumes of other clusters on this SVM are not visible from this one",
                ]
            ),
        )


RULE = Rule(
    slug=SLUG,
    severity="medium",
    guideline="Backends accept only the cluster's worker nodes: each volume gets a policy of its own.",
    remediation=(
        "Turn on autoExportPolicy for the Trident NAS backend (with autoExportCIDRs set to the node "
        "network) so that each volume gets a policy listing only the nodes it is published to; give "
        "statically exported volumes of different tenants (or clusters) policies of their own."
    ),
    evidence_key="the tenants and backends on the policy, and the clients it admits",
    reads=("PersistentVolume", "TridentBackend", "TridentVolume", "Namespace", "Node", "TridentNode"),
    evaluate=evaluate,
    reads_arrays=True,
    attributed_to="each namespace on that policy",
)
