"""Which nodes each PV's admitted parties name, with the PVs grouped by that set of nodes.

An export that admits every node lists one party per node, so at the bench scale the access records
name millions of (PV, node) pairs; yet most PVs name one of a few sets of nodes (every node, every
worker) and the rest one node or a handful.  A rule that asks "what admits this node?" for many
nodes works per node set instead: what a set's PVs add up to is worked out once and shared by every
node the set names, and only the node's own few PVs are looked at per node.

The records are read once per snapshot (`admitted_nodes`): each PV's parties with some access, by
kind of party; each rule takes the view it counts (`NodeAdmission`).
"""

from collections.abc import Callable
from typing import NamedTuple

from arrays.party_lists import PerPartyList
from exposure.analysis.paths import ACCESS_LEVELS

NodeSet = frozenset  # the nodes some parties of one PV name (one interned object per distinct set)


class PartyKind(NamedTuple):
    level: str  # the access it grants (ACCESS_LEVELS)
    address: bool  # a party of an export policy or cloud export rule (it carries `addresses`)
    wildcard: bool  # such a party that admits every address (0.0.0.0/0, ::/0): every node, named or not


def access_level(party: dict) -> str:
    """The party's access as a level of ACCESS_LEVELS ("" for none)."""
    level = str(party.get("access") or "").split(" ", 1)[0]
    return level if level in ACCESS_LEVELS else ""


class AdmittedNodes:
    """PV -> the kinds of its parties that grant some access -> the nodes those parties name."""

    def __init__(self, volume_access: dict[str, dict]):
        self.records = volume_access
        self.by_pv: dict[str, dict[PartyKind, NodeSet]] = {}  # in PV order
        self._kinds: dict[tuple, PartyKind] = {}
        interned: dict[NodeSet, NodeSet] = {}
        of_list = PerPartyList(lambda parties: self._named(parties, interned))
        for pv, record in sorted(volume_access.items()):
            parties = record.get("admitted")
            if parties and (nodes := of_list(parties)):
                self.by_pv[pv] = nodes  # shared by the PVs of one list: never modified

    def _named(self, parties: list, interned: dict[NodeSet, NodeSet]) -> dict[PartyKind, NodeSet]:
        named: dict[PartyKind, list] = {}
        for party in parties:
            if isinstance(party, dict) and (kind := self.kind_of(party)).level:
                named.setdefault(kind, []).extend(party.get("nodes") or [])
        return {kind: interned.setdefault(found := frozenset(nodes), found) for kind, nodes in named.items()}

    def kind_of(self, party: dict) -> PartyKind:
        # Parties repeat a handful of access and verdict texts: each combination is judged once.
        text, address, verdict = party.get("access"), "addresses" in party, party.get("verdict")
        if not (isinstance(text, str) and isinstance(verdict, str)):
            return PartyKind(access_level(party), address, address and verdict == "wildcard")
        key = (text, address, verdict)
        if key not in self._kinds:
            self._kinds[key] = PartyKind(access_level(party), address, address and verdict == "wildcard")
        return self._kinds[key]


def admitted_nodes(ctx) -> AdmittedNodes:
    return ctx.memo("node_admission.admitted_nodes", lambda: AdmittedNodes(ctx.volume_access))


class NodeAdmission:
    """The PVs whose parties of the kinds `counts` accepts name some node, grouped by the set they
    name; `everywhere`: those kinds that admit every node, named or not."""

    def __init__(
        self,
        admitted: AdmittedNodes,
        counts: Callable[[PartyKind], bool],
        everywhere: Callable[[PartyKind], bool] = lambda kind: False,
    ):
        self._admitted = admitted
        self.pvs_by_set: dict[NodeSet, list[str]] = {}  # in PV order
        self.kinds: dict[str, dict[PartyKind, NodeSet]] = {}  # PV -> its counted kinds -> their nodes
        self.everywhere: dict[str, set[str]] = {}  # PV -> the levels of its parties that admit every node
        interned: dict[NodeSet, NodeSet] = {}
        for pv, by_kind in admitted.by_pv.items():
            counted = {kind: nodes for kind, nodes in by_kind.items() if counts(kind)}
            if not counted:
                continue
            self.kinds[pv] = counted
            if wildcards := {kind.level for kind in counted if everywhere(kind)}:
                self.everywhere[pv] = wildcards
            named = (
                next(iter(counted.values())) if len(counted) == 1 else frozenset().union(*counted.values())
            )
            if named:
                self.pvs_by_set.setdefault(interned.setdefault(named, named), []).append(pv)
        self._everywhere_kind = everywhere
        self._naming: dict[str, list[NodeSet]] | None = None
        # Per list of parties (by identity: the records hold the lists while this lives), since the
        # PVs behind one export or igroup share its list and so its counted kinds.
        self._first_party: dict[int, dict[str, dict]] = {}
        self._asked: set[int] = set()
        self._first_everywhere: dict[int, dict] = {}

    def sets_naming(self, node: str) -> list[NodeSet]:
        """The node sets that name `node` (unordered: callers merge their PVs in PV order)."""
        if self._naming is None:
            naming: dict[str, list[NodeSet]] = {}
            for nodes in self.pvs_by_set:
                for name in nodes:
                    naming.setdefault(name, []).append(nodes)
            self._naming = naming
        return self._naming.get(node, [])

    def levels(self, pv: str, nodes) -> set[str]:
        """The access levels of the PV's counted parties that admit one of `nodes` (a set or dict)."""
        kinds = self.kinds[pv]
        return {
            kind.level
            for kind, named in kinds.items()
            if (nodes and self._everywhere_kind(kind)) or not nodes.keys().isdisjoint(named)
        }

    def party(self, pv: str, node: str) -> dict:
        """The PV's first counted party (in its record's order) that names `node`.  A list of parties
        asked about again is indexed by node (the PVs of one export of every node share its list, and
        the paths of many namespaces show the same first PVs); the first time, it is read up to the
        party that names the node."""
        parties = self._admitted.records[pv]["admitted"]
        if (first := self._first_party.get(id(parties))) is not None:
            return first[node]
        if id(parties) not in self._asked:
            self._asked.add(id(parties))
            return next(party for party in self._counted_parties(pv) if node in (party.get("nodes") or []))
        first = {}
        for party in self._counted_parties(pv):
            for node_name in party.get("nodes") or []:
                first.setdefault(node_name, party)
        self._first_party[id(parties)] = first
        return first[node]

    def party_everywhere(self, pv: str) -> dict:
        """The PV's first counted party (in its record's order) that admits every node."""
        parties = self._admitted.records[pv]["admitted"]
        if (first := self._first_everywhere.get(id(parties))) is None:
            everywhere, kind_of = self._everywhere_kind, self._admitted.kind_of
            first = next(party for party in self._counted_parties(pv) if everywhere(kind_of(party)))
            self._first_everywhere[id(parties)] = first
        return first

    def _counted_parties(self, pv: str):
        counted, kind_of = self.kinds[pv], self._admitted.kind_of
        for party in self._admitted.records[pv]["admitted"]:
            if isinstance(party, dict) and kind_of(party) in counted:
                yield party
