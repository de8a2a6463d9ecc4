"""`pv-writable-by-non-admins`: someone besides the administrators may write PVs or Trident's objects.

Whoever may create, update or patch a PersistentVolume can craft one that points at any export or LUN
and claim it from its own namespace; whoever may write `trident.netapp.io` objects in Trident's
namespace can add backends or re-point volumes.  Judgements rules.md leaves open:

- PVs: `create`, `update`, `patch` cluster-wide (a RoleBinding cannot grant a cluster-scoped
  resource; a `resourceNames` rule cannot create).  Trident: `create`, `update`, `patch`, `delete`,
  `deletecollection` on any resource of the group, granted in the Trident namespace (a RoleBinding
  there) or cluster-wide.  Tenants' own namespaces may hold Trident objects meant for them
  (TridentVolumeReference accepts a share the source opted into), so grants there do not count.
- Control-plane identities, Trident's and platform service accounts write these by design: kept as
  platform paths, never a violation.  Administrators are not reported.
- Attributed to every namespace (except Kubernetes' bookkeeping ones); the path into the subject's
  own tenant is marked inside the tenant.  Cluster-wide by nature (PVs are cluster-scoped; Trident's
  objects serve every namespace): graded as the cluster's, not as each namespace's.
"""

from exposure.analysis.paths import ExposurePath
from exposure.analysis.rbac import (
    ADMIN,
    ORDINARY,
    grant_hops,
    inside_tenant,
    rbac_of,
    reachable_namespaces,
    subject_actor,
)
from exposure.rules.base import RBAC_KINDS, Hit, Rule
from inventory.kinds import TRIDENT_GROUP
from inventory.refs import k8s_ref

SLUG = "pv-writable-by-non-admins"
PV_WRITE = ("create", "update", "patch")
TRIDENT_WRITE = ("create", "update", "patch", "delete", "deletecollection")


def evaluate(ctx):
    index = rbac_of(ctx)
    namespaces = reachable_namespaces(ctx)
    seen = set()
    for grant in index.grants:
        granted = [f"{verb} persistentvolumes" for verb in grant.verbs_on(PV_WRITE, "", "persistentvolumes")]
        granted += grant.writes_in_group(TRIDENT_WRITE, TRIDENT_GROUP, ctx.trident_namespace)
        kind = index.classify(grant.subject)
        identity = (grant.subject.key, grant.role, grant.binding)
        if not granted or kind == ADMIN or identity in seen:
            continue
        seen.add(identity)
        platform = kind != ORDINARY
        actor = subject_actor(ctx, grant.subject, kind, [grant.namespace] if grant.namespace else [])
        hops = grant_hops(grant, granted)
        paths = [
            ExposurePath(
                actor=actor,
                hops=hops,
                data=[k8s_ref("Namespace", namespace)] if namespace else [],
                namespace=namespace,
                access="write",
                rule=SLUG,
                severity="info" if platform or inside_tenant(ctx, actor, namespace) else RULE.severity,
                inside_tenant=inside_tenant(ctx, actor, namespace),
                platform=platform,
            )
            for namespace in namespaces or [""]
        ]
        yield Hit(
            identity=identity,
            severity=RULE.severity,
            title=f"{grant.subject.label} may write PersistentVolumes or Trident's objects",
            namespaces=list(namespaces),
            evidence={"subject": grant.subject.key, "role": grant.role, "granted": granted},
            paths=paths,
            objects=[grant.binding, grant.role],
            detail=(
                f"{grant.binding} grants {grant.role} to {grant.subject.label}: it can craft a PV that "
                "points at any export and claim it from its own namespace"
            ),
            violation=any(path.raises_violation for path in paths),
            cluster_wide=True,
        )


RULE = Rule(
    slug=SLUG,
    severity="critical",
    guideline=(
        "Only an administrator, or Trident, can manage PVs: users cannot create, manage, destroy or "
        "assign PVs to themselves or anyone."
    ),
    remediation=(
        "Remove the binding, or drop persistentvolumes and trident.netapp.io write verbs from the role. "
        "The seed: only an administrator, or Trident because of its service account's permissions, are "
        "able to manage PVs."
    ),
    evidence_key="the subject, the role and the write verbs it grants on PVs and Trident's resources",
    reads=RBAC_KINDS,
    evaluate=evaluate,
    attributed_to="every namespace (it can reach all of them)",
)
