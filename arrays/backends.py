"""Trident backends as the product sees them: what Trident says of each, and which configured
array (if any) it is linked to.

Works on TridentBackend objects in raw or kept form (the fields read are kept ones).  The
addresses read here are only ever *compared* with what an admin configured; they are never
dialled.
"""

from dataclasses import dataclass, field

from inventory.constants import ONTAP, SOLIDFIRE, SOLIDFIRE_SAN_DRIVER
from inventory.fields import as_text as _text

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


def host_of(address: object) -> str:
    """The host part of `addr`, `addr:port` or `[v6]:port` ("" for anything but text)."""
    address = address.strip() if isinstance(address, str) else ""
    if address.startswith("["):
        return address[1:].split("]", 1)[0]
    if address.count(":") == 1:
        return address.split(":", 1)[0]
    return address


def _storage_prefix(value) -> str:
    # Trident stores the raw JSON it was given: `{}` when unset, which means the default.
    return value if isinstance(value, str) else DEFAULT_STORAGE_PREFIX


def _section(parent: dict, name: str) -> dict:
    section = parent.get(name)
    return section if isinstance(section, dict) else {}


def backend_info(backend: dict) -> BackendInfo:
    """What Trident says of one backend; fields of the wrong type read as unset."""
    backend = backend if isinstance(backend, dict) else {}
    config = _section(backend, "config")
    name, uuid = _text(backend.get("backendName")), _text(backend.get("backendUUID"))
    if ontap := _section(config, "ontap_config"):
        return BackendInfo(
            name,
            uuid,
            _text(ontap.get("storageDriverName")),
            ONTAP,
            svm=_text(ontap.get("svm")),
            management_address=host_of(ontap.get("managementLIF")),
            data_lif=host_of(ontap.get("dataLIF")),
            storage_prefix=_storage_prefix(ontap.get("storagePrefix")),
            config=ontap,
        )
    if solidfire := _section(config, "solidfire_config"):
        return BackendInfo(
            name,
            uuid,
            _text(solidfire.get("storageDriverName")) or SOLIDFIRE_SAN_DRIVER,
            SOLIDFIRE,
            management_address=host_of(solidfire.get("SVIP")),
            storage_prefix="",  # Trident forces an empty prefix on SolidFire
            config=solidfire,
        )
    for section in ("azure_config", "gcnv_config"):
        if cloud := _section(config, section):
            return BackendInfo(name, uuid, _text(cloud.get("storageDriverName")), "cloud", config=cloud)
    driver = next((_text(c.get("storageDriverName")) for c in config.values() if isinstance(c, dict)), "")
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
