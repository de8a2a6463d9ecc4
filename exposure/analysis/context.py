"""Everything the rules read about one snapshot, computed once and shared by all of them.

The rules never query the database: they read this context, built from the snapshot's inventory
(`SnapshotState`) and its derived per-volume access records (arrays/volume_access.py).  Rule
modules that need an index of their own (RBAC, NetworkPolicy) cache it with `memo`.
"""

from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any

from arrays.admission import Admissions, node_set_of
from arrays.join import join_snapshot
from arrays.node_set import NodeSet
from exposure.analysis.paths import Actor
from exposure.analysis.settings import AnalysisSettings
from exposure.analysis.workloads import KeptPodViews, MountedVolume, PodView, node_mounts, pod_views
from inventory.cluster_memory import ClusterMemory
from inventory.constants import DEFAULT_TRIDENT_NAMESPACE
from inventory.fields import as_mapping
from inventory.refs import array_ref, k8s_ref, parse_ref
from inventory.state import SnapshotState
from tenancy.boundaries import Tenancy

# The cached properties only the rules read (`Context.release_indexes`).
_RULES_ONLY = (
    "pods",
    "node_mounts",
    "nodes",
    "access_records",
    "volume_access",
    "inline_access",
)
# The pod views of the worker's last analysis of each cluster: the next one reuses those of pods
# that did not change (a 1% churn re-judges every pod, but need not view 100,000 of them anew).
_LAST_POD_VIEWS: ClusterMemory[KeptPodViews] = ClusterMemory()


class Context:
    def __init__(self, state: SnapshotState, settings: AnalysisSettings, access_records: dict | None = None):
        self.state = state
        self.settings = settings
        self._access_records = access_records  # kind -> (namespace, name) -> record, when just derived
        self._memo: dict[str, Any] = {}
        self._volume_data: dict[str, list[str]] = {}
        # The namespaces the rule at work judges (exposure/engine.py); None: all of them.
        self.judged_namespaces: frozenset[str] | None = None

    def judged(self, objects: dict[tuple[str, str], Any]) -> Iterable[tuple[tuple[str, str], Any]]:
        """The (namespace, name) -> object items of the namespaces the rule at work judges."""
        if self.judged_namespaces is None:
            return objects.items()
        return ((key, obj) for key, obj in objects.items() if key[0] in self.judged_namespaces)

    def memo(self, key: str, factory: Callable[[], Any]) -> Any:
        """`factory()` once per snapshot.  A key "<rule slug>:..." is that rule's own: dropped when
        the rule finishes (`forget_own`), so one rule's indexes do not add to the next one's."""
        if key not in self._memo:
            self._memo[key] = factory()
        return self._memo[key]

    def forget_own(self, slug: str) -> None:
        for key in [key for key in self._memo if key.startswith(f"{slug}:")]:
            del self._memo[key]

    def release_indexes(self) -> None:
        """Drop what only the rules read (memos, pod views, per-node and per-volume indexes, the
        access records): the findings, paths and grades that follow read the state and who is who,
        and their allocations then reuse this memory instead of raising the worker's peak."""
        self._memo.clear()
        self._volume_data.clear()
        self._access_records = None
        for name in _RULES_ONLY:
            self.__dict__.pop(name, None)

    # --- who is who ---------------------------------------------------------------------------

    @cached_property
    def trident_namespace(self) -> str:
        for kind in ("TridentVersion", "TridentBackend", "TridentNode"):
            for namespace, _ in self.state.of_kind(kind):
                if namespace:
                    return namespace
        return DEFAULT_TRIDENT_NAMESPACE

    @cached_property
    def tenancy(self) -> Tenancy:
        namespaces = {name: data for (_, name), data in self.state.of_kind("Namespace").items()}
        return Tenancy(namespaces, self.settings, self.trident_namespace)

    @cached_property
    def pods(self) -> list[PodView]:
        platform, accounts = self.tenancy.platform, frozenset(self.settings.platform_service_accounts)
        cluster_id = getattr(self.state.snapshot, "cluster_id", None)
        earlier = _LAST_POD_VIEWS.get(cluster_id) if cluster_id else None
        kept = pod_views(self.state.of_kind("Pod"), platform, accounts, earlier)
        if cluster_id:
            _LAST_POD_VIEWS.put(cluster_id, kept)
        return list(kept.views.values())

    def pod_actor(self, pod: PodView) -> Actor:
        return Actor("pod", pod.workload, self.tenancy.tenant_of(pod.namespace), pod.platform)

    # --- where data is ------------------------------------------------------------------------

    @cached_property
    def node_mounts(self) -> dict[str, list[MountedVolume]]:
        return node_mounts(self.pods, self.state)

    @cached_property
    def nodes(self) -> NodeSet:
        return node_set_of(self.state)

    @cached_property
    def access_records(self) -> dict[str, dict[tuple[str, str], dict]]:
        """`VolumeAccess` (namespace, PV name) and `InlineVolumeAccess` (namespace, pod/volume) records."""
        if self._access_records is not None:
            return self._access_records
        snapshot = self.state.snapshot
        if getattr(snapshot, "pk", None):
            from arrays.volume_access import records_as_of

            return records_as_of(snapshot)
        return self._derive_in_memory()

    def _derive_in_memory(self) -> dict:
        from arrays.volume_access import INLINE_VOLUME_ACCESS, VOLUME_ACCESS, record

        joined = join_snapshot(self.state)
        admissions = Admissions(self.nodes)
        volumes = {
            (r.namespaces[0] if r.namespaces else "", pv): record(r, admissions.of(r), "")
            for pv, r in joined.volumes.items()
        }
        inline = {
            (r.namespaces[0], r.subject.removeprefix("Pod/").split("/", 1)[1]): record(
                r, admissions.of(r), ""
            )
            for r in joined.inline
        }
        self.state.snapshot.facts = {
            **(self.state.facts or {}),
            "join": {"unbacked": joined.unbacked, "broken_links": joined.broken_links},
        }
        return {VOLUME_ACCESS: volumes, INLINE_VOLUME_ACCESS: inline}

    @cached_property
    def volume_access(self) -> dict[str, dict]:
        """PV name -> its access record (array object, gates, admitted parties with verdicts)."""
        return {pv: data for (_, pv), data in self.access_records.get("VolumeAccess", {}).items()}

    @cached_property
    def inline_access(self) -> dict[tuple[str, str], dict]:
        """(namespace, "<pod> volume <name>") -> access record of an inline pod volume."""
        return dict(self.access_records.get("InlineVolumeAccess", {}))

    @property
    def join_facts(self) -> dict:
        """`unbacked` array objects (a backend's prefix, backing no PV) and `broken_links`."""
        self.access_records  # noqa: B018 - an in-memory derivation fills these facts
        return self.state.facts.get("join") or {}

    # --- references -----------------------------------------------------------------------------

    def lookup(self, ref: str) -> dict | None:
        scope, kind, namespace, name = parse_ref(ref)
        if scope:
            records = self.state.arrays.get(scope)
            return records.get(kind, name) if records else None
        return self.state.get(kind, name, namespace)

    def volume_data(self, pv: str, record: dict) -> list[str]:
        """References of a PV's data, outermost last: its claim, the PV, the array object behind it
        (those of the snapshot only)."""
        if isinstance(pv, str) and record is self.volume_access.get(pv):  # its own record: asked often
            if pv not in self._volume_data:
                self._volume_data[pv] = self._volume_data_of(pv, record)
            return list(self._volume_data[pv])
        return self._volume_data_of(pv, record)

    def _volume_data_of(self, pv: str, record: dict) -> list[str]:
        spec = as_mapping(as_mapping(self.state.get("PersistentVolume", pv)).get("spec"))
        claim = as_mapping(spec.get("claimRef"))
        obj = as_mapping(record.get("object"))
        refs = [
            k8s_ref("PersistentVolumeClaim", claim["name"], claim["namespace"])
            if isinstance(claim.get("name"), str) and isinstance(claim.get("namespace"), str)
            else "",
            k8s_ref("PersistentVolume", pv),
            array_ref(record["array"], obj["kind"], obj["name"])
            if all(isinstance(v, str) and v for v in (record.get("array"), obj.get("kind"), obj.get("name")))
            else "",
        ]
        return [ref for ref in refs if ref and self.lookup(ref) is not None]

    def created(self, ref: str) -> str:
        """The object's creationTimestamp ("" for array records, which have none we keep)."""
        data = self.lookup(ref)
        metadata = data.get("metadata") if isinstance(data, dict) else None
        created = metadata.get("creationTimestamp") if isinstance(metadata, dict) else None
        return created if isinstance(created, str) else ""
