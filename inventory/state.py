"""A snapshot's inventory loaded once and indexed the ways the join and the rules look things up.

`SnapshotState.load(snapshot)` reads the cluster as of that snapshot (one query), plus the last
versions of nodes seen earlier and gone now (stale nodes).  The run that just stored a snapshot
hands over what it stored (`Written`), so only what it did not read is read back.  Kubernetes
objects are indexed by kind and (namespace, name); each array's records by kind and name, under the
array's name.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from functools import reduce
from operator import or_

from django.db.models import Q

from inventory.history import stored_kinds
from inventory.models import InventoryObject, Snapshot

DERIVED_SCOPE = "derived"  # rows computed from the inventory (arrays/volume_access.py), not read
# What a run stored: (scope, kind) -> (namespace, name) -> kept data, for each kind it read.
Written = dict[tuple[str, str], dict[tuple[str, str], dict]]


@dataclass
class ArrayRecords:
    name: str
    by_kind: dict[str, dict[str, dict]] = field(default_factory=lambda: defaultdict(dict))

    @property
    def family(self) -> str:
        return next(iter(self.by_kind), "ontap.").split(".", 1)[0]

    def get(self, kind: str, name: str) -> dict | None:
        return self.by_kind.get(kind, {}).get(name) if isinstance(name, str) else None

    def all(self, kind: str) -> dict[str, dict]:
        return self.by_kind.get(kind, {})


@dataclass
class SnapshotState:
    snapshot: Snapshot
    objects: dict[str, dict[tuple[str, str], dict]]  # kind -> (namespace, name) -> kept data
    arrays: dict[str, ArrayRecords]
    departed_nodes: dict[str, dict]  # node name -> its last kept Node data, for nodes gone since

    @classmethod
    def load(cls, snapshot: Snapshot, written: "Written | None" = None) -> "SnapshotState":
        """The cluster as of `snapshot`.  `written`: what this snapshot's run just stored, kind by
        kind, which is taken as it is in memory; only the rest (kinds and arrays it did not read,
        whose versions stand) is read from the database."""
        objects: dict[str, dict[tuple[str, str], dict]] = defaultdict(dict)
        arrays: dict[str, ArrayRecords] = {}

        def add(scope: str, kind: str, namespace: str, name: str, data: dict) -> None:
            if scope:
                arrays.setdefault(scope, ArrayRecords(scope)).by_kind[kind][name] = data
            else:
                objects[kind][(namespace, name)] = data

        rows = InventoryObject.objects.as_of(snapshot).exclude(scope=DERIVED_SCOPE)
        if written is not None:
            # The run's own snapshot, the cluster's latest: what it did not write is the current
            # versions of the kinds stored and not written (most often none: no query at all).
            unwritten = sorted(stored_kinds(snapshot.cluster_id) - set(written))
            wanted = [Q(scope=scope, kind=kind) for scope, kind in unwritten if scope != DERIVED_SCOPE]
            rows = rows.filter(reduce(or_, wanted)) if wanted else rows.none()
        for (scope, kind), kept in (written or {}).items():  # a kind whole (none of it is read below)
            if not kept:
                continue  # as if read: an empty kind has no entry
            if scope:
                records = arrays.setdefault(scope, ArrayRecords(scope))
                records.by_kind[kind] = {name: data for (_, name), data in kept.items()}
            else:
                objects[kind] = kept  # sorted into a dict of its own below
        for row in rows.values_list("scope", "kind", "namespace", "name", "data").iterator(chunk_size=2000):
            add(*row)
        # In the order of their names, whatever order they were listed or stored in: what the rules
        # build by iterating (the volumes of a node, the paths they show) is then the same each time.
        objects = {kind: dict(sorted(by_key.items())) for kind, by_key in sorted(objects.items())}
        for records in arrays.values():
            records.by_kind = defaultdict(
                dict,
                {kind: dict(sorted(by_name.items())) for kind, by_name in sorted(records.by_kind.items())},
            )
        arrays = dict(sorted(arrays.items()))
        return cls(snapshot, objects, arrays, cls._departed(snapshot, objects))

    @staticmethod
    def _departed(snapshot: Snapshot, objects) -> dict[str, dict]:
        current = [name for _, name in objects.get("Node", {})]
        departed = {}
        for prefix in ("Node", "TridentNode"):
            ended = (
                InventoryObject.objects.filter(
                    cluster_id=snapshot.cluster_id, kind=prefix, valid_to__lte=snapshot.seq
                )
                .exclude(name__in=current)  # a node still here has no past that matters
                .order_by("valid_to")
            )
            for name, data in ended.values_list("name", "data"):
                departed.setdefault(name, {})[prefix] = data  # the last version wins
        return departed

    def of_kind(self, kind: str) -> dict[tuple[str, str], dict]:
        return self.objects.get(kind, {})

    def namespace_names(self) -> list[str]:
        """The snapshot's namespaces: its Namespace objects and, when Namespaces were not read (a partial
        dump), also the namespaces its objects are in: unread is not absent."""
        names = {name for _, name in self.of_kind("Namespace")}
        if "Namespace" in (self.snapshot.unread or {}):
            names |= {namespace for objects in self.objects.values() for namespace, _ in objects if namespace}
        return sorted(names)

    def get(self, kind: str, name: str, namespace: str = "") -> dict | None:
        """None too for a name or namespace that is not text (read from some other object's field)."""
        if not isinstance(name, str) or not isinstance(namespace, str):
            return None
        return self.objects.get(kind, {}).get((namespace, name))

    @property
    def facts(self) -> dict:
        return self.snapshot.facts or {}

    def array_for_backend(self, backend_uuid: str) -> str | None:
        backends = self.facts.get("backends")
        summary = backends.get(backend_uuid) if isinstance(backends, dict) else None
        array = summary.get("array") if isinstance(summary, dict) else None
        return array if isinstance(array, str) else None
