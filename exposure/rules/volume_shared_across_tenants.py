"""`volume-shared-across-tenants`: two PVs, or a PV and a pod's inline volume, reach one backend object
and their users are in different tenants.

What "the same backend object" means is in exposure/analysis/storage_backing.py (Trident backend
UUID + internal name; NFS server + export path or a path nested under another's, by components;
iSCSI target IQN + LUN or the LUN the join resolved).  Judgements rules.md leaves open:
- A PV's user is the namespace in its claimRef, also while Released: the data is still that
  namespace's, so another tenant reaching it is still an exposure.  An unclaimed PV has no user
  (`pv-available-unclaimed` judges it).
- A Trident subordinate volume (created by a `shareToNamespace` share) is an intended share that
  `volume-shared-by-annotation` judges; it is not counted here.
- One hit per group of consumers of one object; its identity is the sorted identities of the PVs and
  inline volumes (workload + volume name) involved.  Platform users are shown, never a violation.
"""

from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.analysis.storage_backing import Consumer, sharing_groups
from exposure.rules.base import Hit, Rule
from tenancy.boundaries import tenant_label_text

SLUG = "volume-shared-across-tenants"


def _actor(ctx, consumer: Consumer) -> Actor:
    if consumer.pod is not None:
        return ctx.pod_actor(consumer.pod)
    tenant = ctx.tenancy.tenant_of(consumer.namespace)
    return Actor("subject", f"anyone who may create pods in {consumer.namespace}", tenant, consumer.platform)


def _path(ctx, user: Consumer, owner: Consumer) -> ExposurePath:
    inside = ctx.tenancy.same_tenant(user.namespace, owner.namespace)
    platform = user.platform or owner.platform
    via = f"resolves to the same backend object as {owner.identity}: {owner.location or user.location}"
    hops = list(user.hops)
    if hops:
        hops[-1] = Hop(hops[-1].ref, via)
    return ExposurePath(
        actor=_actor(ctx, user),
        hops=hops,
        data=list(owner.data),
        namespace=owner.namespace,
        access="read" if user.read_only else "write",
        rule=SLUG,
        severity="info" if inside or platform else RULE.severity,
        inside_tenant=inside,
        platform=platform,
    )


def evaluate(ctx):
    for group in sharing_groups(ctx):
        users = [c for c in group if c.namespace]
        if len(users) < 2:
            continue
        paths = [_path(ctx, a, b) for a in users for b in users if a is not b]
        tenants = sorted(
            {ctx.tenancy.tenant_of(c.namespace) for c in users if not ctx.tenancy.is_platform(c.namespace)}
        )
        violation = any(p.raises_violation for p in paths)
        namespaces = sorted({c.namespace for c in users if not ctx.tenancy.is_platform(c.namespace)})
        identity = tuple(sorted(c.identity for c in group))
        objects = list(dict.fromkeys(ref for c in group for ref in c.objects))
        arrays = {
            ref.removeprefix("array:").split("/", 1)[0] for c in group for ref in c.data if "array:" in ref
        }
        where = sorted({c.location for c in group if c.location})
        who = ", ".join(tenant_label_text(t) for t in tenants)
        yield Hit(
            identity=identity,
            severity=RULE.severity if violation else "info",
            title=f"One backend object is used by {who}" if violation else "One backend object, one tenant",
            namespaces=namespaces,
            evidence={"locations": where, "tenants": tenants, "users": list(identity)},
            paths=paths,
            objects=objects,
            arrays=arrays,
            detail=(
                f"{len(group)} volumes resolve to the same data ({'; '.join(where)}): "
                "whoever can use one reads and writes the others' data, whatever namespace it sits in."
            ),
            violation=violation,
        )


RULE = Rule(
    slug=SLUG,
    severity="critical",
    guideline=(
        "Namespaces are the trust boundaries: a volume's data belongs to one tenant, so no two tenants' "
        "volumes may resolve to the same backend object."
    ),
    remediation=(
        "Give each tenant its own backend volume: remove the PV or inline volume that reaches another "
        "tenant's data (and find out who created it: only administrators can create PVs), or move the "
        "namespaces into one tenant if the sharing is intended. Use Trident's shareToNamespace with a "
        "TridentVolumeReference for deliberate shares, so they are visible and reviewed."
    ),
    evidence_key="the backend objects shared, the tenants sharing them and the volumes involved",
    reads=(
        "PersistentVolume",
        "PersistentVolumeClaim",
        "Pod",
        "Namespace",
        "TridentVolume",
        "TridentBackend",
    ),
    evaluate=evaluate,
    reads_arrays=True,
    attributed_to="every tenant involved",
)
