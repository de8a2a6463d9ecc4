"""`host-namespace-escape`: a pod that shares its node's process namespace or may mount.

`hostPID: true` lets a root process read other containers' filesystems through `/proc/<pid>/root`;
`capabilities.add` holding `SYS_ADMIN` lets it mount, `SYS_MODULE` load a kernel module (which runs
as the kernel), `DAC_READ_SEARCH` open any host file by handle (`open_by_handle_at`, the "shocker"
escape), and `ALL` is everything privileged needs.  Each reaches the volumes mounted on the node.

Judgements:
- Capability names are compared as the runtime does: any case, with or without the `CAP_` prefix.
- `hostIPC` alone shares only System V IPC and POSIX shared memory, not filesystems: not this rule.
- Two identities per workload, so each fix closes its own finding: `(workload, "hostPID")` for the
  pod-level field, `(workload, container)` for a container's capabilities.  The node stays out of
  both; attributed, like `privileged-container`, to the pod's namespace and each other tenant with
  volumes mounted on one of its nodes.  The severity stays high (rules.md gives no escalation).
- Platform workloads yield the paths without a violation.
"""

from exposure.analysis.node_escape import (
    container_field,
    escape_hit,
    node_escape,
    normalise_capability,
    workloads,
)
from exposure.rules.base import NODE_ESCAPE_KINDS, Hit, Rule

SLUG = "host-namespace-escape"
# Each escaping capability, and what it lets a container do to the node.
ESCAPES = {
    "SYS_ADMIN": "can mount",
    "ALL": "can mount",
    "SYS_MODULE": "can load kernel modules",
    "DAC_READ_SEARCH": "can open host files by handle",
}
HOST_PID = "hostPID"


def escaping_capabilities(pod) -> dict[str, tuple[str, list[str]]]:
    """Container name -> (its list, the escaping capabilities it adds, as written)."""
    found = {}
    for where, container in pod.containers():
        security = container.get("securityContext")
        name = container.get("name")
        if not isinstance(security, dict) or not isinstance(name, str):
            continue
        added = (security.get("capabilities") or {}) if isinstance(security.get("capabilities"), dict) else {}
        adds = added.get("add") if isinstance(added.get("add"), list) else []
        caps = sorted({normalise_capability(c) for c in adds} & ESCAPES.keys())
        if caps:
            found.setdefault(name, (where, caps))
    return found


def evaluate(ctx):
    for workload, pods in workloads(ctx).items():
        sharing = [pod for pod in pods if pod.spec.get("hostPID") is True]
        if sharing:
            yield _hit(
                ctx,
                workload,
                HOST_PID,
                sharing,
                "spec.hostPID: true (other containers' filesystems through /proc/<pid>/root)",
                {"hostPID": True},
                "write",
                f"{workload} shares its node's process namespace (hostPID)",
            )
        by_container: dict[str, tuple[str, list[str], list]] = {}
        for pod in pods:
            for name, (where, caps) in escaping_capabilities(pod).items():
                by_container.setdefault(name, (where, caps, []))[2].append(pod)
        for name, (where, caps, adding) in sorted(by_container.items()):
            text = ", ".join(caps)
            how = "; ".join(sorted({ESCAPES[cap] for cap in caps}))
            yield _hit(
                ctx,
                workload,
                name,
                adding,
                container_field(where, name, f"securityContext.capabilities.add {text} ({how})"),
                {"container": name, "in": where, "capabilities.add": caps},
                "root",
                f"{workload} container {name} adds capability {text}",
            )


def _hit(ctx, workload, what, pods, via, evidence, access, title) -> Hit:
    escape = node_escape(ctx, pods, lambda _pod: via, SLUG, RULE.severity, access=access)
    return escape_hit(
        escape, pods, identity=(workload, what), severity=RULE.severity, title=title, evidence=evidence
    )


RULE = Rule(
    slug=SLUG,
    severity="high",
    guideline=(
        "Pods must not reach volume mounts on worker nodes: sharing the node's process namespace, or "
        "holding the capability to mount, load kernel modules or read host files by handle, reaches every "
        "volume mounted there."
    ),
    remediation=(
        "The seed: standard containers have no ability to mount volumes; keep it so. Remove hostPID and "
        "drop SYS_ADMIN, SYS_MODULE, DAC_READ_SEARCH and ALL from capabilities.add, and enforce Pod "
        "Security `baseline` or `restricted` on the namespace, which refuses them all. If it is a node "
        "agent, have an administrator mark it as platform."
    ),
    evidence_key="the workload and hostPID, or the container and the escaping capabilities it adds",
    reads=NODE_ESCAPE_KINDS,
    evaluate=evaluate,
    attributed_to="the pod's namespace, and each other tenant with volumes mounted on the same node",
)
