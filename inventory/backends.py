"""Trident backends as the product sees them: what Trident says of each, and which configured
array (if any) it is linked to.

Works on TridentBackend objects in raw or kept form (the fields read are kept ones).  The
addresses read here are only ever *compared* with what an admin configured; they are never
dialled.
"""

from dataclasses import dataclass, field

from .sources.arrays import ONTAP, SOLIDFIRE

CLOUD_DRIVERS = {
    "azure-netapp-files",
    "google-cloud-netapp-volumes",
    "google-cloud-netapp-volumes-san",
    "gcp-cvs",
}
NAS_DRIVERS = {"ontap-nas", "ontap-nas-economy", "ontap-nas-flexgroup"}
ONTAP_SAN_DRIVERS = {"ontap-san", "ontap-san-economy"}
DEFAULT_STORAGE_PREFIX = "trident_"


@dataclass
class BackendInfo:
    name: str
    uuid: str
    driver: str
    family: str  # ONTAP, SOLIDFIRE, "cloud" or "other"
    svm: str = ""
    management_address: str = ""  # ONTAP managementLIF, or SolidFire SVIP host (MVIP is only in the secret)
    data_lif: str = ""
    storage_prefix: str = DEFAULT_STORAGE_PREFIX
    config: dict = field(default_factory=dict, repr=False)  # the driver's config section, kept fields only

    @property
    def is_cloud(self) -> bool:
        return self.family == "cloud"


def host_of(address: str) -> str:
    """The host part of `addr`, `addr:port` or `[v6]:port`."""
    address = (address or "").strip()
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    if address.count(":") == 1:
        return address.split(":", 1)[0]
    return address


def _storage_prefix(value) -> str:
    # Trident stores the raw JSON it was given: `{}` when unset, which means the default.
    return value if isinstance(value, str) else DEFAULT_STORAGE_PREFIX


def backend_info(backend: dict) -> BackendInfo:
    config = backend.get("config") or {}
    name, uuid = backend.get("backendName") or "", backend.get("backendUUID") or ""
    if ontap := config.get("ontap_config"):
        return BackendInfo(
            name,
            uuid,
            ontap.get("storageDriverName") or "",
            ONTAP,
            svm=ontap.get("svm") or "",
            management_address=host_of(ontap.get("managementLIF") or ""),
            data_lif=host_of(ontap.get("dataLIF") or ""),
            storage_prefix=_storage_prefix(ontap.get("storagePrefix")),
            config=ontap,
        )
    if solidfire := config.get("solidfire_config"):
        return BackendInfo(
            name,
            uuid,
            solidfire.get("storageDriverName") or "solidfire-san",
            SOLIDFIRE,
            management_address=host_of(solidfire.get("SVIP") or ""),
            storage_prefix="",  # Trident forces an empty prefix on SolidFire
            config=solidfire,
        )
    for section in ("azure_config", "gcnv_config"):
        if cloud := config.get(section):
            return BackendInfo(name, uuid, cloud.get("storageDriverName") or "", "cloud", config=cloud)
    driver = next((c.get("storageDriverName") for c in config.values() if isinstance(c, dict)), "") or ""
    return BackendInfo(name, uuid, driver, "other")


def link_to_array(backend: BackendInfo, arrays) -> "object | None":
    """The configured array this backend uses, if the admin configured it."""
    for array in arrays:
        if array.kind != backend.family:
            continue
        if backend.name in array.trident_backends or backend.uuid in array.trident_backends:
            return array
        if backend.management_address and backend.management_address in array.trident_addresses:
            return array
    return None
