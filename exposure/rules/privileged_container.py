"""`privileged-container`: a container with `securityContext.privileged: true` is root on its node.

The seed: privileged pods are the only way for a pod to escape to the host and read volumes it was
not assigned; such an escape exposes every volume mounted on that node at that time.

Judgements:
- Containers, init containers and ephemeral containers all count (`kubectl debug --profile=sysadmin`
  adds a privileged ephemeral container to a running pod).  Only the literal `true` counts:
  `allowPrivilegeEscalation` is not privilege, and a string "true" is not what the API admits.
- One finding per top controller and container name, so a rollout or a DaemonSet's many pods are
  one finding.  Severity is critical while any of its running pods shares a node with another
  tenant's mounted volume, else high; the node is kept out of the evidence (a reschedule changes
  the severity, not the situation).
- Attributed to the pod's namespace and to each other tenant's namespace whose volumes are mounted
  on one of its nodes.  Platform workloads yield the same paths without a violation.
"""

from exposure.analysis.node_escape import container_field, escape_hit, node_escape, workloads
from exposure.rules.base import NODE_ESCAPE_KINDS, Rule

SLUG = "privileged-container"


def privileged_containers(pod) -> dict[str, str]:
    """Container name -> which list holds it, for each container running privileged."""
    found = {}
    for where, container in pod.containers():
        security = container.get("securityContext")
        name = container.get("name")
        if isinstance(security, dict) and security.get("privileged") is True and isinstance(name, str):
            found.setdefault(name, where)
    return found


def evaluate(ctx):
    for workload, pods in workloads(ctx).items():
        by_container: dict[str, tuple[str, list]] = {}
        for pod in pods:
            for name, where in privileged_containers(pod).items():
                by_container.setdefault(name, (where, []))[1].append(pod)
        for name, (where, running) in sorted(by_container.items()):
            field = container_field(where, name, "securityContext.privileged: true")
            escape = node_escape(
                ctx, running, lambda _pod, field=field: field, SLUG, "high", cross_tenant_severity="critical"
            )
            yield escape_hit(
                escape,
                running,
                identity=(workload, name),
                severity="critical" if escape.exposed else "high",
                title=f"{workload} runs container {name} privileged"
                + (" beside other tenants' volumes" if escape.exposed else ""),
                evidence={"container": name, "in": where, "securityContext.privileged": True},
            )


RULE = Rule(
    slug=SLUG,
    severity="high",
    guideline=(
        "Pods must not reach volume mounts on worker nodes: a privileged container is root on its node "
        "and reads every volume mounted there, whatever its namespace."
    ),
    remediation=(
        "The seed: do not allow privileged pods; they are the only way a pod can escape to the host and "
        "reach storage it was not assigned. Remove securityContext.privileged (grant the single capability "
        "the workload needs instead), and enforce Pod Security `baseline` or `restricted` on the namespace "
        "so such pods are refused. If it is a node agent, have an administrator mark it as platform."
    ),
    evidence_key="the workload, the container and the list it is in (not the node it runs on)",
    reads=NODE_ESCAPE_KINDS,
    evaluate=evaluate,
    attributed_to="the pod's namespace, and each other tenant with volumes mounted on the same node",
)
