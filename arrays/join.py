"""The join: every PV (and every inline pod volume) to the array object behind it, and that
object to the access control that decides who may mount it.

Resolution paths, from the most specific evidence to the least:
- Trident CSI PVs: PV → TridentVolume (backendUUID, internalName, internalID) → TridentBackend →
  the configured array it is linked to → the volume, qtree, LUN, NVMe namespace or SolidFire
  volume of that name on the backend's SVM.
- Static NFS PVs and inline `nfs` pod volumes: server address → an ONTAP data LIF (hence SVM)
  → the volume whose junction path holds the export path (a path nested under a junction
  belongs to that volume; a qtree's path to the qtree).
- Static iSCSI PVs: target portal → a data LIF (hence SVM) → the LUN mapped at that LUN id.
Access control (`Gate`s) for each: export policies in ONTAP's order, with the SVM root and
parent-junction policies the path traverses; igroups (nested ones expanded) for LUNs; subsystem
hosts for NVMe namespaces; access groups and the CHAP account for SolidFire volumes; the
`exportRule` of Trident's config for cloud backends.  What cannot be joined is reported too.
"""

import posixpath
from collections import defaultdict
from dataclasses import dataclass, field

from arrays.backends import BackendInfo, backend_info, host_of
from inventory.constants import CLOUD_DRIVERS, NAS_DRIVERS, SOLIDFIRE_SAN_DRIVER, TRIDENT_CSI_DRIVER
from inventory.fields import as_list as _list
from inventory.fields import as_mapping as _mapping
from inventory.fields import as_text as _text
from inventory.fields import dig as _get
from inventory.state import ArrayRecords, SnapshotState

# Trident's ANF/GCNV drivers create their one rule with read-write and root access.
CLOUD_DEFAULT_EXPORT_RULE = "0.0.0.0/0"


@dataclass
class Gate:
    """One access-control object a client must pass, in evaluation order."""

    # export-policy | traversal-policy | igroup | nvme-subsystem | access-group | chap-account | cloud-rule
    kind: str
    name: str
    where: str  # the array's name, or "Trident backend <name>" for cloud rules
    role: str  # e.g. "volume policy", "qtree policy", "SVM root /", "parent junction /a", "mapped at LUN 0"
    rules: list[dict] = field(default_factory=list)  # export rules (ONTAP REST shape)
    initiators: list[str] = field(default_factory=list)  # IQNs / NQNs / WWPNs, nested groups expanded
    via: dict[str, str] = field(default_factory=dict)  # initiator -> the (nested) group that lists it
    unread: bool = False  # the array object was not read: its rules are unknown, not empty
    # What of the gate's membership could not be read (a field of the wrong type, a nested group
    # not in the answer): each may admit anyone, so it is judged unverifiable, never "no one".
    unreadable: list[str] = field(default_factory=list)


@dataclass
class Resolution:
    """Where one volume's data lives and what guards it."""

    subject: str  # "PersistentVolume/<name>" or "Pod/<ns>/<name> volume <v>"
    namespaces: list[str]  # namespaces whose data it is (claimRef, the pod's)
    path: str  # trident | static-nfs | static-iscsi | inline-nfs | other
    backend: str = ""
    driver: str = ""
    array: str = ""
    array_status: str = ""  # read | array not read | cloud (from Trident's config) | not joined
    object_kind: str = ""
    object_name: str = ""
    protocol: str = ""  # nfs | iscsi | nvme | fc
    gates: list[Gate] = field(default_factory=list)
    problem: str = ""  # why it could not be joined, when it could not

    @property
    def joined(self) -> bool:
        return bool(self.object_name) or self.array_status.startswith("cloud")


@dataclass
class JoinResult:
    volumes: dict[str, Resolution]  # PV name -> resolution
    inline: list[Resolution]
    unbacked: list[dict]  # array objects with a backend's storage prefix that back no PV
    broken_links: list[str]  # TridentVolumes marked orphaned: Trident lost the array object


# What one volume's resolution was made from, the resolutions, and the array objects they use.
_PvWork = tuple[dict, dict | None, Resolution, tuple]  # PV, its TridentVolume, resolution, used
_PodWork = tuple[dict, list[Resolution], tuple]  # pod, its inline volumes' resolutions, used


@dataclass
class JoinMemo:
    """A join's work, for the next join of the same cluster (arrays/volume_access.py).  Valid only
    while `reads`, everything a resolution reads besides its own volume (the backends, Trident's
    nodes, the arrays' records, the array each backend is linked to), is equal: then a PV equal to
    the one resolved last time (and its TridentVolume), or a pod equal to the one last time, has
    the same resolution, and the indexes of `reads` stand.  Resolutions are never modified."""

    reads: tuple
    indexes: tuple
    pvs: dict[str, _PvWork]
    pods: dict[tuple[str, str], _PodWork]
    used: set[tuple[str, str, str]]
    unbacked: list[dict]


def join_snapshot(state: SnapshotState) -> JoinResult:
    return _Joiner(state).run()[0]


def join_remembered(state: SnapshotState, memo: JoinMemo | None) -> tuple[JoinResult, JoinMemo]:
    """The join, reusing what of `memo` (the last join of the cluster) still holds; and its own memo."""
    return _Joiner(state, memo).run()


def _same(earlier: object, now: object) -> bool:
    # A reused kept form is the very same object (inventory/kept_reuse.py): no deep comparison.
    return earlier is now or earlier == now


class _ArrayIndex:
    """One array's records indexed the ways the join looks them up (each lookup O(1) or O(depth))."""

    def __init__(self, records: ArrayRecords):
        self.volume_paths: dict[tuple[str, str], tuple[str, dict]] = {}  # (svm, junction path) -> volume
        self.paths: dict[tuple[str, str], tuple[str, str, dict]] = {}  # (svm, path) -> volume or qtree
        for key, volume in records.all("ontap.Volume").items():
            if path := _text(_get(volume, "nas", "path")):
                svm = key.split("/", 1)[0]
                self.volume_paths[(svm, _clean_path(path))] = (key, volume)
                self.paths[(svm, _clean_path(path))] = ("ontap.Volume", key, volume)
        for key, qtree in records.all("ontap.Qtree").items():
            if path := _text(
                _get(qtree, "path")
            ):  # a qtree at its volume's own path: the qtree is more precise
                self.paths[(key.split("/", 1)[0], _clean_path(path))] = ("ontap.Qtree", key, qtree)
        self.lun_maps: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for lun_map in records.all("ontap.LunMap").values():
            if isinstance(lun_map, dict):
                self.lun_maps[(_name_of(lun_map, "svm"), _name_of(lun_map, "lun"))].append(lun_map)
        self.solidfire_volumes = {
            name: (k, v)
            for k, v in records.all("solidfire.Volume").items()
            if (name := _text(_get(v, "name")))
        }
        # NVMe namespaces in key order, with the position of the first whose UUID is u, and of the
        # first whose path holds `/vol/X/` for each X: a volume's namespace without a scan each.
        self.nvme_namespaces = [
            (k, ns) for k, ns in records.all("ontap.NvmeNamespace").items() if isinstance(ns, dict)
        ]
        self.nvme_by_uuid: dict[str, int] = {}
        self.nvme_by_volume: dict[str, int] = {}
        for position, (_, namespace) in enumerate(self.nvme_namespaces):
            if isinstance(uuid := namespace.get("uuid"), str):
                self.nvme_by_uuid.setdefault(uuid, position)
            for volume in _volumes_in_path(_text(namespace.get("name"))):
                self.nvme_by_volume.setdefault(volume, position)
        self.subsystem_maps: dict[str, list] = defaultdict(list)  # namespace name -> its maps, in order
        for mapping in records.all("ontap.NvmeSubsystemMap").values():
            self.subsystem_maps[_name_of(mapping, "namespace")].append(mapping)


class _Joiner:
    def __init__(self, state: SnapshotState, memo: JoinMemo | None = None):
        self.state = state
        self.tvols = {
            name: data for (_, name), data in state.of_kind("TridentVolume").items() if isinstance(data, dict)
        }
        self.used: set[tuple[str, str, str]] = set()  # (array, kind, name) backing some volume
        self.marks: list[tuple[str, str, str]] = []  # what the volume being resolved uses
        self.reads = (
            state.of_kind("TridentBackend"),
            state.of_kind("TridentNode"),
            state.arrays,
            state.facts.get("backends"),
        )
        self.memo = memo if memo is not None and _same(memo.reads, self.reads) else None
        if self.memo is not None:
            (
                self.backends,
                self.policies,
                self.indexes,
                self.lifs,
                self.iscsi_targets,
                self.node_iqns,
            ) = self.memo.indexes
            return
        self.backends: dict[str, BackendInfo] = {}
        for raw in state.of_kind("TridentBackend").values():
            info = backend_info(raw)
            self.backends[info.uuid] = info
        self.policies: dict[tuple[str, str, str], tuple[list, list, bool]] = {}  # policy_rules'
        self.indexes = {name: _ArrayIndex(records) for name, records in state.arrays.items()}
        self.lifs: dict[str, tuple[ArrayRecords, str]] = {}  # data LIF address -> (array, SVM)
        self.iscsi_targets: dict[str, tuple[ArrayRecords, str]] = {}  # target IQN -> (array, SVM)
        self.node_iqns = {
            (_text(_get(t, "name")) or _text(_get(t, "spec", "nodeName"))): _text(_get(t, "iqn"))
            for t in state.of_kind("TridentNode").values()
        }
        for records in state.arrays.values():
            for service in records.all("ontap.IscsiService").values():
                if target := _name_of(service, "target").lower():
                    self.iscsi_targets.setdefault(target, (records, _name_of(service, "svm")))
            for lif in records.all("ontap.Interface").values():
                if address := _text(_get(lif, "ip", "address")):
                    self.lifs.setdefault(address, (records, _name_of(lif, "svm")))

    def run(self) -> tuple[JoinResult, JoinMemo]:
        pvs = {
            name: self.pv_work(name, pv) for (_, name), pv in self.state.of_kind("PersistentVolume").items()
        }
        pods = {key: self.pod_work(key, pod) for key, pod in self.state.of_kind("Pod").items()}
        volumes = {name: resolution for name, (_, _, resolution, _) in pvs.items()}
        inline = [resolution for _, resolutions, _ in pods.values() for resolution in resolutions]
        broken = sorted(name for name, tvol in self.tvols.items() if tvol.get("orphaned") is True)
        if self.memo is not None and self.memo.used == self.used:
            unbacked = self.memo.unbacked
        else:
            unbacked = self.unbacked()
        indexes = (self.backends, self.policies, self.indexes, self.lifs, self.iscsi_targets, self.node_iqns)
        memo = JoinMemo(self.reads, indexes, pvs, pods, self.used, unbacked)
        return JoinResult(volumes, inline, unbacked, broken), memo

    def pv_work(self, name: str, pv: dict) -> _PvWork:
        tvol = self.tvols.get((_trident_volume_name(name, pv) or "").lower())
        earlier = self.memo.pvs.get(name) if self.memo is not None else None
        if earlier is not None and _same(earlier[0], pv) and _same(earlier[1], tvol):
            self.used.update(earlier[3])
            return earlier
        self.marks = []
        resolution = self.resolve_pv(name, pv)
        return pv, tvol, resolution, tuple(self.marks)

    def pod_work(self, key: tuple[str, str], pod: dict) -> _PodWork:
        earlier = self.memo.pods.get(key) if self.memo is not None else None
        if earlier is not None and _same(earlier[0], pod):
            self.used.update(earlier[2])
            return earlier
        self.marks = []
        resolutions = self.resolve_inline(key, pod)
        return pod, resolutions, tuple(self.marks)

    def use(self, array: str, kind: str, name: str) -> None:
        """An array object backs the volume being resolved."""
        self.used.add((array, kind, name))
        self.marks.append((array, kind, name))

    # --- PVs ---------------------------------------------------------------------------------

    def resolve_pv(self, name: str, pv: dict) -> Resolution:
        spec = _mapping(_get(pv, "spec"))
        claim_namespace = _text(_get(spec, "claimRef", "namespace"))
        namespaces = [claim_namespace] if claim_namespace else []
        subject = f"PersistentVolume/{name}"
        csi = _mapping(spec.get("csi"))
        if volume_name := _trident_volume_name(name, pv):
            return self.resolve_trident(subject, namespaces, volume_name, csi)
        if nfs := _mapping(spec.get("nfs")):
            return self.resolve_nfs(subject, namespaces, "static-nfs", nfs.get("server"), nfs.get("path"))
        if iscsi := _mapping(spec.get("iscsi")):
            return self.resolve_static_iscsi(subject, namespaces, iscsi)
        return Resolution(
            subject, namespaces, "other", array_status="not joined", problem="not a NetApp volume"
        )

    def resolve_trident(self, subject, namespaces, volume_name: str, csi: dict) -> Resolution:
        tvol = self.tvols.get(volume_name.lower())
        attributes = _mapping(csi.get("volumeAttributes"))
        backend_uuid = _text(_get(tvol, "backendUUID")) or _text(attributes.get("backendUUID"))
        backend = self.backends.get(backend_uuid)
        res = Resolution(subject, namespaces, "trident")
        if backend is None:
            res.array_status = "not joined"
            res.problem = f"Trident backend {backend_uuid or '(unknown)'} not found"
            return res
        res.backend, res.driver = backend.name, backend.driver
        config = _mapping(_get(tvol, "config"))
        internal_name = _text(config.get("internalName")) or _text(attributes.get("internalName"))
        internal_id = _text(config.get("internalID")) or _text(attributes.get("internalID"))
        if tvol is None:
            res.problem = f"TridentVolume {volume_name} not found"
        if backend.driver in CLOUD_DRIVERS:
            return self.cloud_rule(res, backend)
        array_name = self.state.array_for_backend(backend.uuid)
        records = self.state.arrays.get(array_name or "")
        if records is None:
            res.array_status = "array not read"
            res.problem = res.problem or f"array of backend {backend.name} is not configured or was not read"
            return res
        res.array, res.array_status = records.name, "read"
        access = _mapping(config.get("accessInformation"))
        if backend.driver in NAS_DRIVERS:
            return self.nas_object(res, records, backend, internal_name, internal_id)
        if backend.driver == SOLIDFIRE_SAN_DRIVER:
            return self.solidfire_object(res, records, internal_name or volume_name)
        if access.get("nvmeNamespaceUUID") or (backend.config.get("sanType") == "nvme"):
            return self.nvme_object(res, records, backend, internal_name, access)
        return self.lun_object(res, records, backend, _lun_path(internal_name, internal_id), access)

    def cloud_rule(self, res: Resolution, backend: BackendInfo) -> Resolution:
        config = backend.config
        pools = [_text(_get(pool, "exportRule")) for pool in _list(config.get("storage"))]
        configured = (
            _text(config.get("exportRule"))
            or _text(_get(config, "defaults", "exportRule"))
            or next((rule for rule in pools if rule), "")
        )
        rule = configured or CLOUD_DEFAULT_EXPORT_RULE
        res.array_status, res.protocol = "cloud (from Trident's config)", "nfs"
        res.gates.append(
            Gate(
                "cloud-rule",
                "exportRule",
                f"Trident backend {backend.name}",
                "backend exportRule" + ("" if configured else " (Trident's default when unset)"),
                rules=[_cloud_rule(rule)],
            )
        )
        return res

    # --- NAS ---------------------------------------------------------------------------------

    def nas_object(self, res, records: ArrayRecords, backend, internal_name, internal_id) -> Resolution:
        res.protocol = "nfs"
        qtree_path = _parse_internal_id(internal_id)
        if backend.driver == "ontap-nas-economy" and qtree_path.get("qtree"):
            svm = qtree_path.get("svm", backend.svm)
            kind, key = "ontap.Qtree", f"{svm}/{qtree_path['flexvol']}/{qtree_path['qtree']}"
        else:
            kind, key = "ontap.Volume", f"{backend.svm}/{internal_name}"
        found = records.get(kind, key)
        if found is None:
            res.problem = f"{kind.removeprefix('ontap.').lower()} {key} not found on {records.name}"
            return res
        return self.nas_gates(res, records, kind, key, found)

    def nas_gates(self, res, records: ArrayRecords, kind: str, key: str, obj: dict) -> Resolution:
        """The object's own policy first, then every policy its junction path traverses."""
        res.object_kind, res.object_name = kind, key
        self.use(records.name, kind, key)
        svm = key.split("/", 1)[0]
        if kind == "ontap.Qtree":
            policy = _name_of(obj, "export_policy")
            parent_key = f"{svm}/{_name_of(obj, 'volume')}"
            parent = _mapping(records.get("ontap.Volume", parent_key))
            self.use(records.name, "ontap.Volume", parent_key)
            junction = _text(_get(parent, "nas", "path"))
            res.gates.append(self.policy_gate(records, svm, policy, "qtree policy"))
            traversal = [(parent_key, parent)] + self.junction_parents(records, svm, junction)
        else:
            nas = _mapping(obj.get("nas"))
            policy = _name_of(nas, "export_policy")
            res.gates.append(self.policy_gate(records, svm, policy, "volume policy"))
            traversal = self.junction_parents(records, svm, _text(nas.get("path")))
        for volume_key, volume in traversal:
            nas = _mapping(_get(volume, "nas"))
            path = _text(nas.get("path"))
            role = "SVM root /" if path == "/" else f"parent junction {path or volume_key}"
            name = _name_of(nas, "export_policy")
            res.gates.append(self.policy_gate(records, svm, name, role, kind="traversal-policy"))
        return res

    def junction_parents(self, records: ArrayRecords, svm: str, path: str) -> list[tuple[str, dict]]:
        """Volumes on `svm` mounted at proper ancestors of `path`, nearest first (root last)."""
        if not path or _clean_path(path) == "/":
            return []
        by_path = self.indexes[records.name].volume_paths
        parents, current = [], posixpath.dirname(_clean_path(path))
        while True:
            if (svm, current) in by_path:
                parents.append(by_path[(svm, current)])
            if current == "/":
                return parents
            current = posixpath.dirname(current)

    def policy_gate(
        self, records: ArrayRecords, svm: str, name: str, role: str, kind="export-policy"
    ) -> Gate:
        rules, unreadable, unread = self.policy_rules(records, svm, name)
        # The policy's one list of rules, shared by its gates (gates are read, never modified).
        return Gate(
            kind,
            name or "(none)",
            records.name,
            role,
            rules=rules,
            unread=unread,
            unreadable=list(unreadable),
        )

    def policy_rules(self, records: ArrayRecords, svm: str, name: str) -> tuple[list, list, bool]:
        """An export policy's rules in ONTAP's order, what of them is unreadable, and whether it was
        not read at all; once per policy (the SVM root's and parents' guard every volume below)."""
        key = (records.name, svm, name)
        if key not in self.policies:
            policy = records.get("ontap.ExportPolicy", f"{svm}/{name}")
            rules, unreadable = [], []
            if isinstance(policy, dict):
                rules = sorted(
                    _list_field(policy, "rules", f"export policy {name}", unreadable), key=_rule_order
                )
            # Never read (the array's answer lacked it): unknown, not "admits nobody".
            self.policies[key] = (rules, unreadable, not isinstance(policy, dict) and bool(name))
        return self.policies[key]

    def resolve_nfs(self, subject, namespaces, path_kind, server, export_path) -> Resolution:
        res = Resolution(subject, namespaces, path_kind, protocol="nfs")
        located = self.lif_owner(server)
        if located is None:
            res.array_status = "not joined"
            res.problem = f"NFS server {server} is not a data LIF of any array read"
            return res
        records, svm = located
        res.array, res.array_status = records.name, "read"
        target = self.object_at_path(records, svm, _text(export_path) or "/")
        if target is None:
            res.problem = f"no volume of {svm} on {records.name} is mounted at {export_path}"
            return res
        return self.nas_gates(res, records, *target)

    def lif_owner(self, address: str | None) -> tuple[ArrayRecords, str] | None:
        """The array and SVM whose data LIF has this address (names are never resolved)."""
        return self.lifs.get(_text(address))

    def object_at_path(self, records: ArrayRecords, svm: str, path: str) -> tuple[str, str, dict] | None:
        """The qtree or volume whose path is the longest prefix of `path` (component-wise)."""
        paths, current = self.indexes[records.name].paths, _clean_path(path)
        while True:
            if (svm, current) in paths:
                return paths[(svm, current)]
            if current == "/":
                return None
            current = posixpath.dirname(current)

    # --- SAN ---------------------------------------------------------------------------------

    def mark_used(self, records: ArrayRecords, kind: str, key: str) -> None:
        """A LUN or NVMe namespace in use also keeps the FlexVol that holds it in use."""
        self.use(records.name, kind, key)
        if volume := _name_of(_get(records.get(kind, key), "location"), "volume"):
            self.use(records.name, "ontap.Volume", f"{key.split('/', 1)[0]}/{volume}")

    def lun_object(self, res, records: ArrayRecords, backend, lun_path: str, access: dict) -> Resolution:
        res.protocol = "iscsi"
        key = f"{backend.svm}/{lun_path}"
        lun = records.get("ontap.Lun", key)
        if lun is None:
            res.problem = f"LUN {key} not found on {records.name}"
            return res
        return self.lun_gates(res, records, key)

    def lun_gates(self, res, records: ArrayRecords, lun_key: str) -> Resolution:
        res.object_kind, res.object_name = "ontap.Lun", lun_key
        self.mark_used(records, "ontap.Lun", lun_key)
        svm, lun_name = lun_key.split("/", 1)
        for lun_map in self.indexes[records.name].lun_maps.get((svm, lun_name), []):
            igroup_name = _name_of(lun_map, "igroup")
            unreadable: list[str] = []
            initiators, via = self.igroup_initiators(records, svm, igroup_name, unreadable)
            res.gates.append(
                Gate(
                    "igroup",
                    igroup_name,
                    records.name,
                    f"mapped at LUN {lun_map.get('logical_unit_number')}",
                    initiators=initiators,
                    via=via,
                    unreadable=unreadable,
                )
            )
        return res

    def igroup_initiators(
        self, records: ArrayRecords, svm: str, name: str, unreadable: list[str] | None = None
    ) -> tuple[list[str], dict[str, str]]:
        """An igroup's initiators with its nested igroups expanded (cycles tolerated); what cannot
        be read of them (a missing igroup, a field of the wrong type) is added to `unreadable`."""
        unreadable = [] if unreadable is None else unreadable
        via: dict[str, str] = {}
        pending, seen = [name], set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            igroup = records.get("ontap.Igroup", f"{svm}/{current}")
            what = f"igroup {current or '(unnamed)'}"
            if not isinstance(igroup, dict):
                unreadable.append(f"{what} is not in the array's answer: its initiators are unknown")
                continue
            for initiator in _list_field(igroup, "initiators", what, unreadable):
                named = _text(_get(initiator, "name"))
                if named:
                    via.setdefault(named, current)
                else:
                    unreadable.append(f"{what} lists an initiator without a name: {_excerpt(initiator)}")
            for child in _list_field(igroup, "igroups", what, unreadable):
                pending.append(_text(_get(child, "name")))
        return sorted(via), via

    def nvme_object(
        self, res, records: ArrayRecords, backend, internal_name: str, access: dict
    ) -> Resolution:
        res.protocol = "nvme"
        uuid = _text(access.get("nvmeNamespaceUUID"))
        index = self.indexes[records.name]
        # The first namespace with the volume's UUID or under its FlexVol (`/vol/<internal name>/`).
        found = min(
            (
                position
                for position in (
                    index.nvme_by_uuid.get(uuid) if uuid else None,
                    index.nvme_by_volume.get(internal_name) if internal_name else None,
                )
                if position is not None
            ),
            default=None,
        )
        if found is None:
            res.problem = f"NVMe namespace of {internal_name} not found on {records.name}"
            return res
        key, namespace = index.nvme_namespaces[found]
        res.object_kind, res.object_name = "ontap.NvmeNamespace", key
        self.mark_used(records, "ontap.NvmeNamespace", key)
        svm = key.split("/", 1)[0]
        for mapping in index.subsystem_maps.get(_text(namespace.get("name")), ()):
            subsystem_name = _name_of(mapping, "subsystem")
            subsystem = records.get("ontap.NvmeSubsystem", f"{svm}/{subsystem_name}")
            what, unreadable, hosts = f"NVMe subsystem {subsystem_name or '(unnamed)'}", [], []
            if not isinstance(subsystem, dict):
                unreadable.append(f"{what} is not in the array's answer: its hosts are unknown")
            for host in (
                _list_field(subsystem, "hosts", what, unreadable) if isinstance(subsystem, dict) else ()
            ):
                if nqn := _text(_get(host, "nqn")):
                    hosts.append(nqn)
                else:
                    unreadable.append(f"{what} lists a host without an NQN: {_excerpt(host)}")
            res.gates.append(
                Gate(
                    "nvme-subsystem",
                    subsystem_name,
                    records.name,
                    "subsystem hosts",
                    initiators=sorted(hosts),
                    unreadable=unreadable,
                )
            )
        return res

    def resolve_static_iscsi(
        self, subject, namespaces, iscsi: dict, path: str = "static-iscsi", node: str = ""
    ) -> Resolution:
        """By the target IQN (the SVM's iSCSI service), else by the portal (a data LIF), then LUN id.

        LUN ids are per igroup: when several LUNs sit at that id, the one reached is the one mapped to
        an igroup holding the initiator of the node that logs in (known for a pod's inline volume).
        """
        res = Resolution(subject, namespaces, path, protocol="iscsi")
        portal = host_of(iscsi.get("targetPortal"))
        located = self.iscsi_targets.get(_text(iscsi.get("iqn")).lower()) or self.lif_owner(portal)
        if located is None:
            res.array_status = "not joined"
            res.problem = f"iSCSI target {iscsi.get('iqn')} at {portal} is not an SVM of any array read"
            return res
        records, svm = located
        res.array, res.array_status = records.name, "read"
        lun_id = iscsi.get("lun")
        maps = [
            m
            for m in records.all("ontap.LunMap").values()
            if _name_of(m, "svm") == svm and _get(m, "logical_unit_number") == lun_id
        ]
        node_iqn = self.node_iqns.get(node, "")
        if node_iqn and len({_name_of(m, "lun") for m in maps}) > 1:
            maps = [
                m for m in maps if node_iqn in self.igroup_initiators(records, svm, _name_of(m, "igroup"))[0]
            ]
        lun_names = sorted({_name_of(m, "lun") for m in maps})
        if len(lun_names) != 1:
            state = f"ambiguous ({', '.join(lun_names)})" if lun_names else "not mapped"
            res.problem = f"LUN id {lun_id} on {svm} is {state}"
            return res
        return self.lun_gates(res, records, f"{svm}/{lun_names[0]}")

    def solidfire_object(self, res, records: ArrayRecords, volume_name: str) -> Resolution:
        res.protocol = "iscsi"
        wanted = volume_name.replace("_", "-")
        found = self.indexes[records.name].solidfire_volumes.get(wanted)
        if found is None:
            res.problem = f"SolidFire volume {wanted} not found on {records.name}"
            return res
        key, volume = found
        res.object_kind, res.object_name = "solidfire.Volume", key
        self.use(records.name, "solidfire.Volume", key)
        account = next(
            (
                a
                for a in records.all("solidfire.Account").values()
                if isinstance(a, dict) and a.get("accountID") == volume.get("accountID")
            ),
            None,
        )
        if account is not None:
            res.gates.append(
                Gate(
                    "chap-account",
                    _text(account.get("username")) or str(volume.get("accountID")),
                    records.name,
                    "CHAP",
                )
            )
        for group in records.all("solidfire.VolumeAccessGroup").values():
            group = _mapping(group)
            what, unreadable = f"volume access group {_text(group.get('name')) or '(unnamed)'}", []
            volumes = group.get("volumes")
            if not isinstance(volumes, list):
                # Which volumes it holds cannot be read: it may hold this one.
                _list_field(group, "volumes", what, unreadable)
                if not unreadable:
                    continue  # no volumes listed: it holds none
            elif volume.get("volumeID") not in volumes:
                continue
            initiators = []
            for initiator in _list_field(group, "initiators", what, unreadable):
                if isinstance(initiator, str) and initiator:
                    initiators.append(initiator)
                else:
                    unreadable.append(f"{what} lists an initiator that is not text: {_excerpt(initiator)}")
            res.gates.append(
                Gate(
                    "access-group",
                    _text(group.get("name")),
                    records.name,
                    "volume access group",
                    initiators=sorted(initiators),
                    unreadable=unreadable,
                )
            )
        return res

    # --- inline pod volumes -----------------------------------------------------------------

    def resolve_inline(self, pod_key: tuple[str, str], pod: dict) -> list[Resolution]:
        namespace, name = pod_key
        out = []
        for volume in _list(_get(pod, "spec", "volumes")):
            if not isinstance(volume, dict):
                continue  # not a volume (hand-edited or corrupted data): nothing to resolve
            if nfs := _mapping(volume.get("nfs")):
                subject = f"Pod/{namespace}/{name} volume {volume.get('name')}"
                out.append(
                    self.resolve_nfs(subject, [namespace], "inline-nfs", nfs.get("server"), nfs.get("path"))
                )
            elif iscsi := _mapping(volume.get("iscsi")):
                subject = f"Pod/{namespace}/{name} volume {volume.get('name')}"
                node = _text(_get(pod, "spec", "nodeName"))
                out.append(self.resolve_static_iscsi(subject, [namespace], iscsi, "inline-iscsi", node))
        return out

    # --- what backs nothing -------------------------------------------------------------------

    def unbacked(self) -> list[dict]:
        """Array objects named with a linked backend's storage prefix, on its SVM, that back no PV."""
        found = []
        pools_of: dict[str, set[str]] = {}  # array -> the volumes holding a used qtree; once, not per backend
        for array, kind, key in self.used:
            if kind == "ontap.Qtree":
                pools_of.setdefault(array, set()).add(key.split("/")[1])
        for backend in self.backends.values():
            array_name = self.state.array_for_backend(backend.uuid)
            records = self.state.arrays.get(array_name or "")
            if records is None or backend.family != "ontap" or not backend.storage_prefix:
                continue
            pools = pools_of.get(records.name, set())
            for kind in ("ontap.Volume", "ontap.Qtree", "ontap.Lun"):
                for key in records.all(kind):
                    svm, _, rest = key.partition("/")
                    leaf = rest.rsplit("/", 1)[-1]
                    if svm != backend.svm or not leaf.startswith(backend.storage_prefix):
                        continue
                    if (records.name, kind, key) in self.used or (kind == "ontap.Volume" and rest in pools):
                        continue
                    entry = {"array": records.name, "kind": kind, "name": key, "backend": backend.name}
                    if entry not in found:
                        found.append(entry)
        return found


def _trident_volume_name(pv_name: str, pv: dict) -> str | None:
    """The volume a Trident CSI PV names (its TridentVolume is named so in lower case); None for
    any other PV."""
    csi = _mapping(_get(pv, "spec", "csi"))
    if csi.get("driver") != TRIDENT_CSI_DRIVER:
        return None
    return _text(csi.get("volumeHandle")) or pv_name


# --- readers of values from a cluster or an array (inventory/fields.py has the general ones) ------


def _list_field(record: dict, key: str, what: str, unreadable: list[str]) -> list:
    """A list field of an access-control record.  Absent is empty (ONTAP and Element omit empty
    lists); any other type is noted in `unreadable`, never read as "lists no one"."""
    if key not in record:
        return []
    value = record[key]
    if isinstance(value, list):
        return value
    unreadable.append(f"{what}: `{key}` is {_excerpt(value)}, not a list")
    return []


def _excerpt(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _name_of(record: object, field: str) -> str:
    return _text(_get(record, field, "name"))


def _rule_order(rule: object) -> int:
    index = _get(rule, "index")
    return index if isinstance(index, int) and not isinstance(index, bool) else 0


def _cloud_rule(match: str) -> dict:
    return {
        "index": 1,
        "clients": [{"match": match}],
        "protocols": ["nfs"],
        "ro_rule": ["any"],
        "rw_rule": ["any"],
        "superuser": ["any"],
    }


def _parse_internal_id(internal_id: str) -> dict[str, str]:
    """`/svm/<svm>/flexvol/<fv>/qtree/<qt>` (or `/lun/<lun>`) as a mapping."""
    parts = [p for p in (internal_id or "").split("/") if p]
    return dict(zip(parts[::2], parts[1::2], strict=False))


def _lun_path(internal_name: str, internal_id: str) -> str:
    parsed = _parse_internal_id(internal_id)
    if parsed.get("flexvol") and parsed.get("lun"):
        return f"/vol/{parsed['flexvol']}/{parsed['lun']}"
    return f"/vol/{internal_name}/lun0"


def _volumes_in_path(path: str) -> set[str]:
    """Every X for which `/vol/X/` is in `path` (an NVMe namespace's path names its FlexVol so)."""
    volumes, start = set(), path.find("/vol/")
    while start >= 0:
        end = path.find("/", start + 6)
        while end >= 0:
            volumes.add(path[start + 5 : end])
            end = path.find("/", end + 1)
        start = path.find("/vol/", start + 1)
    return volumes


def _clean_path(path: str) -> str:
    """`path` absolute and normalised (`//`, `.`, `..`, trailing `/`); POSIX would keep a leading `//`."""
    return posixpath.normpath("/" + path.lstrip("/"))
