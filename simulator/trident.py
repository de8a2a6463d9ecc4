"""Trident in the simulated cluster: its version, nodes, backends (with their configs and
credentials), storage classes, the driver-specific shape of each volume, and publications.

Backends cover every driver variant the rules care about; data LIFs sit in documentation
address ranges.  Backend secrets live in Secret objects and, as Trident does, appear in
TridentBackend configs only as `secret:<name>`, except the SolidFire EndPoint (see there).
"""

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from simulator import shapes
from simulator.names import DOCKER_BRIDGE_IP, internal_volume_name, pod_gateway_ip

if TYPE_CHECKING:
    from simulator.world import NodeFacts


@dataclass(frozen=True)
class BackendVariant:
    """One kind of Trident backend the cluster has; its settings drive several rules."""

    name: str
    driver: str
    storage_class: str
    data_lif: str
    svm: str = ""
    auto_export: bool | None = None  # None: not an ontap-nas* driver
    auto_export_cidrs: tuple[str, ...] = ()
    export_policy: str = ""  # defaults.exportPolicy when autoExportPolicy is off
    use_chap: bool = False
    san_type: str = ""
    export_rule: str = ""  # azure-netapp-files; empty there means "the worker nodes' addresses"

    @property
    def protocol(self) -> str:
        return "block" if self.driver in ("ontap-san", "solidfire-san") else "file"


BACKEND_VARIANTS: tuple[BackendVariant, ...] = (
    BackendVariant("nas-auto", "ontap-nas", "nas-gold", "192.0.2.11", "svm_k8s", True, ("10.20.0.0/16",)),
    BackendVariant("nas-auto-open", "ontap-nas", "nas-silver", "192.0.2.21", "svm_k8s_open", True),
    BackendVariant(
        "nas-legacy", "ontap-nas", "nas-legacy", "192.0.2.31", "svm_legacy", False, export_policy="k8s_nodes"
    ),
    BackendVariant(
        "nas-economy", "ontap-nas-economy", "nas-economy", "192.0.2.41", "svm_k8s", True, ("10.20.0.0/16",)
    ),
    BackendVariant(
        "nas-flexgroup",
        "ontap-nas-flexgroup",
        "nas-flexgroup",
        "192.0.2.51",
        "svm_k8s",
        True,
        ("10.20.0.0/16",),
    ),
    BackendVariant("san-chap", "ontap-san", "san-gold", "198.51.100.11", "svm_san", use_chap=True),
    BackendVariant("san-nochap", "ontap-san", "san-bronze", "198.51.100.21", "svm_san_legacy"),
    BackendVariant("san-nvme", "ontap-san", "san-nvme", "198.51.100.31", "svm_nvme", san_type="nvme"),
    BackendVariant("solidfire", "solidfire-san", "solidfire-gold", "198.51.100.50"),
    BackendVariant("anf-restricted", "azure-netapp-files", "anf-standard", "198.51.100.71"),
    BackendVariant("anf-open", "azure-netapp-files", "anf-premium", "198.51.100.81", export_rule="0.0.0.0/0"),
)


@dataclass
class Backend:
    variant: BackendVariant
    name: str
    uuid: str
    target_iqn: str = ""
    flexvol_pool: str = ""  # ontap-nas-economy parent FlexVol
    chap: tuple[str, str, str] = ("", "", "")  # solidfire tenant account: user, initiator and target secret
    export_rule: str = ""

    @property
    def driver(self) -> str:
        return self.variant.driver


def put_trident_node(sim, facts: "NodeFacts", created: datetime) -> None:
    # Trident lists every global address of the host: node IP, CNI gateway and the docker bridge.
    ips = sorted(
        {facts.internal_ip, pod_gateway_ip(facts.index), DOCKER_BRIDGE_IP}
        | ({facts.external_ip} if facts.external_ip else set())
    )
    m = sim.meta(facts.name, shapes.TRIDENT_NAMESPACE, created, finalizers=["trident.netapp.io"])
    body = {
        "name": facts.name,
        "iqn": facts.iqn,
        "nqn": facts.nqn,
        "ips": ips,
        "hostWWPNMap": {},
        "nodePrep": {"enabled": False},
        "hostInfo": {
            "os": {"distro": "rhel", "version": "9.4", "release": ""},
            "services": ["NFS", "iSCSI"],
        },
        "deleted": False,
        "publicationState": "clean",
        "logLevel": "info",
        "logWorkflows": "",
        "logLayers": "",
    }
    sim.put(shapes.trident_object("TridentNode", m, body))


def install(sim) -> None:
    """Trident as installed months ago: its version object, a TridentNode per node, the backends
    (with their configs and credentials) and a StorageClass per backend variant."""
    installed = sim.aged(300, 200)
    ns = shapes.TRIDENT_NAMESPACE
    version = sim.meta("trident", ns, installed)
    sim.trident_uuid = version["uid"]
    sim.put(
        shapes.trident_object(
            "TridentVersion",
            version,
            {
                "trident_version": shapes.TRIDENT_VERSION,
                "trident_api_version": "1",
                "publications_synced": True,
                "go_version": "go1.23.6",
                "orchestrator_name": "kubernetes",
                "orchestrator_version": shapes.KUBERNETES_VERSION.lstrip("v"),
                "orchestrator_api_version": "1",
            },
        )
    )
    for facts in sim.nodes.values():
        put_trident_node(sim, facts, installed)
    for i in range(sim.sizes.backends):
        variant = BACKEND_VARIANTS[i % len(BACKEND_VARIANTS)]
        replica = i // len(BACKEND_VARIANTS)
        name = variant.name if replica == 0 else f"{variant.name}-{replica + 1}"
        _add_backend(sim, variant, name, installed + timedelta(hours=i))
    for variant in BACKEND_VARIANTS:
        _add_storage_class(sim, variant, installed)


def _add_backend(sim, variant: BackendVariant, name: str, created: datetime) -> None:
    ids, ns = sim.ids, shapes.TRIDENT_NAMESPACE
    backend = Backend(variant, name, ids.uid())
    tbc_name = f"backend-{name}"
    credentials = f"{tbc_name}-secret"
    secret_values = {"username": "vsadmin", "password": ids.secret()}
    spec = {
        "version": 1,
        "storageDriverName": variant.driver,
        "backendName": name,
        "credentials": {"name": credentials},
    }
    if variant.driver.startswith("ontap"):
        spec.update(
            managementLIF=variant.data_lif.rsplit(".", 1)[0] + ".200",
            dataLIF=variant.data_lif,
            svm=variant.svm,
        )
    if variant.auto_export is not None:
        spec["autoExportPolicy"] = variant.auto_export
        if variant.auto_export_cidrs:
            spec["autoExportCIDRs"] = list(variant.auto_export_cidrs)
        if variant.export_policy:
            spec["defaults"] = {"exportPolicy": variant.export_policy}
    if variant.driver == "ontap-san":
        spec["useCHAP"] = variant.use_chap
        if variant.san_type:
            spec["sanType"] = variant.san_type
        if variant.use_chap:
            secret_values.update(
                chapUsername="k8s-chap",
                chapInitiatorSecret=ids.secret(),
                chapTargetUsername="k8s-chap-target",
                chapTargetInitiatorSecret=ids.secret(),
            )
        backend.target_iqn = f"iqn.1992-08.com.netapp:sn.{ids.hex(32)}:vs.{3 + len(sim.backends)}"
    if variant.driver == "ontap-nas-economy":
        backend.flexvol_pool = f"trident_qtree_pool_trident_{ids.suffix(10).upper()}"
    if variant.driver == "solidfire-san":
        endpoint = f"https://admin:{ids.secret()}@198.51.100.40/json-rpc/12.3"
        secret_values = {"Endpoint": endpoint}
        spec.update(
            SVIP=f"{variant.data_lif}:3260",
            TenantName="trident",
            Types=[{"Type": "Gold", "Qos": {"minIOPS": 6000, "maxIOPS": 8000, "burstIOPS": 10000}}],
        )
        backend.chap = ("trident", ids.secret(), ids.secret())
    if variant.driver == "azure-netapp-files":
        backend.export_rule = variant.export_rule or ",".join(n.internal_ip for n in sim.workers())
        spec.update(
            subscriptionID=ids.uid(),
            tenantID=ids.uid(),
            location="westeurope",
            serviceLevel="Premium",
            exportRule=backend.export_rule,
        )
        secret_values = {"clientID": ids.uid(), "clientSecret": ids.secret()}
    sim.put(shapes.secret(sim.meta(credentials, ns, created), secret_values))

    tbc = sim.meta(tbc_name, ns, created, finalizers=["trident.netapp.io"])
    tbc["managedFields"] = [
        shapes.managed_field(
            "kubectl-client-side-apply", created, {"f:spec": {}}, api_version="trident.netapp.io/v1"
        )
    ]
    sim.put(
        shapes.trident_object(
            "TridentBackendConfig",
            tbc,
            {
                "spec": {**spec, "deletionPolicy": "delete"},
                "status": {
                    "backendInfo": {"backendName": name, "backendUUID": backend.uuid},
                    "deletionPolicy": "delete",
                    "lastOperationStatus": "Success",
                    "message": f"Backend '{name}' created",
                    "phase": "Bound",
                },
            },
        )
    )
    sim.put(
        shapes.trident_object(
            "TridentBackend",
            sim.meta(f"tbe-{ids.suffix()}", ns, created, finalizers=["trident.netapp.io"]),
            {
                "backendName": name,
                "backendUUID": backend.uuid,
                "configRef": tbc["uid"],
                "online": True,
                "state": "online",
                "userState": "normal",
                "stateReason": "",
                "version": "1",
                "config": _backend_config(sim, backend, spec, credentials),
            },
        )
    )
    if variant.driver == "solidfire-san":
        user, initiator, target = backend.chap
        chap = {
            "iscsiUsername": user,
            "iscsiInitiatorSecret": initiator,
            "iscsiTargetUsername": user,
            "iscsiTargetSecret": target,
        }
        sim.put(shapes.secret(sim.meta(f"trident-chap-{backend.uuid}-{user}", ns, created), chap))
    sim.backends[name] = backend


def _backend_config(sim, backend: Backend, spec: dict, credentials: str) -> dict:
    """The TridentBackend `config`: Trident's defaults applied, secrets replaced by `secret:<name>`."""
    variant, hidden = backend.variant, f"secret:{credentials}"
    common = {
        "version": 1,
        "storageDriverName": variant.driver,
        "backendName": backend.name,
        "debug": False,
        "disableDelete": False,
        "storagePrefix": {},
        "limitVolumeSize": "",
        "credentials": {"name": credentials, "type": "secret"},
    }
    if variant.driver.startswith("ontap"):
        auto = bool(variant.auto_export)
        ontap = {
            **common,
            "managementLIF": spec["managementLIF"],
            "dataLIF": variant.data_lif,
            "igroupName": "",
            "svm": variant.svm,
            "username": hidden,
            "password": hidden,
            "autoExportPolicy": auto,
            "autoExportCIDRs": list(variant.auto_export_cidrs) or ["0.0.0.0/0", "::/0"],
            "nasType": "nfs",
            "sanType": variant.san_type or "iscsi",
            "useCHAP": variant.use_chap,
            "useREST": True,
            "defaults": {
                "exportPolicy": "<automatic>" if auto else variant.export_policy or "default",
                "unixPermissions": "---rwxrwxrwx",
                "securityStyle": "unix",
                "snapshotDir": "false",
                "spaceReserve": "none",
                "size": "1G",
                "nameTemplate": "",
            },
        }
        if variant.use_chap:
            for key in (
                "chapUsername",
                "chapInitiatorSecret",
                "chapTargetUsername",
                "chapTargetInitiatorSecret",
            ):
                ontap[key] = hidden
        return {"ontap_config": ontap}
    if variant.driver == "solidfire-san":
        # Redacted by current Trident; left in clear here on purpose, so tests can prove
        # the collector drops it rather than trusting Trident to have done so.
        return {
            "solidfire_config": {
                **common,
                "TenantName": "trident",
                "EndPoint": _secret_value(sim, credentials, "Endpoint"),
                "SVIP": spec["SVIP"],
                "InitiatorIFace": "default",
                "Types": spec["Types"],
                "LegacyNamePrefix": "",
                "AccessGroups": [],
                "UseCHAP": True,
                "DefaultBlockSize": 512,
            }
        }
    return {
        "azure_config": {
            **common,
            "subscriptionID": spec["subscriptionID"],
            "tenantID": spec["tenantID"],
            "clientID": hidden,
            "clientSecret": hidden,
            "location": "westeurope",
            "serviceLevel": "Premium",
            "exportRule": backend.export_rule,
            "virtualNetwork": "aks-vnet",
            "subnet": "anf-subnet",
        }
    }


def _secret_value(sim, name: str, key: str) -> str:
    return base64.b64decode(sim.find("Secret", shapes.TRIDENT_NAMESPACE, name)["data"][key]).decode()


def _add_storage_class(sim, variant: BackendVariant, created: datetime) -> None:
    parameters = {"backendType": variant.driver}
    if variant.protocol == "block":
        parameters["csi.storage.k8s.io/fstype"] = "ext4"
    pools = [b.name for b in sim.backends.values() if b.variant is variant]
    parameters["storagePools"] = ",".join(f"{p}:.*" for p in pools)
    annotations = (
        {"storageclass.kubernetes.io/is-default-class": "true"} if variant.name == "nas-auto" else None
    )
    sim.put(
        shapes.storage_class(
            sim.meta(variant.storage_class, created=created, annotations=annotations), parameters
        )
    )
    attributes = {"backendType": {"request": variant.driver}}
    sim.put(
        shapes.trident_object(
            "TridentStorageClass",
            sim.meta(variant.storage_class, shapes.TRIDENT_NAMESPACE, created),
            {
                "spec": {
                    "version": "1",
                    "name": variant.storage_class,
                    "attributes": attributes,
                    "storagePools": {p: [".*"] for p in pools},
                }
            },
        )
    )


def volume_access(sim, backend: Backend, pv_name: str, source: dict | None) -> tuple[str, str, dict]:
    """Internal name, internal ID and `accessInformation` as the backend's driver records them."""
    if source is not None:  # a subordinate volume is the source's backend volume
        tvol = sim.find("TridentVolume", shapes.TRIDENT_NAMESPACE, source["metadata"]["name"])
        return tvol["config"]["internalName"], "", dict(tvol["config"]["accessInformation"])
    variant, driver = backend.variant, backend.driver
    internal = internal_volume_name(pv_name)
    if driver == "ontap-nas-economy":
        path = f"/{backend.flexvol_pool}/{internal}"
        return (
            internal,
            f"/svm/{variant.svm}/flexvol/{backend.flexvol_pool}/qtree/{internal}",
            {
                "nfsServerIp": variant.data_lif,
                "nfsPath": path,
                "publishEnforcement": True,
                "useCHAP": False,
            },
        )
    if driver.startswith("ontap-nas"):
        access = {"nfsServerIp": variant.data_lif, "nfsPath": f"/{internal}", "useCHAP": False}
        if driver == "ontap-nas" and variant.auto_export:
            access["publishEnforcement"] = True
        return internal, "", access
    if driver == "azure-netapp-files":
        token = "trident-" + pv_name
        return token, "", {"nfsServerIp": variant.data_lif, "nfsPath": f"/{token}", "useCHAP": False}
    if driver == "solidfire-san":
        user, initiator, target = backend.chap
        volume_id = sim.ids.rng.randrange(100, 99999)
        return (
            pv_name,
            "",
            {
                "iscsiTargetPortal": f"{variant.data_lif}:3260",
                "iscsiTargetIqn": f"iqn.2010-01.com.solidfire:{sim.ids.suffix(4)}.{pv_name}.{volume_id}",
                "iscsiLunNumber": 0,
                "iscsiInterface": "default",
                "iscsiVags": [],
                "useCHAP": True,
                "iscsiUsername": user,
                "iscsiInitiatorSecret": initiator,
                "iscsiTargetUsername": user,
                "iscsiTargetSecret": target,
            },
        )
    if variant.san_type == "nvme":
        return (
            internal,
            "",
            {
                "nvmeTargetIPs": [variant.data_lif],
                "nvmeSubsystemNqn": f"nqn.1992-08.com.netapp:sn.{sim.ids.hex(32)}:subsystem.{internal}",
                "nvmeSubsystemUUID": sim.ids.uid(),
                "nvmeNamespaceUUID": sim.ids.uid(),
                "useCHAP": False,
            },
        )
    second_lif = variant.data_lif.rsplit(".", 1)[0] + f".{int(variant.data_lif.rsplit('.', 1)[1]) + 1}"
    return (
        internal,
        "",
        {
            "iscsiTargetPortal": variant.data_lif,
            "iscsiPortals": [second_lif],
            "iscsiTargetIqn": backend.target_iqn,
            "iscsiLunNumber": 0,
            "iscsiInterface": "default",
            "iscsiIgroup": "",
            "iscsiLunSerial": sim.ids.suffix(12),
            "useCHAP": variant.use_chap,
            "sharedTarget": True,
        },
    )


def export_policy(backend: Backend, internal_name: str, published: bool) -> str:
    variant = backend.variant
    if variant.auto_export is None:
        return ""
    if not variant.auto_export:
        return variant.export_policy or "default"
    if backend.driver == "ontap-nas-flexgroup":
        return f"trident-{backend.uuid}"
    return internal_name if published else "trident_empty"


def sync_publications(sim) -> None:
    """Make TridentVolumePublications (and the per-node access Trident records in each volume)
    match the running pods, as Trident's controller does on publish and unpublish."""
    ns = shapes.TRIDENT_NAMESPACE
    wanted: dict[tuple[str, str], str] = {}  # (volume, node) -> access mode
    for pod in sim.stored("Pod"):
        if pod["status"]["phase"] != "Running":
            continue
        namespace, node = pod["metadata"]["namespace"], pod["spec"]["nodeName"]
        for volume in pod["spec"]["volumes"]:
            claim_name = volume.get("persistentVolumeClaim", {}).get("claimName")
            claim = claim_name and sim.find("PersistentVolumeClaim", namespace, claim_name)
            bound = claim and sim.find("PersistentVolume", "", claim["spec"].get("volumeName", ""))
            handle = bound and bound["spec"].get("csi", {}).get("volumeHandle")
            if handle and sim.find("TridentVolume", ns, handle):
                wanted[(handle, node)] = bound["spec"]["accessModes"][0]
    existing = {(p["volumeID"], p["nodeID"]): p for p in sim.stored("TridentVolumePublication")}
    for volume, node in existing.keys() - wanted.keys():
        sim.remove("TridentVolumePublication", ns, f"{volume}.{node}")
    for volume, node in sorted(wanted.keys() - existing.keys()):
        m = sim.meta(
            f"{volume}.{node}",
            ns,
            labels={"trident.netapp.io/nodeName": node},
            finalizers=["trident.netapp.io"],
        )
        mode = (
            5 if wanted[(volume, node)] == "ReadWriteMany" else 1
        )  # CSI MULTI_NODE_MULTI_WRITER / SINGLE_NODE_WRITER
        sim.put(
            shapes.trident_object(
                "TridentVolumePublication",
                m,
                {"volumeID": volume, "nodeID": node, "readOnly": False, "accessMode": mode},
            )
        )
    published: dict[str, set[str]] = {}
    for volume, node in wanted:
        published.setdefault(volume, set()).add(node)
    by_uuid = {b.uuid: b for b in sim.backends.values()}
    for tvol in list(sim.stored("TridentVolume")):
        backend = by_uuid.get(tvol["backendUUID"])
        if backend is None or tvol["state"] == "subordinate":
            continue
        nodes = published.get(tvol["metadata"]["name"], ())
        config = tvol["config"]
        policy = export_policy(backend, config["internalName"], bool(nodes))
        # ONTAP SAN: the LUN is mapped to one igroup per node it is published to.
        igroups = ",".join(f"{n}-{sim.trident_uuid}" for n in sorted(nodes))
        if (
            config["exportPolicy"] != policy
            or config["accessInformation"].get("iscsiIgroup", igroups) != igroups
        ):
            sim.change(tvol, lambda t, p=policy, i=igroups: _record_access(t, p, i))


def _record_access(tvol: dict, export_policy: str, igroups: str) -> None:
    tvol["config"]["exportPolicy"] = export_policy
    if "iscsiIgroup" in tvol["config"]["accessInformation"]:
        tvol["config"]["accessInformation"]["iscsiIgroup"] = igroups
