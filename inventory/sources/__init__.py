"""Sources: where a snapshot's raw objects come from (a live API, or an offline dump).

Every source returns a `Collection`: raw Kubernetes objects per kind exactly as the API
serves them, plus what could not be read and why.  The snapshotter turns a Collection
into versioned inventory; it never cares which source produced it.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field


class SourceError(Exception):
    """A source failed as a whole (bad kubeconfig, unreachable API, unreadable dump)."""


@dataclass
class Collection:
    # kind -> raw objects (dicts as served by the API, "kind"/"apiVersion" filled in), or, when
    # `kept`, what the source's `reduce` made of each object as its page arrived, so that whole raw
    # lists never sit in memory: a snapshot's are stored forms (inventory/history.py `stored_form`:
    # the kept fields, secrets dropped, and their digest)
    objects: dict[str, list] = field(default_factory=dict)
    kept: bool = False
    # kind -> human-readable reason it was not read; such kinds make the snapshot partial
    unread: dict[str, str] = field(default_factory=dict)
    # kind -> why the source believes the cluster has none (its API is not served): read as empty
    # here, but the snapshot treats it as unread when the cluster had such objects before
    absent: dict[str, str] = field(default_factory=dict)
    # facts worth recording that are not errors, e.g. {"trident_installed": False}
    facts: dict = field(default_factory=dict)
    # non-fatal notes for the operator (e.g. "dropped 2 Secret objects from dump")
    warnings: list[str] = field(default_factory=list)
    # array name -> what was read from that array (a Collection keyed by REST path / RPC method)
    arrays: dict[str, "ArrayReading"] = field(default_factory=dict)
    # (scope, kind) -> the current versions a snapshot's `reduce` judged objects against
    # (inventory/history.py `StoredForms`), for the store to compare with rather than read again
    versions: dict = field(default_factory=dict)
    # the live source's memory of the worker's kept forms (inventory/kept_reuse.py `KeptFormReuse`):
    # the store reuses array records' forms from it too, and has it remember this read once stored
    kept_reuse: object | None = None

    def mappings(self, kind: str) -> list[dict]:
        """The objects of `kind` as mappings: raw, kept, or a stored form's kept fields (`data`)."""
        return [getattr(obj, "data", obj) for obj in self.objects.get(kind, ())]


@dataclass
class ArrayReading:
    """One array's records as read for a cluster snapshot, and which backends led to it."""

    family: str  # "ontap" or "solidfire"
    collection: Collection
    backends: list[str] = field(default_factory=list)  # Trident backend names linked to it


# (kind, its objects as the source keeps them, the current versions its reducer judged them against
# or None): one Kubernetes kind read whole, handed on before the next kind is read.
KindRead = Callable[[str, list, dict | None], None]


class KindByKindSource(ABC):
    """A source that hands each Kubernetes kind on as soon as it has read it whole (`kind_read`), so
    that the snapshot stores it while the next kinds are read: at scale, PostgreSQL then takes a
    first snapshot's rows in during the reading, on the core the reading leaves idle.  The kinds it
    hands on are in the Collection it returns too.  Any other callable returning a Collection is a
    source as well; its kinds are stored once it returns."""

    @abstractmethod
    def __call__(self, kind_read: KindRead | None = None) -> Collection: ...
