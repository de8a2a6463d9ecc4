"""Pods that can reach their node, and what a node-level escape exposes (Guideline 2).

The seed: a pod that escapes to its host reads every volume mounted on that node at that time,
whatever its namespace.  The rules of Guideline 2 (privileged containers, host paths, host
namespaces) share what is built here: pods grouped by their top controller (so a rollout or a
DaemonSet's many pods make one finding), and the exposure paths "compromise of this pod gives
root on node X → every volume mounted there".

The node a pod runs on changes when it is rescheduled, so nodes never enter identities or evidence;
they only decide severity (another tenant's volume mounted beside the pod) and the paths shown.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from .paths import ACCESS_LEVELS, ExposurePath, Hop, k8s_ref
from .workloads import MountedVolume, PodView

# The API server's Pod Security levels, most permissive first.
PSA_LEVELS = ("privileged", "baseline", "restricted")
PSA_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"

# Host directories whose contents give the node: devices (block devices of mapped LUNs), every
# process's root (/proc/<pid>/root), and the runtime's sockets.  /var/run is /run on every
# distribution that follows the FHS (a symlink), so the kubelet mounts the same directory.
NODE_CONTROL_DIRECTORIES = ("/dev", "/proc", "/run", "/var/run")


def workloads(ctx) -> dict[str, list[PodView]]:
    """Top controller (`Kind/namespace/name`) -> its pods, by pod name."""

    def build():
        grouped: dict[str, list[PodView]] = {}
        for pod in sorted(ctx.pods, key=lambda p: (p.namespace, p.name)):
            if pod.namespace and pod.workload_name:
                grouped.setdefault(pod.workload, []).append(pod)
        return grouped

    return ctx.memo("node_escape.workloads", build)


def node_ref(ctx, node: str) -> str:
    """The Node's reference, or "" when the snapshot holds no such Node."""
    ref = k8s_ref("Node", node) if node else ""
    return ref if ref and ctx.lookup(ref) is not None else ""


def existing(ctx, refs) -> list[str]:
    """Only the references that name objects of the snapshot (a claim may name a missing PVC)."""
    return [ref for ref in refs if ref and ctx.lookup(ref) is not None]


def container_field(where: str, name: str, rest: str) -> str:
    return f"spec.{where}[{name}].{rest}"


def normalise_capability(value) -> str:
    """`cap_sys_admin`, ` SYS_ADMIN ` and `CAP_SYS_ADMIN` are one capability (the runtime strips CAP_)."""
    if not isinstance(value, str):
        return ""
    return value.strip().upper().removeprefix("CAP_")


def normalise_host_path(path) -> str | None:
    """The directory the kubelet bind-mounts: `//`, `.`, `..` and a trailing `/` resolved.

    `..` never climbs above `/`.  A path without a leading `/` is read from `/` (the kubelet's
    working directory), which errs towards seeing the exposure.  None for what is not a path.
    """
    if not isinstance(path, str) or not path or "\x00" in path:
        return None
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


def is_within(path: str, directory: str) -> bool:
    """`path` is `directory` or below it (component-wise: /var/lib/kubeletx is not in /var/lib/kubelet)."""
    return directory == "/" or path == directory or path.startswith(directory + "/")


def host_path_reach(path: str, kubelet_root: str) -> str:
    """Why a normalised host path reaches the node's volume mounts, or "" when it does not."""
    root = normalise_host_path(kubelet_root) or "/var/lib/kubelet"
    if path == "/":
        return "the node's root filesystem"
    if is_within(path, root):
        return f"inside the kubelet root {root}, where pods' volumes are mounted"
    if is_within(root, path):
        return f"an ancestor of the kubelet root {root}, where pods' volumes are mounted"
    for directory in NODE_CONTROL_DIRECTORIES:
        if is_within(path, directory):
            return f"inside {directory}, which gives control of the node"
    return ""


def other_tenant_mounts(ctx, pod: PodView) -> list[MountedVolume]:
    """Volumes of other tenants mounted on the pod's node, if the pod runs there now."""
    if not pod.node or not pod.live:
        return []
    tenancy = ctx.tenancy
    return [
        mounted
        for mounted in ctx.node_mounts.get(pod.node) or []
        if tenancy.is_tenant_namespace(mounted.namespace)
        and not tenancy.same_tenant(pod.namespace, mounted.namespace)
    ]


@dataclass
class Escape:
    """What a workload's pods reach through their node: the paths, and whose data they expose."""

    paths: list[ExposurePath] = field(default_factory=list)
    exposed: set[str] = field(default_factory=set)  # namespaces of other tenants' mounted volumes
    nodes: set[str] = field(default_factory=set)  # nodes where one of them runs beside those volumes


def node_escape(
    ctx,
    pods: list[PodView],
    via: Callable[[PodView], str],
    slug: str,
    severity: str,
    access: str = "root",
    reaches_mounts: bool = True,
) -> Escape:
    """Paths from each pod to its node, and (when `reaches_mounts`) to every volume mounted there.

    `via` says which field of the pod carries the escape.  Paths to the pod's own tenant's
    volumes are kept with `inside_tenant`; a platform pod's paths are kept with `platform`.
    """
    assert access in ACCESS_LEVELS, access
    escape, seen = Escape(), set()
    tenancy = ctx.tenancy
    for pod in pods:
        actor = ctx.pod_actor(pod)
        node = node_ref(ctx, pod.node) if pod.live else ""
        quiet = "info" if pod.platform else severity
        first = Hop(pod.ref, via(pod))
        reached = f"root on node {pod.node}" if node else "root on whichever node it is scheduled to"
        if ("node", pod.node if node else pod.ref) not in seen:
            seen.add(("node", pod.node if node else pod.ref))
            escape.paths.append(
                ExposurePath(
                    actor=actor,
                    hops=[first],
                    data=[node or pod.ref],
                    namespace="",
                    access=access,
                    rule=slug,
                    severity=quiet,
                    platform=pod.platform,
                    mitigations=[] if node else [f"not running now ({reached})"],
                )
            )
        if not node or not reaches_mounts:
            continue
        for mounted in ctx.node_mounts.get(pod.node) or []:
            data = existing(ctx, mounted.data)
            if not data or (pod.node, data[-1]) in seen:
                continue
            seen.add((pod.node, data[-1]))
            inside = tenancy.same_tenant(pod.namespace, mounted.namespace)
            hops = [first, Hop(node, f"{reached}: every volume mounted there")]
            hops += [Hop(mounted.by, "has it mounted on the node")] if existing(ctx, [mounted.by]) else []
            escape.paths.append(
                ExposurePath(
                    actor=actor,
                    hops=hops,
                    data=data,
                    namespace=mounted.namespace,
                    access=access,
                    rule=slug,
                    severity="info" if inside or pod.platform else severity,
                    inside_tenant=inside,
                    platform=pod.platform,
                )
            )
            if not inside and tenancy.is_tenant_namespace(mounted.namespace):
                escape.exposed.add(mounted.namespace)
                escape.nodes.add(pod.node)
    return escape


def escape_detail(escape: Escape, pods: list[PodView]) -> str:
    """One sentence: where the pods run and whose volumes that exposes."""
    if escape.exposed:
        return (
            f"compromise of this workload gives root on {', '.join(sorted(escape.nodes))}, "
            f"which mount volumes of {', '.join(sorted(escape.exposed))}"
        )
    nodes = sorted({p.node for p in pods if p.node and p.live})
    if nodes:
        return f"compromise of this workload gives root on {', '.join(nodes)} (no other tenant's volume there now)"
    return "compromise of this workload gives root on whichever node it is scheduled to"
