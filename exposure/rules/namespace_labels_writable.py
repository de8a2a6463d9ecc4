"""`namespace-labels-writable`: someone besides the administrators may change Namespace objects.

Tenancy, owners and Pod Security levels are read from Namespace labels only, so whoever may write them
can move itself across trust boundaries and admit privileged pods.  Judgements rules.md leaves open:

- `update` or `patch` of a namespace is judged per namespace, as the API server does: a request on the
  Namespace object itself carries that namespace, so a RoleBinding in X that allows patching
  `namespaces` lets its subjects relabel X (and only X); a cluster-wide rule limited by
  `resourceNames` lets them relabel the named namespaces.  `create` needs a cluster-wide grant: a new
  namespace can carry any tenant's label and join that tenant, so it is attributed to every tenant
  namespace when a tenant label is declared, else to the cluster.
- Cluster-wide (graded as the cluster's, not each namespace's) when the grant reaches every namespace
  by its nature: update/patch of any namespace by a ClusterRoleBinding, or `create`.  A RoleBinding's
  own namespace, or the namespaces `resourceNames` lists, are those namespaces' own exposure, even
  when they happen to be all the namespaces there are.
- Changing its own namespace's labels is already the crossing (a new tenant label, a lower Pod
  Security level): no path of this rule is "inside the tenant".
- Administrators and control-plane identities are not reported; Trident's and platform service
  accounts are kept as platform paths, never a violation.
"""

from exposure.analysis.paths import ExposurePath
from exposure.analysis.rbac import (
    ADMIN,
    CONTROL_PLANE,
    ORDINARY,
    grant_hops,
    rbac_of,
    reachable_namespaces,
    subject_actor,
)
from exposure.rules.base import RBAC_KINDS, Hit, Rule
from inventory.refs import k8s_ref

SLUG = "namespace-labels-writable"
CHANGE = ("update", "patch")


def changes(ctx, grant, namespaces: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """(the verbs granted, namespace -> the verbs that change it)."""
    changed = {}
    # Only what the grant can name needs asking one by one: its own namespace for a RoleBinding, the
    # named namespaces of resourceNames rules; any other answer is the same for every namespace.
    if grant.namespace:
        candidates = [grant.namespace] if grant.namespace in namespaces else []
    else:
        named = {n for rule in grant.rules for n in rule.resource_names or ()}
        anyone = grant.verbs_on(CHANGE, "", "namespaces", namespace="", name="\0(any namespace)")
        candidates = namespaces if anyone else [n for n in namespaces if n in named]
    for namespace in candidates:
        if verbs := grant.verbs_on(CHANGE, "", "namespaces", namespace=namespace, name=namespace):
            changed[namespace] = verbs
    verbs = sorted({verb for found in changed.values() for verb in found})
    if grant.verbs_on(("create",), "", "namespaces"):
        verbs.append("create")
        joinable = (
            [n for n in namespaces if ctx.tenancy.is_tenant_namespace(n)] if ctx.settings.tenant_label else []
        )
        for namespace in joinable:
            changed.setdefault(namespace, ["create"])
    return verbs, changed


def evaluate(ctx):
    index = rbac_of(ctx)
    namespaces = reachable_namespaces(ctx)
    seen = set()
    for grant in index.grants_on("", "namespaces"):
        kind = index.classify(grant.subject)
        identity = (grant.subject.key, grant.role, grant.binding)
        if kind in (ADMIN, CONTROL_PLANE) or identity in seen:
            continue
        verbs, changed = changes(ctx, grant, namespaces)
        if not verbs:
            continue
        seen.add(identity)
        granted = [f"{verb} namespaces" for verb in verbs]
        platform = kind != ORDINARY
        actor = subject_actor(ctx, grant.subject, kind, [grant.namespace] if grant.namespace else [])
        paths = [
            ExposurePath(
                actor=actor,
                hops=grant_hops(grant, granted),
                data=[k8s_ref("Namespace", namespace)] if namespace else [],
                namespace=namespace,
                access="write",
                rule=SLUG,
                severity="info" if platform else RULE.severity,
                platform=platform,
            )
            for namespace in sorted(changed) or [""]
        ]
        everywhere = bool(grant.cluster_wide and grant.verbs_on(CHANGE, "", "namespaces"))
        scope = "every namespace" if everywhere else sorted(changed)
        yield Hit(
            identity=identity,
            severity=RULE.severity,
            title=f"{grant.subject.label} may {'/'.join(verbs)} namespaces",
            namespaces=sorted(changed),
            evidence={"subject": grant.subject.key, "role": grant.role, "granted": granted, "scope": scope},
            paths=paths,
            objects=[grant.binding, grant.role],
            detail=(
                f"{grant.binding} grants {grant.role} to {grant.subject.label}: it can set tenant, owner and "
                "Pod Security labels"
                + ("; a namespace it creates can carry any tenant's label" if "create" in verbs else "")
            ),
            violation=not platform,
            cluster_wide=everywhere or "create" in verbs,
        )


def forgers(ctx, hits: list[Hit] | None = None) -> dict[str, list[str]]:
    """namespace -> the subjects (not administrators, the control plane or the platform) that may
    change it, and so could write themselves in as its owner (tenancy/ownership.py).  `hits`: this
    rule's, when it ran on `ctx` (else it is evaluated here: disabled, or its findings carried)."""
    found: dict[str, set[str]] = {}
    for hit in evaluate(ctx) if hits is None else hits:
        if hit.violation:
            for namespace in hit.namespaces:
                found.setdefault(namespace, set()).add(hit.evidence["subject"])
    return {namespace: sorted(subjects) for namespace, subjects in found.items()}


RULE = Rule(
    slug=SLUG,
    severity="high",
    guideline=(
        "Namespaces are the trust boundaries: only administrators may set the labels that say which "
        "tenant a namespace belongs to and which pods it admits."
    ),
    remediation=(
        "Remove create/update/patch on namespaces from the role (and from `*`), or the binding. Tenants "
        "should get namespaces that belong to them, created and labelled by an administrator, and no "
        "cluster-level permissions."
    ),
    evidence_key="the subject, the role, the verbs it grants on namespaces and which namespaces",
    reads=(*RBAC_KINDS, "Namespace"),
    evaluate=evaluate,
    attributed_to="every namespace it can change",
)
