"""How array records become inventory: which stored kind each REST path or JSON-RPC method
feeds, and the stable name of each record (array objects are identified by array, SVM and name).

The kept fields of each kind are listed in inventory/kept_fields.py (ARRAY_KEPT_FIELDS).
"""

from collections.abc import Callable
from dataclasses import dataclass

from arrays.sources.contract import ONTAP_COLLECTIONS, SOLIDFIRE_METHODS
from inventory.constants import ONTAP, SOLIDFIRE


def _svm(record: dict) -> str:
    return (record.get("svm") or {}).get("name") or ""


def _svm_and(field: str) -> Callable[[dict], str]:
    return lambda record: f"{_svm(record)}/{record.get(field) or ''}"


def _qtree(record: dict) -> str:
    return f"{_svm(record)}/{(record.get('volume') or {}).get('name') or ''}/{record.get('name') or ''}"


def _lun_map(record: dict) -> str:
    lun = (record.get("lun") or {}).get("name") or ""
    return f"{_svm(record)}/{lun}@{(record.get('igroup') or {}).get('name') or ''}"


def _subsystem_map(record: dict) -> str:
    namespace = (record.get("namespace") or {}).get("name") or ""
    return f"{_svm(record)}/{namespace}@{(record.get('subsystem') or {}).get('name') or ''}"


def _id_and_name(id_field: str, name_field: str = "name") -> Callable[[dict], str]:
    return lambda record: f"{record.get(id_field)}/{record.get(name_field) or ''}"


def _volume_has_data(record: dict) -> dict:
    # The used size changes constantly; whether a volume holds data at all is what the rules read.
    used = ((record.get("space") or {}).get("logical_space") or {}).get("used")
    if used is None:
        used = (record.get("space") or {}).get("used")
    return {} if used is None else {"has_data": used > 0}


@dataclass(frozen=True)
class ArrayKind:
    family: str  # ONTAP or SOLIDFIRE
    source_key: str  # REST collection path or JSON-RPC method
    kind: str  # stored kind
    name_of: Callable[[dict], str]
    derive: Callable[[dict], dict] | None = None  # fields computed from the raw record before keeping


ARRAY_KINDS: tuple[ArrayKind, ...] = (
    ArrayKind(ONTAP, "/api/cluster", "ontap.Cluster", lambda r: r.get("name") or "cluster"),
    ArrayKind(ONTAP, "/api/svm/svms", "ontap.Svm", lambda r: r.get("name") or ""),
    ArrayKind(ONTAP, "/api/network/ip/interfaces", "ontap.Interface", _svm_and("name")),
    ArrayKind(ONTAP, "/api/protocols/nfs/services", "ontap.NfsService", _svm),
    ArrayKind(ONTAP, "/api/protocols/nfs/export-policies", "ontap.ExportPolicy", _svm_and("name")),
    ArrayKind(ONTAP, "/api/storage/volumes", "ontap.Volume", _svm_and("name"), _volume_has_data),
    ArrayKind(ONTAP, "/api/storage/qtrees", "ontap.Qtree", _qtree),
    ArrayKind(ONTAP, "/api/storage/luns", "ontap.Lun", _svm_and("name")),
    ArrayKind(ONTAP, "/api/protocols/san/igroups", "ontap.Igroup", _svm_and("name")),
    ArrayKind(ONTAP, "/api/protocols/san/lun-maps", "ontap.LunMap", _lun_map),
    ArrayKind(ONTAP, "/api/protocols/san/iscsi/credentials", "ontap.IscsiCredentials", _svm_and("initiator")),
    ArrayKind(ONTAP, "/api/protocols/san/iscsi/services", "ontap.IscsiService", _svm),
    ArrayKind(ONTAP, "/api/protocols/nvme/subsystems", "ontap.NvmeSubsystem", _svm_and("name")),
    ArrayKind(ONTAP, "/api/protocols/nvme/subsystem-maps", "ontap.NvmeSubsystemMap", _subsystem_map),
    ArrayKind(ONTAP, "/api/storage/namespaces", "ontap.NvmeNamespace", _svm_and("name")),
    ArrayKind(ONTAP, "/api/network/fc/interfaces", "ontap.FcInterface", _svm_and("name")),
    ArrayKind(SOLIDFIRE, "GetClusterInfo", "solidfire.Cluster", lambda r: r.get("name") or "cluster"),
    ArrayKind(SOLIDFIRE, "ListAccounts", "solidfire.Account", _id_and_name("accountID", "username")),
    ArrayKind(SOLIDFIRE, "ListVolumes", "solidfire.Volume", _id_and_name("volumeID")),
    ArrayKind(
        SOLIDFIRE,
        "ListVolumeAccessGroups",
        "solidfire.VolumeAccessGroup",
        _id_and_name("volumeAccessGroupID"),
    ),
    ArrayKind(
        SOLIDFIRE, "ListInitiators", "solidfire.Initiator", _id_and_name("initiatorID", "initiatorName")
    ),
)

BY_SOURCE_KEY: dict[tuple[str, str], ArrayKind] = {(k.family, k.source_key): k for k in ARRAY_KINDS}
BY_STORED_KIND: dict[str, ArrayKind] = {k.kind: k for k in ARRAY_KINDS}

assert {k.source_key for k in ARRAY_KINDS if k.family == ONTAP} == set(ONTAP_COLLECTIONS)
assert {k.source_key for k in ARRAY_KINDS if k.family == SOLIDFIRE} == set(SOLIDFIRE_METHODS)
