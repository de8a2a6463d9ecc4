"""`namespace-admits-privileged`: a tenant namespace whose Pod Security level admits privileged pods.

Read from Namespace objects only (a label on a pod is tenant text): the label
`pod-security.kubernetes.io/enforce`, or, when it is missing, the cluster's default enforce level the
admin configured (`pod_security_default`, the API server's own default being `privileged`).

Judgements:
- Fires on `privileged` (set or by default).  `baseline` does not fire, but is kept as an info path
  inside the tenant whose detail says it still admits inline `nfs` volumes (only `restricted`
  refuses them; `inline-storage-volume` judges such pods).  `restricted` yields nothing.
- A value the admission plugin does not know (`Privileged`, `none`) is evaluated by it as
  `restricted`, so it does not fire; the finding would be wrong to guess otherwise.
- `default` is a tenant namespace only in name: every cluster has it, unlabelled.  It counts only
  while it holds pods of no platform workload, or PersistentVolumeClaims: then someone uses it
  as a tenant, and it admits whatever they run.
- Platform namespaces and Kubernetes' own (`kube-public`, `kube-node-lease`) are never judged.
- Identity: the Namespace; evidence: the effective level and where it comes from.
"""

from exposure.analysis.node_escape import PSA_ENFORCE_LABEL, PSA_LEVELS
from exposure.analysis.paths import Actor, ExposurePath, Hop
from exposure.rules.base import Hit, Rule
from inventory.refs import k8s_ref

SLUG = "namespace-admits-privileged"
DEFAULT_NAMESPACE = "default"
BASELINE_NOTE = (
    "Pod Security baseline refuses privileged pods, host namespaces and hostPath volumes, but still "
    "admits inline nfs volumes; only restricted refuses them."
)


def enforce_level(labels: dict, cluster_default: str) -> tuple[str, str]:
    """(the level the admission plugin enforces, where it comes from)."""
    value = labels.get(PSA_ENFORCE_LABEL) if isinstance(labels, dict) else None
    source = "label"
    if value is None:
        value, source = cluster_default, "cluster default"
    if value not in PSA_LEVELS:  # the plugin evaluates an unknown level as the strictest
        return "restricted", f"{source} {value!r} is not a level (evaluated as restricted)"
    return value, source


def used_as_tenant(ctx, namespace: str) -> bool:
    """Holds pods of a non-platform workload, or PVCs."""
    if any(ns == namespace for ns, _ in ctx.state.of_kind("PersistentVolumeClaim")):
        return True
    return any(pod.namespace == namespace and not pod.platform for pod in ctx.pods)


def evaluate(ctx):
    tenancy, default = ctx.tenancy, ctx.settings.pod_security_default
    for _, name in sorted(ctx.state.of_kind("Namespace")):
        if not name or not tenancy.is_tenant_namespace(name):
            continue
        if name == DEFAULT_NAMESPACE and not used_as_tenant(ctx, name):
            continue
        level, source = enforce_level(tenancy.label_values(name), default)
        if level == "restricted":
            continue
        ref = k8s_ref("Namespace", name)
        admits = level == "privileged"
        via = (
            f"metadata.labels[{PSA_ENFORCE_LABEL}]: {level}"
            if source == "label"
            else f"no {PSA_ENFORCE_LABEL} label; the cluster's default is {level}"
        )
        what = "privileged pods, host namespaces and hostPath volumes" if admits else "inline nfs volumes"
        path = ExposurePath(
            actor=Actor("subject", f"whoever may create pods in {name}", tenancy.tenant_of(name)),
            hops=[Hop(ref, via)],
            data=[ref],
            namespace=name,
            access="root" if admits else "write",
            rule=SLUG,
            severity=RULE.severity if admits else "info",
            inside_tenant=not admits,
        )
        yield Hit(
            identity=(ref,),
            severity=RULE.severity if admits else "info",
            title=f"Namespace {name} admits {what} (Pod Security {level})",
            namespaces=[name],
            evidence={"enforce": level, "source": source},
            paths=[path],
            objects=[ref],
            detail=(
                f"Pod Security enforce is {level} ({source}): any pod may run privileged and escape to its "
                f"node. {BASELINE_NOTE}"
                if admits
                else f"Pod Security enforce is baseline ({source}). {BASELINE_NOTE}"
            ),
            violation=admits,
        )


RULE = Rule(
    slug=SLUG,
    severity="medium",
    guideline=(
        "Pods must not reach volume mounts on worker nodes: a tenant namespace must refuse privileged pods "
        "at admission."
    ),
    remediation=(
        "The seed: prevent privileged containers from being created by user applications. Label the "
        "namespace pod-security.kubernetes.io/enforce=restricted (or at least baseline, which still admits "
        "inline nfs volumes), or set the API server's default enforce level; only administrators may "
        "edit Namespace labels."
    ),
    evidence_key="the namespace's effective enforce level and whether it comes from its label or the default",
    reads=("Namespace", "Pod", "PersistentVolumeClaim"),
    evaluate=evaluate,
    attributed_to="the namespace",
)
