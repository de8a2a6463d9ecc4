"""The cluster's nodes as a storage array sees them, and a verdict on every party an array admits.

Guideline 3 of rules.md: backends accept only the cluster's worker nodes.  The node set comes
from Node objects (`status.addresses`, `spec.podCIDR(s)`) and TridentNode objects (`ips`, `iqn`,
`nqn`, `hostWWPNMap`, at the top level in released Trident or under `spec` in newer ones), in
the kept-field shapes the inventory stores.  Nodes seen in earlier snapshots and gone now are
the departed ("stale") nodes.

Verdicts (issue 3's vocabulary): `node`, `stale-node`, `foreign`, `wildcard`, `chap-account`,
`unverifiable`, and `unparseable`.  Judgements rules.md leaves open, decided here:

- An address several nodes list (docker0's 172.17.0.1 on every host, as Trident's `ips` include
  every global address of every interface) identifies no node: any host with such a bridge can
  claim it.  It is reported in `NodeSet.shared_addresses`, and admitting it is `foreign`.  With a
  single node in the cluster's history a bridge address cannot be told apart from a node address.
- A subnet is judged by every address it admits: all of them node addresses is `node`; any
  address beyond the nodes (a bridge address included) is `foreign`, with the count and the nodes
  it also covers; no foreign address but a departed node's is `stale-node`.
- A node's pod-network address (the CNI gateway Trident lists, inside the node's `podCIDR`) is
  that node's: only the host sends from it.  Other pod-network addresses belong to pods, not
  nodes: admitting them is `foreign`, and the detail says pods may reach the array directly.
- An old address of a node that is still here is not a departed node's: it is `foreign` (the
  address may have passed to another host).
"""

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from ipaddress import ip_network
from typing import Literal

from arrays.address_set import AddressSet, IPAddress, IPNetwork
from arrays.client_match import ClientEntry, client_address
from arrays.export_policy import AdmittedParty

VerdictKind = Literal[
    "node", "stale-node", "foreign", "wildcard", "chap-account", "unverifiable", "unparseable"
]

_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    nodes: tuple[str, ...] = ()  # current nodes the party admits
    stale_nodes: tuple[str, ...] = ()  # departed nodes the party admits
    foreign_addresses: int = 0  # admitted addresses that identify no node, current or departed
    detail: str = ""


def chap_account_verdict(account: str) -> Verdict:
    """SolidFire CSI volumes admit whoever holds their tenant account's CHAP secret (rules.md)."""
    return Verdict("chap-account", detail=f"whoever holds the CHAP secret of account {account}")


def unreadable_verdict(reason: str) -> Verdict:
    """Access control the array answered in a shape that cannot be read: whom it admits is unknown."""
    return Verdict("unverifiable", detail=f"cannot be read: {reason}")


def initiator_key(initiator: str) -> str | None:
    """An initiator name in the form its standard compares, or None if it is none of them.

    iSCSI names (`iqn.`, `eui.`, `naa.`) are case-insensitive (RFC 3722 folds them to lower case);
    a WWPN is 16 hex digits, written with or without colons or a `0x` prefix (Trident's
    `hostWWPNMap` uses `0x…`, ONTAP igroups `xx:xx:…`); an NVMe NQN has no case folding in its
    specification, so it is compared exactly and a case variant is another host's name.
    """
    text = initiator.strip() if isinstance(initiator, str) else ""
    lowered = text.lower()
    if lowered.startswith(("iqn.", "eui.", "naa.")) and len(lowered) > 4:
        return lowered
    if lowered.startswith("nqn.") and len(text) > 4:
        return text
    digits = lowered.removeprefix("0x").replace(":", "").replace("-", "")
    if len(digits) == 16 and set(digits) <= _HEX:
        return ":".join(digits[i : i + 2] for i in range(0, 16, 2))
    return None


@dataclass(frozen=True)
class NodeIdentity:
    """What identifies one node to an array."""

    name: str
    addresses: frozenset[IPAddress] = frozenset()
    kubelet_addresses: frozenset[IPAddress] = frozenset()  # the ones in Node status.addresses
    dns_names: frozenset[str] = frozenset()
    initiators: frozenset[str] = frozenset()  # initiator_key() forms
    pod_networks: tuple[IPNetwork, ...] = ()


class NodeSet:
    def __init__(self, current: Iterable[NodeIdentity], departed: Iterable[NodeIdentity] = ()):
        self.current = {node.name: node for node in current}
        self.departed = {node.name: node for node in departed if node.name not in self.current}
        self.shared_addresses = self._shared_addresses()
        self._address_owner = self._owners(self.current.values())
        self._departed_address_owner = {
            address: name
            for address, name in self._owners(self.departed.values()).items()
            if address not in self._address_owner
        }
        self._initiator_owners = self._initiators(self.current.values())
        self._departed_initiator_owners = self._initiators(self.departed.values())
        # Indexed by address: a policy may list thousands of entries, each judged against every node.
        self._owned = _PointIndex(self._address_owner)
        self._departed_owned = _PointIndex(self._departed_address_owner)
        self._shared = _PointIndex(self.shared_addresses)
        self._pod_networks = _RangeIndex(
            (node.name, network)
            for node in sorted(self.current.values(), key=lambda n: n.name)
            for network in node.pod_networks
        )
        # A snapshot asks about the same few address sets thousands of times (one per node address,
        # the shared policies' subnets): each is judged once.
        self._verdicts: dict[AddressSet, Verdict] = {}

    @classmethod
    def from_objects(
        cls,
        nodes: Iterable[Mapping],
        trident_nodes: Iterable[Mapping],
        earlier_nodes: Iterable[Mapping] = (),
        earlier_trident_nodes: Iterable[Mapping] = (),
    ) -> "NodeSet":
        """Current nodes: a Node object, or a TridentNode not marked deleted.  Departed: a name seen
        only in earlier snapshots or in a deleted TridentNode.  Earlier objects of a current node are
        ignored (its old addresses are not a departed node's)."""
        current, departed = _Collector(), _Collector()
        for node in nodes:
            current.add_node(node)
        for tnode in trident_nodes:
            (departed if _deleted(tnode) and _tnode_name(tnode) not in current else current).add_tnode(tnode)
        for node in earlier_nodes:
            departed.add_node(node)
        for tnode in earlier_trident_nodes:
            departed.add_tnode(tnode)
        return cls(current.identities(), departed.identities())

    # --- verdicts -------------------------------------------------------------------------------

    def verdict(self, party: AdmittedParty) -> Verdict:
        return self.verdict_for_entry(party.entry, party.addresses)

    def verdict_for_entry(self, entry: ClientEntry, addresses: AddressSet | None = None) -> Verdict:
        """The verdict on a client entry; `addresses` narrows it to those its rule actually decides."""
        if entry.kind == "unparseable":
            return Verdict("unparseable", detail=entry.reason)
        if entry.network is None:
            return Verdict("unverifiable", detail=self._name_detail(entry))
        if entry.kind == "everyone" and (addresses is None or _most_of_the_internet(addresses)):
            return Verdict("wildcard", detail=f"{entry.text} admits every {_family(entry.network)} client")
        return self.verdict_for_addresses(
            addresses if addresses is not None else AddressSet.of([entry.network])
        )

    def verdict_for_addresses(self, addresses: AddressSet) -> Verdict:
        if addresses not in self._verdicts:
            self._verdicts[addresses] = self._judge_addresses(addresses)
        return self._verdicts[addresses]

    def _judge_addresses(self, addresses: AddressSet) -> Verdict:
        owned, departed_owned = self._owned.within(addresses), self._departed_owned.within(addresses)
        current = sorted({name for _, name in owned})
        departed = sorted({name for _, name in departed_owned})
        identified = len(owned) + len(departed_owned)
        foreign = addresses.size() - identified
        details = [self._bridge_detail(addresses), self._pod_network_detail(addresses, foreign)]
        if foreign:
            kind = "foreign"
            details.insert(0, f"admits {foreign} address{'es' if foreign > 1 else ''} of no node")
        elif departed:
            kind = "stale-node"
            details.insert(0, f"admits departed node{'s' if len(departed) > 1 else ''} {', '.join(departed)}")
        else:
            kind = "node"
        return Verdict(kind, tuple(current), tuple(departed), foreign, "; ".join(d for d in details if d))

    def verdict_for_initiator(self, initiator: str) -> Verdict:
        """An IQN, NQN or WWPN listed in an igroup, NVMe subsystem or volume access group."""
        key = initiator_key(initiator)
        if key is None:
            return Verdict("unparseable", detail=f"{initiator!r} is not an IQN, EUI, NAA, NQN or WWPN")
        if key in self._initiator_owners:
            return Verdict("node", nodes=self._initiator_owners[key])
        if key in self._departed_initiator_owners:
            names = self._departed_initiator_owners[key]
            return Verdict(
                "stale-node", stale_nodes=names, detail=f"presented by departed {', '.join(names)}"
            )
        return Verdict("foreign", detail="no current or departed node presents this initiator")

    # --- details --------------------------------------------------------------------------------

    def _name_detail(self, entry: ClientEntry) -> str:
        if entry.kind == "netgroup":
            return f"netgroup {entry.name}: its members live in NIS or LDAP, which is not read"
        if entry.kind == "domain":
            named = sorted(
                n.name for n in self.current.values() if any(d.endswith(entry.name) for d in n.dns_names)
            )
            also = f" (node names in it: {', '.join(named)})" if named else ""
            return f"every host whose name DNS puts in {entry.name[1:]}{also}"
        named = sorted(n.name for n in self.current.values() if entry.name in n.dns_names)
        also = f" (the name node {', '.join(named)} reports)" if named else ""
        return f"whichever host DNS resolves {entry.name} to{also}"

    def _bridge_detail(self, addresses: AddressSet) -> str:
        shared = sorted(self._shared.within(addresses))
        return "; ".join(
            f"{a} is listed by {', '.join(names)} (a bridge such as docker0): it identifies no node"
            for a, names in shared
        )

    def _pod_network_detail(self, addresses: AddressSet, foreign: int) -> str:
        notes = []
        for name, network in self._pod_networks.overlapping(addresses):
            if foreign:
                notes.append(f"overlaps {name}'s pod network {network}: pods may reach the array directly")
            else:
                notes.append(f"{name}'s pod-network address (its CNI gateway)")
        return "; ".join(notes)

    # --- indexes --------------------------------------------------------------------------------

    def _shared_addresses(self) -> dict[IPAddress, tuple[str, ...]]:
        """Addresses two current nodes list, or that several nodes list though no kubelet reports it.

        The second clause tells a bridge seen over time (docker0 on nodes that came and went)
        from a node address reused by a new node, which its kubelet then reports.
        """
        current_listers: dict[IPAddress, set[str]] = defaultdict(set)
        all_listers: dict[IPAddress, set[str]] = defaultdict(set)
        kubelet_reported: set[IPAddress] = set()
        for node in self.current.values():
            for address in node.addresses:
                current_listers[address].add(node.name)
        for node in (*self.current.values(), *self.departed.values()):
            kubelet_reported |= node.kubelet_addresses
            for address in node.addresses:
                all_listers[address].add(node.name)
        return {
            address: tuple(sorted(listers))
            for address, listers in all_listers.items()
            if len(current_listers[address]) > 1 or (len(listers) > 1 and address not in kubelet_reported)
        }

    def _owners(self, nodes: Iterable[NodeIdentity]) -> dict[IPAddress, str]:
        return {a: node.name for node in nodes for a in node.addresses if a not in self.shared_addresses}

    @staticmethod
    def _initiators(nodes: Iterable[NodeIdentity]) -> dict[str, tuple[str, ...]]:
        owners: dict[str, set[str]] = defaultdict(set)
        for node in nodes:
            for key in node.initiators:
                owners[key].add(node.name)
        return {key: tuple(sorted(names)) for key, names in owners.items()}


class _PointIndex:
    """Addresses with a value each, sorted per IP version: which of them lie in a set, by bisection."""

    def __init__(self, values: Mapping[IPAddress, object]):
        self._keys: dict[int, list[int]] = {4: [], 6: []}
        self._items: dict[int, list[tuple[IPAddress, object]]] = {4: [], 6: []}
        for address, value in sorted(values.items(), key=lambda item: (item[0].version, item[0])):
            self._keys[address.version].append(int(address))
            self._items[address.version].append((address, value))

    def within(self, addresses: AddressSet) -> list[tuple[IPAddress, object]]:
        found = []
        for version, ranges in ((4, addresses.v4), (6, addresses.v6)):
            keys, items = self._keys[version], self._items[version]
            for first, last in ranges:
                found += items[bisect.bisect_left(keys, first) : bisect.bisect_right(keys, last)]
        return found


class _RangeIndex:
    """Named networks sorted by first address, each with the furthest end of those before it, so the
    ones overlapping a set are found without testing every network (pod CIDRs: one or two per node)."""

    def __init__(self, named: Iterable[tuple[str, IPNetwork]]):
        self._entries: dict[int, list[tuple[int, int, int, str, IPNetwork]]] = {4: [], 6: []}
        for position, (name, network) in enumerate(named):
            first, last = int(network.network_address), int(network.broadcast_address)
            self._entries[network.version].append((first, last, position, name, network))
        self._starts, self._reach = {}, {}
        for version, entries in self._entries.items():
            entries.sort()
            self._starts[version] = [first for first, *_ in entries]
            reach, furthest = [], -1
            for _, last, *_ in entries:
                furthest = max(furthest, last)
                reach.append(furthest)
            self._reach[version] = reach

    def overlapping(self, addresses: AddressSet) -> list[tuple[str, IPNetwork]]:
        """In the order the networks were given."""
        found = set()
        for version, ranges in ((4, addresses.v4), (6, addresses.v6)):
            entries, starts, reach = self._entries[version], self._starts[version], self._reach[version]
            for first, last in ranges:
                i = bisect.bisect_right(starts, last) - 1  # the last network starting within reach
                while i >= 0 and reach[i] >= first:
                    if entries[i][1] >= first:
                        found.add(entries[i])
                    i -= 1
        return [(name, network) for *_, position, name, network in sorted(found, key=lambda e: e[2])]


def _family(network: IPNetwork) -> str:
    return f"IPv{network.version}"


# --- reading kept-field shapes ------------------------------------------------------------------


class _Collector:
    """Gathers what Node and TridentNode objects say about each node name."""

    def __init__(self):
        self._facts: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))

    def __contains__(self, name: str) -> bool:
        return name in self._facts

    def add_node(self, node: Mapping) -> None:
        name = _get(node, "metadata", "name")
        if not isinstance(name, str) or not name:
            return
        facts = self._facts[name]
        for item in _list(_get(node, "status", "addresses")):
            value = item.get("address") if isinstance(item, Mapping) else None
            if not isinstance(value, str):
                continue
            address = client_address(value.strip())
            if address is not None:
                facts["addresses"].add(address)
                facts["kubelet_addresses"].add(address)
            elif value.strip():
                facts["dns_names"].add(value.strip().lower().removesuffix("."))
        spec = _get(node, "spec") or {}
        for cidr in [spec.get("podCIDR"), *_list(spec.get("podCIDRs"))] if isinstance(spec, Mapping) else []:
            network = _network(cidr)
            if network is not None:
                facts["pod_networks"].add(network)

    def add_tnode(self, tnode: Mapping) -> None:
        name = _tnode_name(tnode)
        if not name:
            return
        facts = self._facts[name]
        facts["dns_names"].add(name.lower())
        for value in _list(_tnode_field(tnode, "ips")):
            address = client_address(value.strip()) if isinstance(value, str) else None
            if address is not None:
                facts["addresses"].add(address)
        wwpns = _tnode_field(tnode, "hostWWPNMap")
        initiators = [_tnode_field(tnode, "iqn"), _tnode_field(tnode, "nqn")]
        initiators += list(wwpns) if isinstance(wwpns, Mapping) else []
        facts["initiators"] |= {key for key in map(initiator_key, initiators) if key}

    def identities(self) -> list[NodeIdentity]:
        return [
            NodeIdentity(
                name=name,
                addresses=frozenset(facts["addresses"]),
                kubelet_addresses=frozenset(facts["kubelet_addresses"]),
                dns_names=frozenset(facts["dns_names"]),
                initiators=frozenset(facts["initiators"]),
                pod_networks=tuple(sorted(facts["pod_networks"], key=lambda n: (n.version, n))),
            )
            for name, facts in sorted(self._facts.items())
        ]


def _get(obj: object, *path: str) -> object:
    for key in path:
        obj = obj.get(key) if isinstance(obj, Mapping) else None
    return obj


def _list(value: object) -> list:
    return list(value) if isinstance(value, list | tuple) else []


def _network(text: object) -> IPNetwork | None:
    try:
        return ip_network(text.strip(), strict=False) if isinstance(text, str) else None
    except ValueError:
        return None


def _tnode_field(tnode: Mapping, key: str) -> object:
    """Unreleased Trident moves TridentNode data under `spec` and dual-writes: prefer `spec`."""
    value = _get(tnode, "spec", key)
    return value if value not in (None, "", [], {}) else tnode.get(key)


def _tnode_name(tnode: Mapping) -> str:
    for value in (tnode.get("name"), _get(tnode, "spec", "nodeName"), _get(tnode, "metadata", "name")):
        if isinstance(value, str) and value:
            return value
    return ""


def _deleted(tnode: Mapping) -> bool:
    return tnode.get("deleted") is True or _get(tnode, "status", "deleted") is True


def _most_of_the_internet(addresses: AddressSet) -> bool:
    """Whether an "everyone" entry still admits at least half an address family once earlier rules
    (rule 1 `never` 10/8) or the junction path's policies (a root admitting only 10.20/16) have
    narrowed it: the former is still the world, the latter is judged by the addresses it admits."""
    return any(
        sum(last - first + 1 for first, last in ranges) * 2 >= total
        for ranges, total in ((addresses.v4, 2**32), (addresses.v6, 2**128))
    )
