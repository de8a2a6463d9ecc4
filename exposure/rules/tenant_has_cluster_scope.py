"""`tenant-has-cluster-scope`: a tenant's subject also holds power across namespaces.

The seed: users get namespaces that belong to them, with no cluster-level permissions.  A subject is a
tenant's when it holds a RoleBinding in a tenant namespace, or is a service account of one.  It fires
when a ClusterRoleBinding that reaches it (by its name, or through `system:authenticated`,
`system:serviceaccounts`, `system:serviceaccounts:NS`) grants, across namespaces:

- pod creation (`create pods`: any pod, privileged or mounting any PVC of that namespace);
- `pods/exec` (`create`, or `get`, which opens exec over WebSocket before Kubernetes 1.31);
- secret access (`get`, `list` or `watch` secrets);
- `serviceaccounts/token` creation (a token of any service account, a controller's included);
- `bind` or `escalate` on roles/clusterroles, or `impersonate` users, groups, service accounts or uids.

It also fires for a RoleBinding in a platform namespace (kube-system, Trident's, or the admin's list)
granting any of these there: a pod or a token in kube-system runs as the controllers and on the
control plane's terms, so it controls the cluster just as a cluster-wide grant does.

Judgements rules.md leaves open:

- Attributed to the namespaces it reaches beyond its own tenant (every namespace but Kubernetes'
  bookkeeping ones) and also to the tenant namespaces it is bound in, as a privileged pod is attributed
  to its own namespace: that tenant's owner must see who in it holds cluster scope.  The paths into its
  own tenant are marked inside the tenant.  Cluster-wide by nature (the grant reaches every namespace,
  or controls the cluster from a platform namespace): graded as the cluster's, not each namespace's.
- Grants limited by `resourceNames` do not count (they grant no cluster-wide capability).
- A platform-namespace grant gives `root` whatever the power: the platform's service accounts and
  secrets are the cluster's.  A RoleBinding never grants a cluster-scoped resource (clusterroles,
  users, groups, uids), as the API server decides.
- One finding per subject and binding (and its role); administrators and the control plane are not
  reported, Trident's and platform service accounts become platform paths.
"""

from exposure.analysis.paths import ExposurePath, Hop
from exposure.analysis.rbac import (
    ADMIN,
    CONTROL_PLANE,
    ORDINARY,
    grant_hops,
    inside_tenant,
    rbac_of,
    reachable_namespaces,
    subject_actor,
)
from exposure.rules.base import RBAC_KINDS, Hit, Rule
from inventory.refs import k8s_ref

SLUG = "tenant-has-cluster-scope"
READ = ("get", "list", "watch")
RBAC_GROUP = "rbac.authorization.k8s.io"

# (verbs, API group, resource, namespaced, access it gives to another namespace's data)
POWERS = (
    (("create",), "", "pods", True, "write"),
    (("create", "get"), "", "pods/exec", True, "write"),
    (READ, "", "secrets", True, "read"),
    (("create",), "", "serviceaccounts/token", True, "root"),
    (("bind", "escalate"), RBAC_GROUP, "roles", True, "root"),
    (("bind", "escalate"), RBAC_GROUP, "clusterroles", False, "root"),
    (("impersonate",), "", "users", False, "root"),
    (("impersonate",), "", "groups", False, "root"),
    (("impersonate",), "", "serviceaccounts", True, "root"),
    (("impersonate",), "authentication.k8s.io", "uids", False, "root"),
)
ACCESS_RANK = {"read": 0, "write": 1, "root": 2}


def tenant_members(ctx, index) -> dict:
    """subject -> (its tenant namespaces, the RoleBindings that make it a tenant's)."""
    members: dict = {}

    def add(subject, namespace, binding=None):
        namespaces, bindings = members.setdefault(subject, (set(), set()))
        namespaces.add(namespace)
        if binding:
            bindings.add(binding)

    for grant in index.grants:
        if grant.namespace and ctx.tenancy.is_tenant_namespace(grant.namespace):
            add(grant.subject, grant.namespace, grant.binding)
        if grant.subject.kind == "ServiceAccount" and ctx.tenancy.is_tenant_namespace(
            grant.subject.namespace
        ):
            add(grant.subject, grant.subject.namespace)
    return members


def powers_of(grant) -> tuple[list[str], str]:
    """The powers a cluster-wide grant gives everywhere, or a platform-namespace grant gives there."""
    granted, access = [], ""
    for verbs, group, resource, namespaced, level in POWERS:
        if grant.namespace and not namespaced:
            continue  # a RoleBinding never reaches a cluster-scoped resource
        found = grant.verbs_on(verbs, group, resource, namespace=grant.namespace)
        granted += [f"{verb} {group + '/' if group else ''}{resource}" for verb in found]
        if found:
            level = "root" if grant.namespace else level  # the platform's accounts are the cluster's
            if not access or ACCESS_RANK[level] > ACCESS_RANK[access]:
                access = level
    return granted, access


def controls_cluster(ctx, grant) -> bool:
    """Cluster-wide, or inside a platform namespace: either way the whole cluster is in reach."""
    return grant.cluster_wide or ctx.tenancy.is_platform(grant.namespace)


def evaluate(ctx):
    index = rbac_of(ctx)
    everywhere = reachable_namespaces(ctx)
    # The few grants with a power over the cluster, judged once; thousands of tenant subjects are
    # then matched against them only (never every grant for every subject).
    powered = [(g, *powers_of(g)) for g in index.grants if controls_cluster(ctx, g)]
    powered = [(g, granted, access) for g, granted, access in powered if granted]
    for subject, (own, bindings) in sorted(tenant_members(ctx, index).items()):
        held = subject.groups()
        reaching = [item for item in powered if item[0].subject in held]
        if not reaching:
            continue
        kind = index.classify(subject)
        if kind in (ADMIN, CONTROL_PLANE):
            continue
        own_tenants = {ctx.tenancy.tenant_of(namespace) for namespace in own}
        beyond = [n for n in everywhere if ctx.tenancy.tenant_of(n) not in own_tenants]
        actor = subject_actor(ctx, subject, kind, sorted(own))
        platform = kind != ORDINARY
        seen = set()
        for grant, granted, access in reaching:
            identity = (subject.key, grant.binding, grant.role)
            if identity in seen:
                continue
            seen.add(identity)
            via = "" if grant.subject == subject else f" through {grant.subject.label}"
            where = f"in platform namespace {grant.namespace}" if grant.namespace else "cluster-wide"
            reach = f"in platform namespace {grant.namespace}" if grant.namespace else "in every namespace"
            hops = [Hop(b, f"subjects: {subject.label}") for b in sorted(bindings)] + grant_hops(
                grant, granted
            )
            paths = []
            for namespace in sorted(set(own) | set(beyond)) or [""]:
                inside = inside_tenant(ctx, actor, namespace) or namespace in own
                paths.append(
                    ExposurePath(
                        actor=actor,
                        hops=hops,
                        data=[k8s_ref("Namespace", namespace)] if namespace else [],
                        namespace=namespace,
                        access=access,
                        rule=SLUG,
                        severity="info" if platform or inside else RULE.severity,
                        inside_tenant=inside,
                        platform=platform,
                    )
                )
            yield Hit(
                identity=identity,
                severity=RULE.severity,
                title=f"{subject.label} ({', '.join(sorted(own))}) holds {grant.role} {where}",
                namespaces=sorted(set(own) | set(beyond)),
                evidence={
                    "subject": subject.key,
                    "binding": grant.binding,
                    "role": grant.role,
                    "via": grant.subject.key,
                    "granted": granted,
                },
                paths=paths,
                objects=[grant.binding, grant.role, *sorted(bindings)],
                detail=(
                    f"{grant.binding}{via} grants {', '.join(granted)} {reach} to a subject "
                    f"bound in tenant namespace(s) {', '.join(sorted(own))}"
                ),
                violation=any(path.raises_violation for path in paths),
                cluster_wide=True,
            )


RULE = Rule(
    slug=SLUG,
    severity="high",
    guideline=(
        "Limit application users to specific namespaces which belong to them, with no cluster-level "
        "permissions."
    ),
    remediation=(
        "Replace the ClusterRoleBinding (or the RoleBinding in the platform namespace) with RoleBindings "
        "in the namespaces the subject owns, or narrow the role: no pod creation, pods/exec, secret access "
        "or service-account token creation across namespaces or in kube-system and Trident's namespace, "
        "and no bind, escalate or impersonate. The seed: users get namespaces which belong to them, with "
        "no cluster-level permissions."
    ),
    evidence_key="the subject, its binding (cluster-wide or in a platform namespace), role and powers",
    reads=(*RBAC_KINDS, "Namespace"),
    evaluate=evaluate,
    attributed_to="the namespaces it can reach beyond its own (and the tenant namespaces it is bound in)",
)
