"""What the array sources share: how to reach an array, and what each reads.

An array is reached only at the endpoint an admin configured, never at an address read out of
Trident or a cluster.  Each source returns a `Collection` keyed by what it read: ONTAP by REST
collection path (e.g. "/api/protocols/nfs/export-policies"), SolidFire by JSON-RPC method
(e.g. "ListVolumeAccessGroups"), the same keys an offline dump's `backends/*.json` uses, with
the records (all pages merged) as values.  A path or method that failed is in `unread`.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ArrayEndpoint:
    kind: str  # ONTAP or SOLIDFIRE
    host: str  # as the admin configured it
    port: int | None = None
    scheme: str = "https"  # ONTAP may be "http" (tests, labs); SolidFire is HTTPS only
    username: str = ""
    password: str = field(default="", repr=False)
    # True: the system's CAs; a path: that CA bundle; False only when the admin turned verification off.
    verify: bool | str = True
    timeout: float = 30.0

    def __str__(self) -> str:  # what errors and logs may name: never the credentials
        port = f":{self.port}" if self.port else ""
        return f"{self.kind} {self.scheme}://{self.host}{port}"


# ONTAP REST collections read, in reading order.
ONTAP_COLLECTIONS: tuple[str, ...] = (
    "/api/cluster",
    "/api/svm/svms",
    "/api/network/ip/interfaces",
    "/api/protocols/nfs/services",
    "/api/protocols/nfs/export-policies",
    "/api/storage/volumes",
    "/api/storage/qtrees",
    "/api/storage/luns",
    "/api/protocols/san/igroups",
    "/api/protocols/san/lun-maps",
    "/api/protocols/san/iscsi/credentials",
    "/api/protocols/san/iscsi/services",
    "/api/protocols/nvme/subsystems",
    "/api/protocols/nvme/subsystem-maps",
    "/api/storage/namespaces",
    "/api/network/fc/interfaces",
)

# ONTAP paths answered with one object rather than a collection of records.
ONTAP_SINGLE_OBJECTS = frozenset({"/api/cluster"})

# SolidFire Element JSON-RPC methods read, and the key of each result that holds the records.
SOLIDFIRE_METHODS: dict[str, str] = {
    "GetClusterInfo": "clusterInfo",
    "ListAccounts": "accounts",
    "ListVolumes": "volumes",
    "ListVolumeAccessGroups": "volumeAccessGroups",
    "ListInitiators": "initiators",
}
