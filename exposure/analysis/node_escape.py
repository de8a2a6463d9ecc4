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

from exposure.analysis.hits import Hit
from exposure.analysis.paths import ACCESS_LEVELS, ExposurePath, Hop
from exposure.analysis.workloads import PodView
from inventory.constants import DEFAULT_KUBELET_ROOT
from inventory.refs import k8s_ref

# The API server's Pod Security levels, most permissive first.
PSA_LEVELS = ("privileged", "baseline", "restricted")
PSA_ENFORCE_LABEL = "pod-security.kubernetes.io/enforce"

# Host directories whose contents give the node: devices (block devices of mapped LUNs), every
# process's root (/proc/<pid>/root), and the runtime's sockets.  /var/run is /run on every
# distribution that follows the FHS (a symlink), so the kubelet mounts the same directory.
NODE_CONTROL_DIRECTORIES = ("/dev", "/proc", "/run", "/var/run")
MAX_LISTED = 20  # nodes named in one path


def workload_of(pod: PodView) -> str:
    """The pod's stable identity: its top controller, except for static pods.

    A static pod's mirror is "owned" by its Node, so every static pod of a node (apiserver, etcd…)
    would share one identity; its own name (`<manifest>-<node>`) is stable and is used instead.
    """
    if pod.workload_kind == "Node":
        return k8s_ref("Pod", pod.name, pod.namespace)
    return pod.workload


def workloads(ctx) -> dict[str, list[PodView]]:
    """Workload identity (`Kind/namespace/name`, see `workload_of`) -> its pods, by pod name."""

    def build():
        grouped: dict[str, list[PodView]] = {}
        named = [p for p in ctx.pods if isinstance(p.namespace, str) and isinstance(p.name, str)]
        for pod in sorted(named, key=lambda p: (p.namespace, p.name)):
            if pod.namespace and pod.name:
                grouped.setdefault(workload_of(pod), []).append(pod)
        return grouped

    return ctx.memo("node_escape.workloads", build)


def node_ref(ctx, node: str) -> str:
    """The Node's reference, or "" when the snapshot holds no such Node."""
    ref = k8s_ref("Node", node) if node else ""
    return ref if ref and ctx.lookup(ref) is not None else ""


def existing(ctx, refs) -> list[str]:
    """Only the references that name objects of the snapshot (a claim may name a missing PVC)."""
    return [ref for ref in refs if ref and ctx.lookup(ref) is not None]


def mounted_by_namespace(ctx, node: str) -> dict[str, tuple[dict[str, None], dict[str, None]]]:
    """namespace -> the references of its data mounted on `node` and of what has each mounted there,
    in mount order, only those naming objects of the snapshot.  Once per node: each workload that
    escapes to the node asks (a DaemonSet from every node)."""
    cache = ctx.memo("node_escape.mounted_by_namespace", dict)
    if node not in cache:
        by_namespace: dict[str, tuple[dict, dict]] = {}
        for mounted in ctx.node_mounts.get(node) or []:
            data = existing(ctx, mounted.data)
            if not data:
                continue
            refs, by = by_namespace.setdefault(mounted.namespace, ({}, {}))
            refs.update(dict.fromkeys(data))
            if existing(ctx, [mounted.by]):
                by.setdefault(mounted.by, None)
        cache[node] = by_namespace
    return cache[node]


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
    root = normalise_host_path(kubelet_root) or DEFAULT_KUBELET_ROOT
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
    cross_tenant_severity: str = "",
) -> Escape:
    """Paths from each pod to its node, and (when `reaches_mounts`) to every volume mounted there.

    `via` says which field of the pod carries the escape; paths to another tenant's volume are worth
    `cross_tenant_severity` when given, the others `severity`.  Paths to the pod's own tenant's
    volumes are kept with `inside_tenant`; a platform pod's paths are kept with `platform`.
    """
    assert access in ACCESS_LEVELS, access
    escape = Escape()
    tenancy = ctx.tenancy
    nodes: dict[str, PodView] = {}  # node ref -> the first pod of the workload there
    unscheduled: list[PodView] = []
    reached: dict[str, dict] = {}  # namespace of mounted data -> nodes, data and mounts reaching it
    for pod in pods:
        node = node_ref(ctx, pod.node) if pod.live else ""
        if not node:
            unscheduled.append(pod)
            continue
        nodes.setdefault(node, pod)
        if not reaches_mounts:
            continue
        for namespace, (data, by) in mounted_by_namespace(ctx, pod.node).items():
            entry = reached.setdefault(namespace, {"nodes": {}, "data": {}, "by": {}})
            entry["nodes"].setdefault(node, pod)
            entry["data"].update(data)
            entry["by"].update(by)
    # Grouped: one path per workload to its nodes, and one per namespace whose volumes those nodes
    # mount (a DaemonSet on every node would otherwise make nodes × volumes paths).
    pod = next(iter(nodes.values()), None) or (unscheduled[0] if unscheduled else None)
    if pod is None:
        return escape
    actor = ctx.pod_actor(pod)
    quiet = "info" if pod.platform else severity
    node_refs = sorted(nodes)
    escape.paths.append(
        ExposurePath(
            actor=actor,
            hops=[Hop(pod.ref, via(pod))],
            data=node_refs[:MAX_LISTED] or [pod.ref],
            namespace="",
            access=access,
            rule=slug,
            severity=quiet,
            platform=pod.platform,
            mitigations=[] if node_refs else ["not running on a node now"],
        )
    )
    for namespace, entry in sorted(reached.items()):
        inside = tenancy.same_tenant(pod.namespace, namespace)
        other_tenant = not inside and tenancy.is_tenant_namespace(namespace)
        first_node, first_pod = sorted(entry["nodes"].items())[0]
        others = len(entry["nodes"]) - 1
        where = f"root on {first_node.removeprefix('Node/')}" + (
            f" (and {others} other nodes)" if others else ""
        )
        hops = [Hop(first_pod.ref, via(first_pod)), Hop(first_node, f"{where}: every volume mounted there")]
        hops += [Hop(ref, "has it mounted on the node") for ref in list(entry["by"])[:1]]
        escape.paths.append(
            ExposurePath(
                actor=actor,
                hops=hops,
                data=list(entry["data"]),
                namespace=namespace,
                access=access,
                rule=slug,
                severity="info"
                if inside or pod.platform
                else (cross_tenant_severity if other_tenant else "") or severity,
                inside_tenant=inside,
                platform=pod.platform,
            )
        )
        if other_tenant:
            escape.exposed.add(namespace)
            escape.nodes.update(ref.removeprefix("Node/") for ref in entry["nodes"])
    return escape


def escape_hit(
    escape: Escape, pods: list[PodView], *, identity, severity, title, evidence, detail=None
) -> Hit:
    """A workload's node escape as a hit: attributed to its namespace and to every namespace whose
    volumes its nodes mount; a platform workload's escape is paths only, never a violation."""
    namespace = pods[0].namespace
    return Hit(
        identity=identity,
        severity=severity,
        title=title,
        namespaces=[namespace] + sorted(escape.exposed - {namespace}),
        evidence=evidence,
        paths=escape.paths,
        objects=[pod.ref for pod in pods],
        detail=escape_detail(escape, pods) if detail is None else detail,
        violation=not all(pod.platform for pod in pods),
    )


def escape_detail(escape: Escape, pods: list[PodView]) -> str:
    """One sentence: where the pods run and whose volumes that exposes."""
    if escape.exposed:
        return (
            f"compromise of this workload gives root on {', '.join(sorted(escape.nodes))}, "
            f"which mount volumes of {', '.join(sorted(escape.exposed))}"
        )
    nodes = sorted({p.node for p in pods if isinstance(p.node, str) and p.node and p.live})
    if nodes:
        where = ", ".join(nodes)
        return f"compromise of this workload gives root on {where} (no other tenant's volume there now)"
    return "compromise of this workload gives root on whichever node it is scheduled to"
