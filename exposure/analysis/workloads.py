"""Pods as the rules see them: stable identity, node, platform or not, and what each node mounts.

A pod's identity for fingerprints is its top controller (rules.md, "Findings have a life"): a
Deployment's pod is owned by a ReplicaSet `<deployment>-<pod-template-hash>`, a CronJob's by a Job
`<cronjob>-<scheduled minute>`; stripping those suffixes gives the same identity across a rollout.
"""

import re
from dataclasses import dataclass, field
from functools import cached_property

from inventory.fields import as_list as _list
from inventory.fields import as_mapping as _mapping
from inventory.fields import as_text as _text
from inventory.refs import k8s_ref

# A CronJob's Job is named <cronjob>-<minutes since the epoch of its schedule>: eight digits or more.
_CRONJOB_SUFFIX = re.compile(r"^(?P<cronjob>.+)-\d{8,}$")
# The ReplicaSet's suffix is the pod-template-hash: Kubernetes' "safe encoding", up to 10 characters.
_TEMPLATE_HASH = re.compile(r"^(?P<deployment>.+)-[bcdfghjklmnpqrstvwxz2456789]{6,10}$")
# Phases of a pod that holds (or is about to hold) its node's resources.
LIVE_PHASES = frozenset({"Running", "Pending", "Unknown", ""})
# The securityContext fields by which a pod asserts who it is to an NFSv3 export.
ID_FIELDS = ("runAsUser", "runAsGroup", "fsGroup")


def top_controller(pod: dict) -> tuple[str, str]:
    """(kind, name) of the pod's top controller, or ("Pod", its name) for a bare pod."""
    meta = _mapping(pod.get("metadata"))
    owners = [o for o in _list(meta.get("ownerReferences")) if isinstance(o, dict)]
    owner = next((o for o in owners if o.get("controller") is True), owners[0] if owners else None)
    if not owner or not _text(owner.get("name")):
        return "Pod", _text(meta.get("name"))
    kind, name = _text(owner.get("kind")), owner["name"]
    if kind == "Node":  # a static pod (mirror pod): its own name (`etcd-<node>`) is its stable identity
        return "Pod", _text(meta.get("name"))
    if kind == "ReplicaSet":
        template_hash = _text(_mapping(meta.get("labels")).get("pod-template-hash"))
        if template_hash and name.endswith("-" + template_hash):
            return "Deployment", name.removesuffix("-" + template_hash)
        if match := _TEMPLATE_HASH.match(name):
            return "Deployment", match["deployment"]
    if kind == "Job" and (match := _CRONJOB_SUFFIX.match(name)):
        return "CronJob", match["cronjob"]
    return kind, name


@dataclass
class PodView:
    namespace: str
    name: str
    node: str
    workload_kind: str
    workload_name: str
    service_account: str
    phase: str
    host_network: bool
    created: str
    data: dict = field(repr=False)
    platform: bool = False

    @property
    def ref(self) -> str:
        return k8s_ref("Pod", self.name, self.namespace)

    @property
    def workload(self) -> str:
        """Stable across rollouts: `Deployment/acme-web/api`."""
        return f"{self.workload_kind}/{self.namespace}/{self.workload_name}"

    @property
    def live(self) -> bool:
        return self.phase in LIVE_PHASES

    @cached_property
    def spec(self) -> dict:
        return _mapping(self.data.get("spec"))

    def containers(self) -> list[tuple[str, dict]]:
        """(which list, container) for containers, init containers and ephemeral containers."""
        return self._containers

    @cached_property
    def _containers(self) -> list[tuple[str, dict]]:  # several rules ask, of every pod: listed once
        spec = self.spec
        return [
            (where, c)
            for where in ("containers", "initContainers", "ephemeralContainers")
            for c in _list(spec.get(where))
            if isinstance(c, dict)
        ]

    @cached_property
    def claims(self) -> tuple[str, ...]:
        """The claims its volumes name (`persistentVolumeClaim.claimName`), in the spec's order."""
        names = (
            _mapping(_mapping(volume).get("persistentVolumeClaim")).get("claimName")
            for volume in _list(self.spec.get("volumes"))
        )
        return tuple(name for name in names if isinstance(name, str) and name)

    @cached_property
    def ids_set(self) -> tuple[str, ...]:
        """Which of `ID_FIELDS` the pod or any of its containers sets to an integer, sorted."""
        contexts = [self.spec.get("securityContext")] + [
            c.get("securityContext") for _, c in self.containers()
        ]
        return tuple(
            sorted(
                {
                    f
                    for context in contexts
                    if isinstance(context, dict)
                    for f in ID_FIELDS
                    if isinstance(context.get(f), int) and not isinstance(context.get(f), bool)
                }
            )
        )


def pod_view(pod: dict, platform_namespaces, platform_accounts) -> PodView:
    """Fields of the wrong type read as unset (a pod without a node, phase or service account)."""
    meta, spec = _mapping(pod.get("metadata")), _mapping(pod.get("spec"))
    namespace = _text(meta.get("namespace"))
    kind, name = top_controller(pod)
    account = _text(spec.get("serviceAccountName")) or "default"
    return PodView(
        namespace=namespace,
        name=_text(meta.get("name")),
        node=_text(spec.get("nodeName")),
        workload_kind=kind,
        workload_name=name,
        service_account=account,
        phase=_text(_mapping(pod.get("status")).get("phase")),
        host_network=spec.get("hostNetwork") is True,
        created=_text(meta.get("creationTimestamp")),
        data=pod,
        platform=namespace in platform_namespaces or f"{namespace}/{account}" in platform_accounts,
    )


@dataclass
class KeptPodViews:
    """The pod views of a worker's last analysis of a cluster (exposure/analysis/context.py keeps
    them): a pod whose stored form is the very object its view was made of (a kept form reused,
    inventory/kept_reuse.py) keeps its view, and what the rules worked out of it, while the platform
    namespaces and accounts are the same.  Anything else is made anew: stale views cost time only."""

    platform: frozenset[str]
    accounts: frozenset[str]
    views: dict[tuple[str, str], PodView]  # (namespace, name) -> view


def pod_views(
    pods: dict[tuple[str, str], dict], platform: frozenset[str], accounts: frozenset[str], kept
) -> KeptPodViews:
    """A view of each pod of `pods`, those of `kept` (a `KeptPodViews` or None) reused where they hold."""
    earlier = (
        kept.views if kept is not None and (kept.platform, kept.accounts) == (platform, accounts) else {}
    )
    views = {}
    for key, pod in pods.items():
        view = earlier.get(key)
        views[key] = view if view is not None and view.data is pod else pod_view(pod, platform, accounts)
    return KeptPodViews(platform, accounts, views)


@dataclass(frozen=True)
class MountedVolume:
    """A volume of some namespace that a node has mounted (so a node-level escape reaches it)."""

    namespace: str
    data: tuple[str, ...]  # references: PVC then PV, or the pod's inline volume
    by: str  # the pod (or Trident publication) that has it mounted there


def node_mounts(pods: list[PodView], state) -> dict[str, list[MountedVolume]]:
    """node -> volumes mounted there: each live pod's PVC volumes and inline storage volumes, plus
    Trident's publications (a volume stays published to a node while any pod there uses it)."""
    mounts: dict[str, dict[tuple, MountedVolume]] = {}
    pvcs = state.of_kind("PersistentVolumeClaim")
    for pod in pods:
        if not pod.node or not pod.live:
            continue
        for volume in _list(pod.spec.get("volumes")):
            if not isinstance(volume, dict):
                continue
            claim = _text(_mapping(volume.get("persistentVolumeClaim")).get("claimName"))
            if claim:
                pvc = _mapping(pvcs.get((pod.namespace, claim)))
                pv_name = _text(_mapping(pvc.get("spec")).get("volumeName"))
                data = (k8s_ref("PersistentVolumeClaim", claim, pod.namespace),)
                if pv_name and state.get("PersistentVolume", pv_name):
                    data += (k8s_ref("PersistentVolume", pv_name),)
                mounts.setdefault(pod.node, {})[data] = MountedVolume(pod.namespace, data, pod.ref)
    claims = {
        name: _mapping(_mapping(pv.get("spec")).get("claimRef"))
        for (_, name), pv in state.of_kind("PersistentVolume").items()
    }
    mounted: dict[str, set[str]] = {}  # node -> the last of each mount's `data` (its PV), indexed
    for (namespace, _), publication in state.of_kind("TridentVolumePublication").items():
        pv_name, node = _text(publication.get("volumeID")), _text(publication.get("nodeID"))
        if not node or pv_name not in claims:
            continue
        owner, claim_name = _text(claims[pv_name].get("namespace")), _text(claims[pv_name].get("name"))
        data = tuple(
            r
            for r in (
                k8s_ref("PersistentVolumeClaim", claim_name, owner) if claim_name and owner else "",
                k8s_ref("PersistentVolume", pv_name),
            )
            if r
        )
        by = k8s_ref(
            "TridentVolumePublication", _text(_mapping(publication.get("metadata")).get("name")), namespace
        )
        known = mounts.setdefault(node, {})
        if node not in mounted:
            mounted[node] = {m.data[-1] for m in known.values()}
        if data[-1] not in mounted[node]:  # a pod there mounts it already
            known[data] = MountedVolume(owner, data, by)
            mounted[node].add(data[-1])
    return {node: list(by_data.values()) for node, by_data in mounts.items()}
