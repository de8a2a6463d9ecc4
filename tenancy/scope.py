"""What one reader may see: the value every restricted queryset and every redaction takes.

A leaf module (no models, no queries), so that models can restrict themselves by it without an import
cycle.  `tenancy.access.scope_of(user)` computes it from grants and ownership; nothing else makes one
except the digest and tests, which state whose scope it is.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Scope:
    """Admins see everything; anyone else exactly `namespaces` (cluster id -> namespace names)."""

    admin: bool = False
    namespaces: Mapping[int, frozenset[str]] = field(default_factory=dict)
    who: str = ""  # for logs and error messages only

    @classmethod
    def everything(cls, who: str = "admin") -> "Scope":
        return cls(admin=True, who=who)

    @classmethod
    def nothing(cls, who: str = "anonymous") -> "Scope":
        return cls(who=who)

    def cluster_ids(self) -> frozenset[int] | None:
        """The clusters with anything visible; None for an admin (every cluster)."""
        return None if self.admin else frozenset(self.namespaces)

    def visible_in(self, cluster_id: int) -> frozenset[str]:
        """The namespaces of one cluster this reader sees (meaningless for an admin: check `admin`)."""
        return self.namespaces.get(cluster_id, frozenset())

    def sees(self, cluster_id: int, namespace: str) -> bool:
        return self.admin or namespace in self.visible_in(cluster_id)

    def sees_cluster(self, cluster_id: int) -> bool:
        return self.admin or bool(self.visible_in(cluster_id))
