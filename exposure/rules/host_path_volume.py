"""`host-path-volume`: a pod that mounts a directory of its node.

Critical when the normalised path (`//`, `.`, `..` and a trailing `/` resolved) is `/`, an ancestor
of the kubelet root (the admin's setting, default `/var/lib/kubelet`) or inside it, or `/dev`,
`/proc`, `/run` or inside them; else medium.  Read-only does not lower severity: reading is the
exposure.

Judgements:
- `/var/run` counts as `/run`: it is a symlink to it on every FHS distribution, and the
  container runtime's socket lives there.
- Only a critical path reaches the volumes mounted on the node (through the kubelet's directory,
  the block devices, or the processes' roots and the runtime), so only then is the finding
  attributed to the other tenants whose volumes are mounted there.  A medium host path (`/var/log`,
  `/srv/cache`) is the node's data, shown as a path to the node, attributed to the pod's namespace.
- One finding per top controller and volume name; the evidence is the normalised path and the
  hostPath type.  Paths into the kubelet root are `read` when every mount of the volume is
  read-only, else `write`; `/`, `/dev`, `/proc` and `/run` are `root` whatever the mount mode (a
  socket or a device node is usable through a read-only mount).
- Platform workloads (the Trident node plugin mounts the kubelet root by design) yield the paths
  without a violation.
"""

from exposure.analysis.node_escape import (
    NODE_CONTROL_DIRECTORIES,
    escape_detail,
    escape_hit,
    host_path_reach,
    is_within,
    node_escape,
    normalise_host_path,
    workloads,
)
from exposure.rules.base import NODE_ESCAPE_KINDS, Hit, Rule

SLUG = "host-path-volume"


def host_path_volumes(pod) -> dict[str, dict]:
    """Volume name -> its hostPath source, for each hostPath volume of the pod."""
    found = {}
    volumes = pod.spec.get("volumes")
    for volume in volumes if isinstance(volumes, list) else []:
        if not isinstance(volume, dict) or not isinstance(volume.get("name"), str):
            continue
        source = volume.get("hostPath")
        if isinstance(source, dict):
            found[volume["name"]] = source
    return found


def mounted_read_only(pod, volume: str) -> bool:
    """Every container that mounts the volume mounts it read-only (none mounting it counts too)."""
    for _, container in pod.containers():
        mounts = container.get("volumeMounts")
        for mount in mounts if isinstance(mounts, list) else []:
            if isinstance(mount, dict) and mount.get("name") == volume and mount.get("readOnly") is not True:
                return False
    return True


def access_of(path: str, pods, volume: str) -> str:
    if path == "/" or any(is_within(path, d) for d in NODE_CONTROL_DIRECTORIES):
        return "root"
    return "read" if all(mounted_read_only(pod, volume) for pod in pods) else "write"


def evaluate(ctx):
    kubelet_root = ctx.settings.kubelet_root
    for workload, pods in workloads(ctx).items():
        # volume name -> (path, type) -> pods: during a rollout old and new pods may disagree.
        by_volume: dict[str, dict[tuple[str, str], list]] = {}
        for pod in pods:
            for name, source in host_path_volumes(pod).items():
                path = normalise_host_path(source.get("path"))
                if path is None:
                    continue
                kind = source.get("type") if isinstance(source.get("type"), str) else ""
                by_volume.setdefault(name, {}).setdefault((path, kind), []).append(pod)
        for name, variants in sorted(by_volume.items()):
            # One finding per volume: judged by its worst path, over every pod that mounts it.
            (path, kind), _ = max(
                sorted(variants.items()), key=lambda item: bool(host_path_reach(item[0][0], kubelet_root))
            )
            mounting = sorted({p.ref: p for group in variants.values() for p in group}.values(), key=_name)
            yield _hit(ctx, workload, name, path, kind, mounting, host_path_reach(path, kubelet_root))


def _name(pod) -> str:
    return pod.name


def _hit(ctx, workload, name, path, kind, pods, reach) -> Hit:
    severity = "critical" if reach else "medium"
    access = access_of(path, pods, name) if reach else "read"
    via = f"spec.volumes[{name}].hostPath {path}" + (f" ({reach})" if reach else "")
    escape = node_escape(
        ctx, pods, lambda _pod: via, SLUG, severity, access=access, reaches_mounts=bool(reach)
    )
    read_only = all(mounted_read_only(pod, name) for pod in pods)
    detail = (escape_detail(escape, pods) if reach else f"the node's directory {path}") + (
        "; mounted read-only, which does not lower the severity: reading is the exposure" if read_only else ""
    )
    return escape_hit(
        escape,
        pods,
        identity=(workload, f"volume {name}"),
        severity=severity,
        title=f"{workload} mounts the node's {path}",
        evidence={"volume": name, "path": path, "type": kind},
        detail=detail,
    )


RULE = Rule(
    slug=SLUG,
    severity="medium",
    guideline=(
        "Pods must not reach volume mounts on worker nodes: a hostPath on the kubelet's directory, the "
        "node's devices, processes or runtime reaches every volume mounted there."
    ),
    remediation=(
        "The seed: pods must not escape to the host and access storage they were not assigned. Replace "
        "the hostPath with a PersistentVolumeClaim or an emptyDir, and enforce Pod Security `baseline` "
        "or `restricted` on the namespace, which refuses hostPath volumes. If it is a node agent, have "
        "an administrator mark it as platform."
    ),
    evidence_key="the workload, the volume's normalised host path and hostPath type (not the node)",
    reads=NODE_ESCAPE_KINDS,
    evaluate=evaluate,
    attributed_to="the pod's namespace, and each other tenant with volumes mounted on the same node",
)
