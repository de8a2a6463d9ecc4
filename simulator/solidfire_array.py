"""The SolidFire side of the simulated world: the Element clusters its solidfire-san backends point at.

An array is derived from the `Simulation` whenever its state changed, so it follows the simulated
clock: every solidfire TridentVolume's internal name is a volume of the tenant account
(`TenantName`), in no access group, as CSI Trident makes them (it forces CHAP; reference §2.4).
Beside them live volumes of a Docker-era backend: their own account and the access group
`trident`, which lists some workers' IQNs and an ESX host's, which is no node at all.  The group
is never pruned, so once `worker-retiring` leaves the cluster its IQN lingers there: stale access.

Records carry what Element answers, CHAP secrets included (marked with SECRET_MARKER), so the
tests can prove the product drops them.  Every value is derived from the seed and the object it
belongs to, never drawn from the simulation's own random stream (that would change the cluster).
"""

import base64
import hashlib
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta

from simulator import shapes
from simulator.names import SECRET_MARKER, timestamp
from simulator.trident import Backend
from simulator.world import NodeFacts, Simulation

ELEMENT_VERSION = "12.3"
SUPPORTED_VERSIONS = (
    *("1.0", "2.0", "3.0", "4.0", "5.0", "5.1", "6.0", "7.0", "7.1", "7.2", "7.3", "7.4"),
    *("8.0", "8.1", "8.2", "8.3", "8.4", "9.0", "9.1", "9.2", "9.3", "9.4", "9.5", "9.6"),
    *("10.0", "10.1", "10.2", "10.3", "10.4", "10.5", "10.6", "10.7", "11.0", "11.1", "11.3"),
    *("11.5", "11.7", "11.8", "12.0", "12.2", "12.3"),
)

# What a Docker-era Trident backend left on the cluster: an account, volumes, and the access group
# it used before CSI forced CHAP.  Element allows 64 initiators per access group.
LEGACY_ACCOUNT = "docker-legacy"
LEGACY_ACCESS_GROUP = "trident"  # Trident's default access group name
LEGACY_VOLUMES = (("registry-data", 200), ("jenkins-home", 100), ("build-cache", 50))  # name, GiB
LEGACY_HOSTS = 8  # the first workers were the Docker hosts
FOREIGN_HOST = "esx-build-01"
FOREIGN_IQN = "iqn.1998-01.com.vmware:esx-build-01-4f2a9c1e"  # a VMware host, not a node

NO_STORAGE_CONTAINER = "00000000-0000-0000-0000-000000000000"


class ElementError(Exception):
    """A JSON-RPC error as Element reports it: `{"error": {"name", "code", "message"}}`."""

    def __init__(self, name: str, message: str, code: int = 500):
        super().__init__(message)
        self.name, self.message, self.code = name, message, code

    def body(self) -> dict:
        return {"name": self.name, "code": self.code, "message": self.message}


@dataclass(frozen=True)
class ElementRecords:
    """Everything the array lists, at one state of the simulation (each list sorted by ID)."""

    accounts: list[dict]
    volumes: list[dict]
    access_groups: list[dict]
    initiators: list[dict]


class SolidFireArray:
    def __init__(self, sim: Simulation, name: str, mvip: str, svip: str, backends: list[Backend]):
        self.sim = sim
        self.name = name
        self.mvip = mvip  # as Trident knows them: documentation addresses, never dialled
        self.svip = svip
        self.management_lifs = [mvip]
        self.backends = backends
        endpoint = _trident_endpoint(sim, backends[0])
        self.admin_username, self.admin_password = endpoint.username, endpoint.password
        self.tenant = _backend_spec(sim, backends[0])["TenantName"]
        self.unique_id = self._stable("uniqueID", 4, alphabet="abcdefghijklmnopqrstuvwxyz0123456789")
        self._cached_at: int | None = None
        self._records: ElementRecords | None = None

    def result(self, method: str, params: dict) -> dict:
        """The JSON-RPC `result` of `method` (read-only: shared with later calls)."""
        if method == "GetAPI":
            return {"currentVersion": ELEMENT_VERSION, "supportedVersions": list(SUPPORTED_VERSIONS)}
        if method == "GetClusterInfo":
            return {"clusterInfo": self._cluster_info()}
        records = self.records()
        if method == "ListAccounts":
            return {"accounts": _page(records.accounts, "accountID", "startAccountID", params)}
        if method in ("ListVolumes", "ListActiveVolumes"):  # every volume here is active
            return {"volumes": _page(records.volumes, "volumeID", "startVolumeID", params)}
        if method == "ListVolumeAccessGroups":
            groups = _page(records.access_groups, "volumeAccessGroupID", "startVolumeAccessGroupID", params)
            return {"volumeAccessGroups": groups}
        if method == "ListInitiators":
            return {"initiators": _page(records.initiators, "initiatorID", "startInitiatorID", params)}
        raise ElementError("xUnknownAPIMethod", f"Unknown method: {method}")

    def records(self) -> ElementRecords:
        """The array's objects as of the simulation's current state (rebuilt when it changed)."""
        with self.sim.lock:
            if self._cached_at != self.sim.resource_version:
                self._records = self._derive()
                self._cached_at = self.sim.resource_version
            return self._records

    # ------------------------------------------------------------ derivation

    def _derive(self) -> ElementRecords:
        legacy_hosts = self._legacy_hosts()
        initiators = [
            self._initiator(index + 1, iqn, alias) for index, (iqn, alias) in enumerate(legacy_hosts)
        ]
        legacy_account_id, tenant_account_id = 1, 2  # the Docker-era account is the older one
        legacy_volumes = [
            self._volume(
                volume_id=index + 1,
                name=name,
                account_id=legacy_account_id,
                size=gib * 1024**3,
                created=self.sim.start - timedelta(days=700 - 30 * index),
                iqn=f"iqn.2010-01.com.solidfire:{self.unique_id}.{name}.{index + 1}",
                access_groups=[1],
                attributes={"docker-name": name, "fstype": "xfs"},
            )
            for index, (name, gib) in enumerate(LEGACY_VOLUMES)
        ]
        csi_volumes = self._csi_volumes(tenant_account_id, taken={v["volumeID"] for v in legacy_volumes})
        tenant_secrets = self.backends[0].chap[1:]  # what Trident copied into every TridentVolume
        accounts = [
            self._account(legacy_account_id, LEGACY_ACCOUNT, legacy_volumes, self._secrets(LEGACY_ACCOUNT)),
            self._account(tenant_account_id, self.tenant, csi_volumes, tenant_secrets),
        ]
        access_group = {
            "volumeAccessGroupID": 1,
            "name": LEGACY_ACCESS_GROUP,
            "initiators": [i["initiatorName"] for i in initiators],
            "initiatorIDs": [i["initiatorID"] for i in initiators],
            "volumes": [v["volumeID"] for v in legacy_volumes],
            "deletedVolumes": [],
            "attributes": {},
        }
        volumes = sorted([*legacy_volumes, *csi_volumes], key=lambda v: v["volumeID"])
        return ElementRecords(accounts, volumes, [access_group], initiators)

    def _legacy_hosts(self) -> list[tuple[str, str]]:
        """(IQN, alias) of the access group's hosts: the first workers, the retiring node (kept
        after it leaves) and the ESX host."""
        known: list[NodeFacts] = sorted(
            (*self.sim.nodes.values(), *self.sim.departed_nodes.values()), key=lambda n: n.index
        )
        workers = [n for n in known if not n.control_plane and not n.retiring][:LEGACY_HOSTS]
        hosts = [*workers, *(n for n in known if n.retiring)]
        return [(n.iqn, n.name) for n in hosts] + [(FOREIGN_IQN, FOREIGN_HOST)]

    def _csi_volumes(self, account_id: int, taken: set[int]) -> list[dict]:
        uuids = {b.uuid for b in self.backends}
        qos = self._qos_by_pool()
        tvols = sorted(
            (t for t in self.sim.stored("TridentVolume") if t["backendUUID"] in uuids),
            key=lambda t: (t["metadata"]["creationTimestamp"], t["metadata"]["name"]),
        )
        volumes = []
        for tvol in tvols:
            config = tvol["config"]
            target_iqn = config["accessInformation"]["iscsiTargetIqn"]
            # Element names the target `<prefix>:<cluster>.<volume name>.<volume ID>`; the simulator's
            # IDs are drawn at random, so a clash moves the later volume to the next free ID.
            volume_id = int(target_iqn.rsplit(".", 1)[1])
            while volume_id in taken:
                volume_id += 1
            taken.add(volume_id)
            volumes.append(
                self._volume(
                    volume_id=volume_id,
                    name=config["internalName"],
                    account_id=account_id,
                    size=int(config["size"]),
                    created=datetime.fromisoformat(tvol["metadata"]["creationTimestamp"]),
                    iqn=target_iqn,
                    access_groups=[],
                    attributes={"docker-name": config["name"], "fstype": "ext4", "provisioning": ""},
                    qos=qos.get(tvol["pool"]),
                )
            )
        return volumes

    def _qos_by_pool(self) -> dict[str, dict]:
        """Each backend's `Types` (virtual pools) with their QoS, from its TridentBackendConfig."""
        qos = {}
        for backend in self.backends:
            for pool in _backend_spec(self.sim, backend).get("Types", ()):
                qos[pool["Type"]] = pool["Qos"]
        return qos

    def _volume(
        self,
        *,
        volume_id: int,
        name: str,
        account_id: int,
        size: int,
        created: datetime,
        iqn: str,
        access_groups: list[int],
        attributes: dict,
        qos: dict | None = None,
    ) -> dict:
        qos = qos or {"minIOPS": 50, "maxIOPS": 15000, "burstIOPS": 15000}
        cluster_hex = self.unique_id.encode().hex()
        return {
            "volumeID": volume_id,
            "name": name,
            "accountID": account_id,
            "access": "readWrite",
            "status": "active",
            "volumeAccessGroups": access_groups,
            "volumePairs": [],
            "iqn": iqn,
            "scsiEUIDeviceID": f"{cluster_hex}{volume_id:08x}f47acc0100000000",
            "scsiNAADeviceID": f"6f47acc100000000{cluster_hex}{volume_id:08x}",
            "volumeUUID": self._uuid("volume", name),
            "totalSize": size,
            "blockSize": 4096,
            "enable512e": True,
            "qos": {**qos, "burstTime": 60},
            "qosPolicyID": None,
            "sliceCount": 1,
            "createTime": timestamp(created),
            "deleteTime": "",
            "purgeTime": "",
            "virtualVolumeID": None,
            "currentProtectionScheme": "doubleHelix",
            "enableSnapMirrorReplication": False,
            "attributes": attributes,
        }

    def _account(self, account_id: int, username: str, volumes: list[dict], secrets: tuple[str, str]) -> dict:
        return {
            "accountID": account_id,
            "username": username,
            "status": "active",
            "volumes": sorted(v["volumeID"] for v in volumes),
            "initiatorSecret": secrets[0],
            "targetSecret": secrets[1],
            "enableChap": True,
            "storageContainerID": NO_STORAGE_CONTAINER,
            "attributes": {},
        }

    def _initiator(self, initiator_id: int, iqn: str, alias: str) -> dict:
        initiator_secret, target_secret = self._secrets(iqn)
        return {
            "initiatorID": initiator_id,
            "initiatorName": iqn,
            "alias": alias,
            "volumeAccessGroups": [1],
            "requireChap": False,
            "chapUsername": iqn,
            "initiatorSecret": initiator_secret,
            "targetSecret": target_secret,
            "virtualNetworkIDs": [],
            "attributes": {},
        }

    def _cluster_info(self) -> dict:
        ensemble_base = self.svip.rsplit(".", 1)[0]
        return {
            "name": self.name,
            "mvip": self.mvip,
            "mvipInterface": "team0",
            "mvipNodeID": 1,
            "mvipVlanTag": "0",
            "svip": self.svip,
            "svipInterface": "team1",
            "svipNodeID": 1,
            "svipVlanTag": "0",
            "uniqueID": self.unique_id,
            "uuid": self._uuid("cluster"),
            "ensemble": [f"{ensemble_base}.{60 + n}" for n in range(1, 4)],
            "repCount": 2,
            "defaultProtectionScheme": "doubleHelix",
            "enabledProtectionSchemes": ["doubleHelix"],
            "supportedProtectionSchemes": ["doubleHelix"],
            "encryptionAtRestState": "disabled",
            "softwareEncryptionAtRestState": "disabled",
            "attributes": {},
        }

    # ------------------------------------------------------------ stable values

    def _stable(self, purpose: str, length: int, alphabet: str = "0123456789abcdef") -> str:
        digest = hashlib.sha256(f"{self.sim.seed}/{self.mvip}/{purpose}".encode()).digest()
        return "".join(alphabet[b % len(alphabet)] for b in digest[:length])

    def _uuid(self, *purpose: str) -> str:
        h = self._stable("/".join(purpose), 32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"

    def _secrets(self, owner: str) -> tuple[str, str]:
        return (
            SECRET_MARKER + self._stable(f"{owner}/initiatorSecret", 16),
            SECRET_MARKER + self._stable(f"{owner}/targetSecret", 16),
        )


def _page(records: list[dict], id_key: str, start_key: str, params: dict) -> list[dict]:
    """Element's paging: records with ID >= `start…ID`, at most `limit` of them (0 or none: all)."""
    start, limit = params.get(start_key, 0), params.get("limit", 0)
    for key, value in ((start_key, start), ("limit", limit)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ElementError("xInvalidParameter", f"{key} must be a non-negative integer, not {value!r}")
    selected = [r for r in records if r[id_key] >= start]
    return selected[:limit] if limit else selected


def _backend_spec(sim: Simulation, backend: Backend) -> dict:
    return sim.find("TridentBackendConfig", shapes.TRIDENT_NAMESPACE, f"backend-{backend.name}")["spec"]


def _trident_endpoint(sim: Simulation, backend: Backend) -> urllib.parse.SplitResult:
    """`https://user:password@mvip/json-rpc/<version>`, from the backend's credentials Secret."""
    secret_name = _backend_spec(sim, backend)["credentials"]["name"]
    secret = sim.find("Secret", shapes.TRIDENT_NAMESPACE, secret_name)
    return urllib.parse.urlsplit(base64.b64decode(secret["data"]["Endpoint"]).decode())


def solidfire_arrays(sim: Simulation) -> list[SolidFireArray]:
    """One array per MVIP that the simulation's solidfire-san backends name, as solidfire-a, -b, …"""
    by_mvip: dict[str, list[Backend]] = {}
    with sim.lock:
        for backend in sorted(sim.backends.values(), key=lambda b: b.name):
            if backend.driver == "solidfire-san":
                by_mvip.setdefault(_trident_endpoint(sim, backend).hostname, []).append(backend)
        return [
            SolidFireArray(
                sim, f"solidfire-{chr(ord('a') + i)}", mvip, backends[0].variant.data_lif, backends
            )
            for i, (mvip, backends) in enumerate(sorted(by_mvip.items()))
        ]
