"""What some storage addresses serve one node: the exports admitting the node, one per owning namespace.

`storage-network-reachable` asks, for each node its pods run on and each storage address they reach,
how many other tenants' exports that address serves the node, and shows the first few.  Walking the
node's exports (thousands, with exports that admit every node) per node costs nodes x volumes; here
the PVs are taken per node set (exposure/analysis/node_admission.py):

- `Kept`: one export per owning namespace, in PV order: a PV is kept when it adds an owner not seen
  before.  Kept over several lists of PVs is kept over the lists' own kept PVs merged (a PV a list
  skips has its owners among that list's earlier kept PVs, so the merged pass skips it too).
- A node's exports are the PVs of every node set naming it.  The sets that name many nodes (every
  node, every worker) are merged once per combination and shared; the node's own few PVs (a volume's
  export policy naming the nodes it is published to) are laid over that shared part per node.
"""

import heapq
from collections import Counter
from collections.abc import Callable, Iterable

from exposure.analysis.node_admission import NodeAdmission, NodeSet

# A node set naming at least this share of the nodes is merged once and shared by every node it names.
SHARED_SET_SHARE = 8  # 1/8

Owners = Callable[[str], tuple[tuple[str, ...], frozenset, str]]  # PV -> owners, their tenants, its array
Bucket = tuple  # what an export must be on to be served (the rule's key) and its protocol


class Kept:
    """One export per owning namespace of some PVs, in PV order."""

    def __init__(self, pvs: Iterable[str], owners_of: Owners):
        self.pvs: list[str] = []
        self.tenants: list[frozenset] = []
        self.owners: list[tuple[str, ...]] = []
        self.arrays_of: list[str] = []
        self.own_counts: Counter = Counter()  # tenant -> kept PVs owned by that tenant alone
        self.array_counts: Counter = Counter()
        self.first_of: dict[str, int] = {}  # owner -> position of the first kept PV it owns
        seen: set[str] = set()
        for pv in pvs:
            owners, tenants, array = owners_of(pv)
            if not owners or seen.issuperset(owners):  # nobody's data, or a namespace counted already
                continue
            seen.update(owners)
            for owner in owners:
                self.first_of.setdefault(owner, len(self.pvs))
            self.pvs.append(pv)
            self.tenants.append(tenants)
            self.owners.append(owners)
            self.arrays_of.append(array)
            if len(tenants) == 1:
                (tenant,) = tenants
                self.own_counts[tenant] += 1
            if array:
                self.array_counts[array] += 1

    @classmethod
    def merged(cls, parts: list["Kept"], owners_of: Owners) -> "Kept":
        if len(parts) == 1:
            return parts[0]
        return cls(heapq.merge(*(part.pvs for part in parts)), owners_of)

    def foreign_count(self, tenant: str) -> int:
        """Kept exports not owned by `tenant` alone."""
        return len(self.pvs) - self.own_counts.get(tenant, 0)

    @property
    def arrays(self) -> set[str]:
        return set(self.array_counts)

    def foreign(self, tenant: str, limit: int) -> list[str]:
        """The first `limit` kept PVs owned by some other tenant than `tenant`."""
        return _first_foreign(zip(self.pvs, self.tenants, strict=True), tenant, limit)


class _Overlaid:
    """A shared `Kept` with a node's own kept PVs laid over it, every PV owned by one namespace at
    most: an own PV adds its owner, or takes the place of its owner's shared PV if it comes first."""

    def __init__(self, shared: Kept, own: Kept):
        self.shared = shared
        self.inserted: list[tuple[str, frozenset, str]] = []  # (PV, tenants, array), in PV order
        self.replaced: set[int] = set()  # positions of shared PVs an own PV comes before
        added: Counter = Counter()  # tenant -> owners of that tenant alone the shared part lacks
        for pv, tenants, owners, array in zip(own.pvs, own.tenants, own.owners, own.arrays_of, strict=True):
            at = shared.first_of.get(owners[0])
            if at is None:
                if len(tenants) == 1:
                    added[next(iter(tenants))] += 1
                self.inserted.append((pv, tenants, array))
            elif pv < shared.pvs[at]:
                self.replaced.add(at)
                self.inserted.append((pv, tenants, array))
        self.size = len(shared.pvs) + len(self.inserted) - len(self.replaced)
        self._own_added = added
        self._arrays: set[str] | None = None

    def foreign_count(self, tenant: str) -> int:
        own = self.shared.own_counts.get(tenant, 0) + self._own_added.get(tenant, 0)
        return self.size - own

    @property
    def arrays(self) -> set[str]:
        if self._arrays is None:
            counts = self.shared.array_counts.copy()
            for at in self.replaced:
                counts[self.shared.arrays_of[at]] -= 1
            for _, _, array in self.inserted:
                counts[array] += 1
            self._arrays = {array for array, count in counts.items() if array and count > 0}
        return self._arrays

    def foreign(self, tenant: str, limit: int) -> list[str]:
        shared = self.shared
        kept = (
            (pv, tenants)
            for at, (pv, tenants) in enumerate(zip(shared.pvs, shared.tenants, strict=True))
            if at not in self.replaced
        )
        inserted = ((pv, tenants) for pv, tenants, _ in self.inserted)
        return _first_foreign(heapq.merge(kept, inserted), tenant, limit)


def _first_foreign(pvs: Iterable[tuple[str, frozenset]], tenant: str, limit: int) -> list[str]:
    """The first `limit` of (PV, its tenants), in their order, owned by some other tenant than `tenant`."""
    found = []
    for pv, tenants in pvs:
        if len(found) >= limit:
            break
        if tenants - {tenant}:
            found.append(pv)
    return found


class ServedExports:
    """Per node and set of buckets (what a storage address serves: the rule's keys with a protocol),
    the exports admitting the node in those buckets, one per owning namespace."""

    def __init__(
        self,
        admission: NodeAdmission,
        buckets_of: Callable[[str], Iterable[Bucket]],
        owners_of: Owners,
    ):
        self.admission, self.owners_of = admission, owners_of
        # bucket -> node set -> its PVs in that bucket (in PV order)
        self._buckets: dict[Bucket, dict[NodeSet, list[str]]] = {}
        nodes: set[str] = set()
        single_owner = True
        for named, pvs in admission.pvs_by_set.items():
            nodes |= named
            for pv in pvs:
                single_owner = single_owner and len(owners_of(pv)[0]) <= 1
                for bucket in buckets_of(pv):
                    self._buckets.setdefault(bucket, {}).setdefault(named, []).append(pv)
        self._shared_size = len(nodes) / SHARED_SET_SHARE
        self._single_owner = single_owner  # else no overlay: every node's part merged in full
        self._parts: dict[frozenset, dict[NodeSet, Kept]] = {}
        self._shared: dict[frozenset, dict[frozenset, Kept]] = {}
        self._at: dict[tuple, object] = {}

    def at(self, node: str, buckets: frozenset) -> "Kept | _Overlaid":
        """What is served `node` under any of `buckets`."""
        key = (node, buckets)
        if key not in self._at:
            self._at[key] = self._served(node, buckets)
        return self._at[key]

    def _served(self, node: str, buckets: frozenset) -> "Kept | _Overlaid":
        parts = self._kept_by_set(buckets)
        named = [nodes for nodes in self.admission.sets_naming(node) if nodes in parts]
        shared = frozenset(nodes for nodes in named if len(nodes) >= self._shared_size)
        own = [parts[nodes] for nodes in named if nodes not in shared]
        if shared not in self._shared.setdefault(buckets, {}):
            self._shared[buckets][shared] = Kept.merged([parts[nodes] for nodes in shared], self.owners_of)
        base = self._shared[buckets][shared]
        if not own:
            return base
        own_kept = Kept.merged(own, self.owners_of)
        if self._single_owner:
            return _Overlaid(base, own_kept)
        return Kept.merged([base, own_kept], self.owners_of)

    def _kept_by_set(self, buckets: frozenset) -> dict[NodeSet, Kept]:
        """Node set -> its PVs under any of `buckets`, kept (once per set of buckets)."""
        if buckets not in self._parts:
            pvs: dict[NodeSet, set[str]] = {}
            for bucket in buckets:
                for named, found in self._buckets.get(bucket, {}).items():
                    pvs.setdefault(named, set()).update(found)
            owners_of = self.owners_of
            self._parts[buckets] = {named: Kept(sorted(found), owners_of) for named, found in pvs.items()}
        return self._parts[buckets]
