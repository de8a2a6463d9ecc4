"""Deterministic identifiers, names, addresses and timestamps for the simulated cluster.

Everything random comes from one seeded `random.Random`, so a seed always yields the
same cluster.  Addresses of storage endpoints live in the documentation ranges
(RFC 5737: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24): the product must never dial
an address it read from a cluster, and these are addresses nothing answers on.
"""

import random
from datetime import datetime
from functools import lru_cache

# Node network and pod network of the simulated cluster (private; never dialled either).
NODE_CIDR = "10.20.0.0/16"
POD_CIDR = "10.128.0.0/9"
DOCKER_BRIDGE_IP = "172.17.0.1"  # present on every node, so it lands in Trident's node IPs
NAS_CIDR = "192.0.2.0/24"  # ONTAP NAS data LIFs
SAN_CIDR = "198.51.100.0/24"  # iSCSI/NVMe LIFs, SolidFire SVIP, Azure NetApp Files endpoints
EXTERNAL_CIDR = "203.0.113.0/24"  # nodes' public addresses

# Every secret value starts with this, so tests can hunt for it.
SECRET_MARKER = "SIMSECRET-"  # noqa: S105 - a marker, not a password

_K8S_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the API server uses for generateName


class Ids:
    """The simulator's single source of randomness."""

    def __init__(self, seed: int):
        self.rng = random.Random(seed)

    def uid(self) -> str:
        """A version-4 UUID string (built by hand: uuid.UUID is slow for a million of them)."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def hex(self, length: int) -> str:
        return f"{self.rng.getrandbits(4 * length):0{length}x}"

    def suffix(self, length: int = 5) -> str:
        return "".join(self.rng.choices(_K8S_SUFFIX_ALPHABET, k=length))

    def template_hash(self) -> str:
        return self.suffix(10)

    def secret(self) -> str:
        return SECRET_MARKER + self.hex(16)


def node_internal_ip(index: int) -> str:
    return f"10.20.{index // 250}.{index % 250 + 2}"


def node_external_ip(index: int) -> str:
    return f"203.0.113.{index % 250 + 2}"


def pod_gateway_ip(index: int) -> str:
    """The first address of node `index`'s /24 pod range (the CNI bridge on the node)."""
    return f"10.{128 + index // 256}.{index % 256}.1"


def pod_ip(node_index: int, rng: random.Random) -> str:
    return f"10.{128 + node_index // 256}.{node_index % 256}.{rng.randrange(2, 255)}"


def pod_cidr(index: int) -> str:
    return f"10.{128 + index // 256}.{index % 256}.0/24"


@lru_cache(maxsize=100_000)  # the same instants recur across thousands of objects
def timestamp(when: datetime) -> str:
    """RFC 3339 with second precision and `Z`, as the API server writes times."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def internal_volume_name(pv_name: str, prefix: str = "trident_") -> str:
    """ONTAP volume name Trident derives from a PV name (dashes and dots become underscores)."""
    return prefix + pv_name.replace("-", "_").replace(".", "_")


# Tenants the demo always has (the seeded cases live in their namespaces); more are generated.
CASE_TENANTS = ("acme", "globex", "initech", "umbrella")
_TENANT_WORDS = (
    "aurora",
    "basalt",
    "cobalt",
    "delta",
    "ember",
    "fjord",
    "granite",
    "harbor",
    "indigo",
    "juniper",
    "krypton",
    "lumen",
    "magnet",
    "nimbus",
    "onyx",
    "polar",
    "quartz",
    "raven",
    "summit",
    "tundra",
)
_NAMESPACE_PURPOSES = ("web", "api", "data", "batch", "ml", "etl", "cache", "search")


def generated_tenant(index: int) -> str:
    return f"{_TENANT_WORDS[index % len(_TENANT_WORDS)]}-{index:04d}"


def namespace_purpose(index: int) -> str:
    return _NAMESPACE_PURPOSES[index % len(_NAMESPACE_PURPOSES)]
