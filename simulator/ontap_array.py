"""The ONTAP clusters the simulated Trident backends point at, as their REST API describes them.

Everything Trident manages on an array is derived from the simulation's *current* state, at the
moment of asking: volumes, qtrees, LUNs and NVMe namespaces from TridentVolumes, per-volume export
policies and LUN maps from TridentVolumePublications, backend policies and igroups from
TridentNodes (shared/reference/trident-ontap-solidfire.md §2.2-2.3).  So the arrays stay
consistent with the cluster as it evolves.

What an administrator set up by hand is *not* kept up to date, as on real arrays: the static
export policy `k8s_nodes` and the legacy backend igroup list every node the cluster had before
any left (`Simulation.departed_nodes` included), so a node that leaves stays in them.
Array-only events follow the simulated clock (`WIDENED` .. `FIXED`: a wide rule added to a
backend policy, then removed).

Seeded array-side facts: `k8s_nodes` admits 0.0.0.0/0 with superuser `any`; svm_legacy has
showmount enabled, svm_k8s does not; the per-node igroups on svm_san_legacy also list a backup
host's IQN (no node's); the legacy igroup is nested in `k8s-all-nodes`, which maps a LUN with
Trident's prefix that backs no PV, and svm_legacy holds a FlexVol of that kind too.

Unlike real ONTAP, the iSCSI credentials carry the CHAP passwords, so tests can prove a reader
drops them.
"""

import base64
import ipaddress
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache

from arrays.sources.contract import ONTAP_COLLECTIONS
from simulator import shapes
from simulator.names import NODE_CIDR, internal_volume_name
from simulator.trident import Backend

ONTAP_VERSION = {"full": "NetApp Release 9.14.1P4: Thu Mar 14 2024", "generation": 9, "major": 14, "minor": 1}

# Array-only events, as offsets from the simulation's start.
WIDENED = timedelta(days=14, hours=9)  # 0.0.0.0/0 added to the first flexgroup backend's policy ...
FIXED = timedelta(days=17, hours=15)  # ... and removed again

SHOWMOUNT_ENABLED = {"svm_legacy", "svm_k8s_open"}
STATIC_POLICY_CLIENTS_WIDE = "0.0.0.0/0"
FOREIGN_IQN = "iqn.2005-03.org.open-iscsi:backup-host-01"  # a host that is no node of the cluster
ALL_NODES_IGROUP = "k8s-all-nodes"
STATIC_EXPORTS_POLICY = "nfs_static"
EMPTY_POLICY = "trident_empty"  # `<storagePrefix>empty`: every backend here uses the default prefix

_NAMESPACE = uuid.UUID("6a1c5d1e-3f57-4c4e-9d3e-0b4f7a6c2e10")


@lru_cache(maxsize=200_000)
def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def _ref(name: str, uid: str) -> dict:
    return {"name": name, "uuid": uid}


@dataclass(frozen=True)
class _Node:
    name: str
    ips: tuple[str, ...]
    iqn: str
    nqn: str


@dataclass
class _Svm:
    name: str
    uuid: str
    backends: list[Backend] = field(default_factory=list)

    @property
    def ref(self) -> dict:
        return _ref(self.name, self.uuid)

    def drivers(self) -> set[str]:
        return {b.driver for b in self.backends}

    @property
    def nas(self) -> bool:
        return any(d.startswith("ontap-nas") for d in self.drivers())

    @property
    def san_type(self) -> str:
        types = {b.variant.san_type or "iscsi" for b in self.backends if b.driver == "ontap-san"}
        return types.pop() if types else ""


class OntapArray:
    """One ONTAP cluster: its SVMs and what Trident and the admins made on them."""

    served_paths = frozenset(ONTAP_COLLECTIONS)  # no FC is modelled: its collection is served empty

    def __init__(self, sim, name: str, management_lif: str, backends: list[Backend]):
        self.sim = sim
        self.name = name
        self.management_lifs = [management_lif]
        self.uuid = _uuid(str(sim.seed), name)
        self._svms: dict[str, _Svm] = {}
        for backend in backends:
            svm = self._svms.setdefault(
                backend.variant.svm, _Svm(backend.variant.svm, _uuid(self.uuid, "svm", backend.variant.svm))
            )
            svm.backends.append(backend)
        self.svms = sorted(self._svms)
        with sim.lock:
            # What admins (and old Trident versions) set up once, from the nodes before any left.
            self._setup_nodes = {
                name: _Node(name, (f.internal_ip,), f.iqn, f.nqn) for name, f in sim.departed_nodes.items()
            } | _current_nodes(sim)
            self._start = sim.start
        self._ids: dict[tuple, int] = {}
        self._next_id: dict[tuple, int] = {}
        self._cache_key: tuple | None = None
        self._cache: dict[str, list[dict]] = {}

    # ------------------------------------------------------------ the interface

    def records(self, path: str) -> list[dict]:
        """The current records of a collection path, with every field (expensive ones included).
        Shared between callers: never modify them.  Unknown paths have none."""
        with self.sim.lock:
            key = (self.sim.resource_version, self.sim.clock)
            if key != self._cache_key:
                self._cache = _Builder(self).build()
                self._cache_key = key
            return self._cache.get(path, [])

    def policy_id(self, svm: str, name: str) -> int:
        """Export policy ids are numbers ONTAP hands out once; a recreated policy keeps its id here."""
        return self._id(("policy", f"{svm}/{name}"), 8589934593)

    def _id(self, key: tuple, base: int) -> int:
        """A number handed out once per key, counting up from `base` within the key's family."""
        known = self._ids.get(key)
        if known is None:
            family = key[:-1]
            known = self._ids[key] = self._next_id.get(family, base)
            self._next_id[family] = known + 1
        return known


def ontap_arrays(sim) -> list[OntapArray]:
    """The ONTAP clusters the simulation's backends point at: one per management LIF."""
    with sim.lock:
        lifs: dict[str, list[Backend]] = {}
        configs = {b["backendUUID"]: b["config"] for b in sim.objects("TridentBackend")}
        for backend in sim.backends.values():
            config = configs.get(backend.uuid, {}).get("ontap_config")
            if config:
                lifs.setdefault(config["managementLIF"], []).append(backend)
        return [
            OntapArray(sim, f"ontap-{'abcdefgh'[i]}", lif, backends)
            for i, (lif, backends) in enumerate(lifs.items())
        ]


def _current_nodes(sim) -> dict[str, _Node]:
    return {
        t["name"]: _Node(
            t["name"], tuple(t.get("spec", {}).get("ips") or t["ips"]), t["iqn"], t.get("nqn", "")
        )
        for t in sim.objects("TridentNode")
    }


def filter_ips(ips, cidrs) -> list[str]:
    """Trident's FilterIPs: the addresses inside any of the CIDRs."""
    networks = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    return [ip for ip in ips if any(ipaddress.ip_address(ip) in n for n in networks)]


def trident_rules(ips) -> list[dict]:
    """Rules as Trident writes them: one per address, NFS, any flavour (so root stays root)."""
    return [_rule(i, ip, ro=["any"], rw=["any"], superuser=["any"]) for i, ip in enumerate(ips, start=1)]


def _rule(index, clients, ro, rw, superuser, protocols=("nfs",), anonymous_user="65534") -> dict:
    clients = [clients] if isinstance(clients, str) else clients
    return {
        "index": index,
        "clients": [{"match": c} for c in clients],
        "protocols": list(protocols),
        "ro_rule": ro,
        "rw_rule": rw,
        "superuser": superuser,
        "anonymous_user": anonymous_user,
        "allow_suid": True,
        "allow_device_creation": True,
        "chown_mode": "restricted",
        "ntfs_unix_security": "fail",
    }


class _Builder:
    """Builds every collection of one array from the simulation, under its lock."""

    def __init__(self, array: OntapArray):
        self.array = array
        self.sim = sim = array.sim
        self.out: dict[str, list[dict]] = {}
        self.policies: dict[tuple[str, str], dict] = {}
        self.nodes = _current_nodes(sim)
        published: dict[str, set[str]] = {}
        for tvp in sim.objects("TridentVolumePublication"):
            published.setdefault(tvp["volumeID"], set()).add(tvp["nodeID"])
        self.volumes: dict[str, list[dict]] = {}  # backend uuid -> its (non-subordinate, live) tvols
        sources = {}
        for tvol in sim.objects("TridentVolume"):
            if tvol["state"] == "subordinate":
                sources[tvol["metadata"]["name"]] = tvol["config"]["shareSourceVolume"]
            elif not tvol.get("orphaned"):
                self.volumes.setdefault(tvol["backendUUID"], []).append(tvol)
        # Publishing a subordinate volume publishes its source's array object.
        for subordinate, source in sources.items():
            published.setdefault(source, set()).update(published.get(subordinate, ()))
        self.published = published
        self.clock = sim.clock
        self.node_name = f"{array.name}-01"

    def add(self, path: str, record: dict) -> dict:
        self.out.setdefault(path, []).append(record)
        return record

    def build(self) -> dict[str, list[dict]]:
        array = self.array
        self.add(
            "/api/cluster",
            {
                "name": array.name,
                "uuid": array.uuid,
                "version": ONTAP_VERSION,
                "location": "dc-1",
                "contact": "storage-team@example.com",
                "management_interfaces": [
                    {**_ref("cluster_mgmt", _uuid(array.uuid, "lif", "mgmt")), "ip": {"address": lif}}
                    for lif in array.management_lifs
                ],
            },
        )
        self.add("/api/network/ip/interfaces", self._management_lif())
        for name in array.svms:
            self._svm(array._svms[name])
        for path in ONTAP_COLLECTIONS:
            self.out.setdefault(path, [])
        return self.out

    # ------------------------------------------------------------ SVM, LIFs, NFS

    def _management_lif(self) -> dict:
        array = self.array
        return {
            **_ref("cluster_mgmt", _uuid(array.uuid, "lif", "mgmt")),
            "ip": {"address": array.management_lifs[0], "netmask": "24", "family": "ipv4"},
            "enabled": True,
            "state": "up",
            "scope": "cluster",
            "ipspace": {"name": "Default"},
            "services": ["management_core", "management_autosupport", "management_https"],
            "service_policy": {"name": "default-management"},
            "location": {"home_node": {"name": self.node_name}, "home_port": {"name": "e0M"}},
        }

    def _svm(self, svm: _Svm) -> None:
        san_type = svm.san_type
        lifs = []
        for address in sorted({b.variant.data_lif for b in svm.backends}):
            if svm.nas:
                lifs.append((address, ["data_core", "data_nfs", "data_flexcache"], "default-data-files"))
            elif san_type == "nvme":
                lifs.append((address, ["data_core", "data_nvme_tcp"], "default-data-nvme-tcp"))
            else:  # iSCSI: Trident's second portal is the next address
                base, last = address.rsplit(".", 1)
                for a in (address, f"{base}.{int(last) + 1}"):
                    lifs.append((a, ["data_core", "data_iscsi"], "default-data-blocks"))
        interfaces = []
        for n, (address, services, policy) in enumerate(lifs, start=1):
            lif = {
                **_ref(f"{svm.name}_data{n}", _uuid(svm.uuid, "lif", address)),
                "ip": {"address": address, "netmask": "24", "family": "ipv4"},
                "enabled": True,
                "state": "up",
                "scope": "svm",
                "svm": svm.ref,
                "ipspace": {"name": "Default"},
                "services": services,
                "service_policy": {"name": policy},
                "location": {
                    "home_node": {"name": self.node_name},
                    "home_port": {"name": f"e0{'cdef'[n % 4]}"},
                },
            }
            self.add("/api/network/ip/interfaces", lif)
            interfaces.append({k: lif[k] for k in ("name", "uuid", "ip", "services")})

        def protocol(enabled: bool) -> dict:
            return {"enabled": enabled, "allowed": enabled}

        self.add(
            "/api/svm/svms",
            {
                **svm.ref,
                "subtype": "default",
                "state": "running",
                "language": "c.utf_8",
                "comment": "",
                "ipspace": {"name": "Default", "uuid": _uuid(self.array.uuid, "ipspace")},
                "aggregates": [_ref("aggr1", _uuid(self.array.uuid, "aggr1"))],
                "nfs": protocol(svm.nas),
                "cifs": protocol(False),
                "iscsi": protocol(san_type == "iscsi"),
                "fcp": protocol(False),
                "nvme": protocol(san_type == "nvme"),
                "ip_interfaces": interfaces,
            },
        )
        if svm.nas:
            self.add(
                "/api/protocols/nfs/services",
                {
                    "svm": svm.ref,
                    "enabled": True,
                    "state": "online",
                    "showmount_enabled": svm.name in SHOWMOUNT_ENABLED,
                    "protocol": {
                        "v3_enabled": True,
                        "v40_enabled": True,
                        "v41_enabled": True,
                        "v42_enabled": False,
                        "v4_id_domain": "example.com",
                    },
                    "transport": {"tcp_enabled": True, "udp_enabled": False, "rdma_enabled": False},
                    "vstorage_enabled": False,
                    "rquota_enabled": False,
                },
            )
        # Every SVM has a root volume; its policy must admit a client for any junction below it.
        self._policy(svm, "default", [_rule(1, "0.0.0.0/0", ro=["sys"], rw=["never"], superuser=["none"])])
        root = self._volume(svm, "svm_root", "/", "default", size=1024**3, is_root=True)
        if svm.nas:
            self._policy(svm, EMPTY_POLICY, [])
        for backend in svm.backends:
            getattr(self, "_" + backend.driver.replace("-", "_"))(svm, backend, root)
        if svm.name == "svm_legacy":
            self._static_exports(svm, root)
        if san_type == "iscsi":
            self._iscsi(svm)

    # ------------------------------------------------------------ export policies and volumes

    def _policy(self, svm: _Svm, name: str, rules: list[dict]) -> dict:
        known = self.policies.get((svm.name, name))
        if known is None:
            known = self.policies[(svm.name, name)] = self.add(
                "/api/protocols/nfs/export-policies",
                {"id": self.array.policy_id(svm.name, name), "name": name, "svm": svm.ref, "rules": rules},
            )
        return known

    def _volume(self, svm, name, path, policy, size, style="flexvol", parent=None, is_root=False) -> dict:
        nas = {
            "export_policy": {"name": policy, "id": self.array.policy_id(svm.name, policy)},
            "security_style": "unix",
            "unix_permissions": 755 if is_root else 777,
            "uid": 0,
            "gid": 0,
        }
        if path:
            nas["path"] = path
            if parent is not None:
                nas["junction_parent"] = _ref(parent["name"], parent["uuid"])
        return self.add(
            "/api/storage/volumes",
            {
                **_ref(name, _uuid(svm.uuid, "volume", name)),
                "svm": svm.ref,
                "style": style,
                "state": "online",
                "type": "rw",
                "comment": "",
                "size": size,
                "space": {"size": size, "used": size // 5, "available": size - size // 5},
                "aggregates": [_ref("aggr1", _uuid(self.array.uuid, "aggr1"))],
                "nas": nas,
                "is_svm_root": is_root,
            },
        )

    def _filtered(self, backend: Backend, node_names) -> list[str]:
        cidrs = backend.variant.auto_export_cidrs or ("0.0.0.0/0", "::/0")
        ips: list[str] = []
        for name in sorted(node_names):
            node = self.nodes.get(name)
            if node is not None:
                ips += [ip for ip in filter_ips(node.ips, cidrs) if ip not in ips]
        return ips

    def _backend_nodes(self, backend: Backend) -> set[str]:
        """Nodes with a publication on the backend: whose addresses Trident keeps in its policy."""
        nodes: set[str] = set()
        for tvol in self.volumes.get(backend.uuid, ()):
            nodes |= self.published.get(tvol["metadata"]["name"], set())
        return nodes

    def _ontap_nas(self, svm: _Svm, backend: Backend, root: dict) -> None:
        if not backend.variant.auto_export:  # the admin's static policy, set up once
            name = backend.variant.export_policy or "default"
            nodes = sorted(self.array._setup_nodes.values(), key=lambda n: n.name)
            node_ips = [ip for n in nodes for ip in filter_ips(n.ips, [NODE_CIDR])]
            self._policy(
                svm,
                name,
                [
                    _rule(1, node_ips, ro=["sys"], rw=["sys"], superuser=["sys"]),
                    _rule(2, STATIC_POLICY_CLIENTS_WIDE, ro=["any"], rw=["any"], superuser=["any"]),
                ],
            )
            for tvol in self.volumes.get(backend.uuid, ()):
                self._trident_volume(svm, tvol, name, root)
            return
        self._policy(
            svm,
            f"trident-{backend.uuid}",
            trident_rules(self._filtered(backend, self._backend_nodes(backend))),
        )
        for tvol in self.volumes.get(backend.uuid, ()):
            nodes = self.published.get(tvol["metadata"]["name"])
            internal = tvol["config"]["internalName"]
            if nodes:
                self._policy(svm, internal, trident_rules(self._filtered(backend, nodes)))
            self._trident_volume(svm, tvol, internal if nodes else EMPTY_POLICY, root)

    def _trident_volume(self, svm, tvol, policy, root, style="flexvol", mounted=True) -> dict:
        internal = tvol["config"]["internalName"]
        return self._volume(
            svm,
            internal,
            f"/{internal}" if mounted else None,
            policy,
            int(tvol["config"]["size"]),
            style,
            root,
        )

    def _ontap_nas_flexgroup(self, svm: _Svm, backend: Backend, root: dict) -> None:
        policy = f"trident-{backend.uuid}"
        rules = trident_rules(self._filtered(backend, self.nodes))
        flexgroups = [b for b in svm.backends if b.driver == "ontap-nas-flexgroup"]
        if backend is flexgroups[0] and self.sim.start + WIDENED <= self.clock < self.sim.start + FIXED:
            rules.append(_rule(len(rules) + 1, "0.0.0.0/0", ro=["any"], rw=["any"], superuser=["any"]))
        self._policy(svm, policy, rules)
        for tvol in self.volumes.get(backend.uuid, ()):
            self._trident_volume(svm, tvol, policy, root, style="flexgroup")

    def _ontap_nas_economy(self, svm: _Svm, backend: Backend, root: dict) -> None:
        parent_policy = f"trident-{backend.uuid}"
        self._policy(svm, parent_policy, trident_rules(self._filtered(backend, self._backend_nodes(backend))))
        tvols = self.volumes.get(backend.uuid, ())
        size = sum(int(t["config"]["size"]) for t in tvols) or 1024**3
        pool = self._volume(
            svm, backend.flexvol_pool, f"/{backend.flexvol_pool}", parent_policy, size, parent=root
        )
        for tvol in tvols:
            internal = tvol["config"]["internalName"]
            nodes = self.published.get(tvol["metadata"]["name"])
            policy = internal if nodes else EMPTY_POLICY
            if nodes:
                self._policy(svm, internal, trident_rules(self._filtered(backend, nodes)))
            self.add(
                "/api/storage/qtrees",
                {
                    "volume": _ref(pool["name"], pool["uuid"]),
                    "id": self.array._id(("qtree", pool["uuid"], internal), 1),
                    "name": internal,
                    "path": f"/{backend.flexvol_pool}/{internal}",
                    "svm": svm.ref,
                    "export_policy": {"name": policy, "id": self.array.policy_id(svm.name, policy)},
                    "security_style": "unix",
                    "unix_permissions": 777,
                    "user": {"id": "0", "name": "root"},
                    "group": {"id": "0", "name": "root"},
                },
            )

    def _static_exports(self, svm: _Svm, root: dict) -> None:
        """Volumes behind the static NFS PVs that name this SVM's LIFs: a parent junction (/exports)
        with one volume per exported path below it; an orphan with Trident's prefix beside them."""
        lifs = {b.variant.data_lif for b in svm.backends}
        paths = sorted(
            {
                pv["spec"]["nfs"]["path"].rstrip("/")
                for pv in self.sim.objects("PersistentVolume")
                if pv["spec"].get("nfs", {}).get("server") in lifs
            }
        )
        self._policy(
            svm,
            STATIC_EXPORTS_POLICY,
            [_rule(1, NODE_CIDR, ro=["sys"], rw=["sys"], superuser=["none"])],
        )
        parents: dict[str, dict] = {}
        for path in paths:
            top = "/" + path.strip("/").split("/")[0]
            if top != path and top not in parents:
                parents[top] = self._volume(
                    svm, _volume_name(top), top, STATIC_EXPORTS_POLICY, 500 * 1024**3, parent=root
                )
        for path in paths:
            parent = parents.get("/" + path.strip("/").split("/")[0], root)
            self._volume(svm, _volume_name(path), path, STATIC_EXPORTS_POLICY, 100 * 1024**3, parent=parent)
        orphan = internal_volume_name(f"pvc-{_uuid(self.array.uuid, 'orphan-nas')}")
        self._volume(svm, orphan, f"/{orphan}", "k8s_nodes", 20 * 1024**3, parent=root)

    # ------------------------------------------------------------ SAN

    def _ontap_san(self, svm: _Svm, backend: Backend, root: dict) -> None:
        for tvol in self.volumes.get(backend.uuid, ()):
            volume = self._trident_volume(svm, tvol, "default", root, mounted=False)
            if backend.variant.san_type == "nvme":
                self._namespace(svm, tvol, volume)
            else:
                self._lun(svm, tvol, volume)

    def _lun(self, svm: _Svm, tvol: dict, volume: dict, name: str = "") -> dict:
        name = name or f"/vol/{volume['name']}/lun0"
        access = tvol["config"]["accessInformation"] if tvol else {}
        size = volume["size"]
        return self.add(
            "/api/storage/luns",
            {
                **_ref(name, _uuid(svm.uuid, "lun", name)),
                "svm": svm.ref,
                "location": {"logical_unit": "lun0", "volume": _ref(volume["name"], volume["uuid"])},
                "os_type": "linux",
                "serial_number": access.get("iscsiLunSerial") or _uuid(name)[:12],
                "enabled": True,
                "class": "regular",
                "comment": "",
                "status": {
                    "state": "online",
                    "container_state": "online",
                    "read_only": False,
                    "mapped": False,
                },
                "space": {"size": size, "used": size // 5},
                "lun_maps": [],
            },
        )

    def _iscsi(self, svm: _Svm) -> None:
        """Per-node igroups mapping the LUNs published to each node; on the legacy SVM, the backend
        igroup of old Trident (every node of its day), nested in an admin's igroup."""
        luns = {
            lun["location"]["volume"]["name"]: lun
            for lun in self.out.get("/api/storage/luns", ())
            if lun["svm"]["name"] == svm.name
        }
        legacy = svm.name == "svm_san_legacy"
        per_node: dict[str, list[dict]] = {}
        for backend in svm.backends:
            for tvol in self.volumes.get(backend.uuid, ()):
                lun = luns.get(tvol["config"]["internalName"])
                for node in sorted(self.published.get(tvol["metadata"]["name"], ())):
                    if node in self.nodes and lun is not None:
                        per_node.setdefault(node, []).append(lun)
        for node, mapped in sorted(per_node.items()):
            initiators = [self.nodes[node].iqn] + ([FOREIGN_IQN] if legacy else [])
            self._igroup(svm, f"{node}-{self.sim.trident_uuid}", initiators, mapped)
        if legacy:
            setup = sorted(self.array._setup_nodes.values(), key=lambda n: n.name)
            backend = svm.backends[0]
            child = self._igroup(svm, f"trident-{backend.uuid}", [n.iqn for n in setup], [])
            orphan_name = internal_volume_name(f"pvc-{_uuid(self.array.uuid, 'orphan-san')}")
            orphan_volume = self._volume(svm, orphan_name, None, "default", 10 * 1024**3)
            orphan = self._lun(svm, {}, orphan_volume)
            # One legacy PV's LUN is still mapped the pre-23.04 way: to every node, through the nest.
            legacy_luns = [
                luns[t["config"]["internalName"]]
                for t in self._svm_tvols(svm)
                if t["config"]["internalName"] in luns
            ]
            # Its ids start above the per-node igroups': an initiator in both must not see two LUN 0s.
            parent = self._igroup(svm, ALL_NODES_IGROUP, [], [orphan, *legacy_luns[:1]], first_lun_id=100)
            parent["igroups"] = [_ref(child["name"], child["uuid"])]
            child["parent_igroups"] = [_ref(parent["name"], parent["uuid"])]
        credentials = {"svm": svm.ref, "initiator": "default", "authentication_type": "none"}
        chap = next((b for b in svm.backends if b.variant.use_chap), None)
        if chap is not None:
            secret = self.sim.find("Secret", shapes.TRIDENT_NAMESPACE, f"backend-{chap.name}-secret")
            values = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
            credentials["authentication_type"] = "chap"
            credentials["chap"] = {
                "inbound": {"user": values["chapUsername"], "password": values["chapInitiatorSecret"]},
                "outbound": {
                    "user": values["chapTargetUsername"],
                    "password": values["chapTargetInitiatorSecret"],
                },
            }
        self.add("/api/protocols/san/iscsi/credentials", credentials)
        target = svm.backends[0].target_iqn if svm.backends else ""
        self.add(
            "/api/protocols/san/iscsi/services",
            {"svm": svm.ref, "enabled": True, "target": {"name": target, "alias": svm.name}},
        )

    def _svm_tvols(self, svm: _Svm) -> list[dict]:
        return [tvol for backend in svm.backends for tvol in self.volumes.get(backend.uuid, ())]

    def _igroup(
        self, svm: _Svm, name: str, initiators: list[str], luns: list[dict], first_lun_id: int = 0
    ) -> dict:
        igroup = self.add(
            "/api/protocols/san/igroups",
            {
                **_ref(name, _uuid(svm.uuid, "igroup", name)),
                "svm": svm.ref,
                "protocol": "iscsi",
                "os_type": "linux",
                "comment": "",
                "delete_on_unmap": False,
                "supports_igroups": True,
                "initiators": [{"name": i} for i in initiators],
                "lun_maps": [],
                "igroups": [],
                "parent_igroups": [],
            },
        )
        for number, lun in enumerate(luns, start=first_lun_id):
            igroup["lun_maps"].append(
                {
                    "logical_unit_number": number,
                    "lun": {**_ref(lun["name"], lun["uuid"]), "node": {"name": self.node_name}},
                }
            )
            lun["lun_maps"].append({"igroup": _ref(name, igroup["uuid"]), "logical_unit_number": number})
            lun["status"]["mapped"] = True
            self.add(
                "/api/protocols/san/lun-maps",
                {
                    "svm": svm.ref,
                    "lun": _ref(lun["name"], lun["uuid"]),
                    "igroup": _ref(name, igroup["uuid"]),
                    "logical_unit_number": number,
                    "reporting_nodes": [{"name": self.node_name}],
                },
            )
        return igroup

    def _namespace(self, svm: _Svm, tvol: dict, volume: dict) -> None:
        """Trident's NVMe model in the simulator: one subsystem per volume, hosts = the nodes it is
        published to, its namespace always mapped (UUIDs and NQN as Trident recorded them)."""
        access = tvol["config"]["accessInformation"]
        internal = volume["name"]
        subsystem = _ref(internal, access["nvmeSubsystemUUID"])
        name = f"/vol/{internal}/namespace0"
        namespace = _ref(name, access["nvmeNamespaceUUID"])
        hosts = [
            {"nqn": self.nodes[n].nqn}
            for n in sorted(self.published.get(tvol["metadata"]["name"], ()))
            if n in self.nodes
        ]
        mapping = {"anagrpid": "00000001h", "nsid": "00000001h"}
        self.add(
            "/api/protocols/nvme/subsystems",
            {
                **subsystem,
                "svm": svm.ref,
                "os_type": "linux",
                "target_nqn": access["nvmeSubsystemNqn"],
                "comment": "",
                "hosts": hosts,
                "io_queue": {"default": {"count": 4, "depth": 32}},
                "subsystem_maps": [{**mapping, "namespace": namespace}],
            },
        )
        self.add(
            "/api/protocols/nvme/subsystem-maps",
            {**mapping, "svm": svm.ref, "subsystem": subsystem, "namespace": namespace},
        )
        self.add(
            "/api/storage/namespaces",
            {
                **namespace,
                "svm": svm.ref,
                "os_type": "linux",
                "enabled": True,
                "location": {"namespace": "namespace0", "volume": _ref(internal, volume["uuid"])},
                "space": {"size": volume["size"], "used": volume["size"] // 5, "block_size": 4096},
                "status": {
                    "state": "online",
                    "container_state": "online",
                    "read_only": False,
                    "mapped": True,
                },
                "subsystem_map": {**mapping, "subsystem": subsystem},
            },
        )


def _volume_name(path: str) -> str:
    return path.strip("/").replace("/", "_").replace("-", "_")
