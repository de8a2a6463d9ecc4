"""`pv-visible-to-non-admins`: someone besides the administrators may read PersistentVolumes.

The seed: only cluster administrators can view PV details; whoever can read them sees every tenant's
backend paths (export paths, IQNs, LUNs).  Judgements rules.md leaves open:

- Only cluster-wide reads count: a RoleBinding cannot grant a cluster-scoped resource, and a rule
  limited by `resourceNames` grants `get` of the named PVs only, never the listing of all of them.
- Control-plane identities (the scheduler, kubelets, the PV controllers), Trident's service accounts
  and platform service accounts read PVs by design: their grants are kept as platform paths, never a
  violation.  Administrators are not reported at all.
- One finding per subject, role and binding: removing the binding or narrowing the role resolves it.
- Attributed to the cluster (PVs are cluster-scoped): the cluster's grade.
"""

from exposure.analysis.paths import ExposurePath
from exposure.analysis.rbac import ADMIN, ORDINARY, grant_hops, rbac_of, subject_actor
from exposure.rules.base import RBAC_KINDS, Hit, Rule

SLUG = "pv-visible-to-non-admins"
READ = ("get", "list", "watch")


def evaluate(ctx):
    index = rbac_of(ctx)
    seen = set()
    for grant in index.grants_on("", "persistentvolumes"):
        verbs = grant.verbs_on(READ, "", "persistentvolumes")
        kind = index.classify(grant.subject)
        identity = (grant.subject.key, grant.role, grant.binding)
        if not verbs or kind == ADMIN or identity in seen:
            continue
        seen.add(identity)
        granted = [f"{verb} persistentvolumes" for verb in verbs]
        platform = kind != ORDINARY
        actor = subject_actor(ctx, grant.subject, kind)
        yield Hit(
            identity=identity,
            severity=RULE.severity,
            title=f"{grant.subject.label} may {'/'.join(verbs)} every PersistentVolume",
            namespaces=[],
            evidence={"subject": grant.subject.key, "role": grant.role, "granted": granted},
            paths=[
                ExposurePath(
                    actor=actor,
                    hops=grant_hops(grant, granted),
                    data=[],
                    namespace="",
                    access="metadata",
                    rule=SLUG,
                    severity="info" if platform else RULE.severity,
                    platform=platform,
                )
            ],
            objects=[grant.binding, grant.role],
            detail=(
                f"{grant.binding} grants {grant.role} to {grant.subject.label}; "
                f"it sees every tenant's backend paths ({kind})"
            ),
            violation=not platform,
            cluster_wide=True,
        )


RULE = Rule(
    slug=SLUG,
    severity="medium",
    guideline=(
        "Users get namespaces that belong to them and no cluster-level permissions: only cluster "
        "administrators, the control plane and Trident may view PersistentVolume details."
    ),
    remediation=(
        "Remove the binding, or drop persistentvolumes (and `*`) from the role's rules. The seed: only "
        "cluster administrators can view PV details; users cannot even view the details of their own PVs."
    ),
    evidence_key="the subject, the role and the verbs it grants on persistentvolumes",
    reads=RBAC_KINDS,
    evaluate=evaluate,
    attributed_to="cluster",
)
