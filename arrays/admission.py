"""Who each volume's access control admits, and what each admitted party is to the cluster.

For an NFS volume, the parties are those of its own export policy narrowed by every policy its
junction path traverses (ONTAP's evaluation: first match, `never`, protocols, flavors); for a
LUN the initiators of the igroups it is mapped to (nested igroups expanded); for an NVMe
namespace its subsystem's hosts; for a SolidFire volume its access groups' initiators and the
CHAP account that admits whoever holds the account's secret.  Each party gets a verdict against
the cluster's node set: node, stale-node, foreign, wildcard, chap-account, unverifiable or
unparseable.
"""

import logging

import orjson

from arrays.export_policy import ExportPolicy, admitted_along_path, policy_of
from arrays.join import Gate, Resolution
from arrays.node_set import NodeSet, Verdict, chap_account_verdict, unreadable_verdict
from arrays.process_cache import BoundedCache
from inventory.kept_fields import digest_of
from inventory.state import SnapshotState

logger = logging.getLogger(__name__)

MAX_NETWORKS_SHOWN = 8
POLICY_GATES = ("export-policy", "cloud-rule")
INITIATOR_GATES = ("igroup", "nvme-subsystem", "access-group")
NO_RULES_DIGEST = digest_of(orjson.dumps([]))

# The parties of each chain of rules, with their verdicts, for one node set (named by the digest of
# the node objects it is made of): a worker's next snapshot evaluates only new chains, or all of
# them when the nodes changed.  Shared like the parties of one snapshot (never modified).
_CHAIN_PARTIES: BoundedCache[list[tuple[int, dict]]] = BoundedCache(maxsize=16384)


def node_set_of(state: SnapshotState) -> NodeSet:
    departed = state.departed_nodes.values()
    return NodeSet.from_objects(
        state.of_kind("Node").values(),
        state.of_kind("TridentNode").values(),
        earlier_nodes=[d["Node"] for d in departed if "Node" in d],
        earlier_trident_nodes=[d["TridentNode"] for d in departed if "TridentNode" in d],
    )


class Admissions:
    """Admitted parties of a snapshot's volumes.  Many volumes share their policies (the SVM root's,
    a backend's, a static one) or policies of the same rules (Trident's per-volume ones) and their
    igroups: each chain of rules is evaluated once per snapshot, and the parties of a chain of named
    policies, or of an initiator of a named group, are made once and shared by the volumes behind
    them (never modified: records are read, and stored as JSON).

    `nodes_inputs`: the digest of the node objects `nodes` is made of (arrays/volume_access.py);
    given, each chain's parties are kept for the worker's next snapshots (`_CHAIN_PARTIES`)."""

    def __init__(self, nodes: NodeSet, nodes_inputs: str | None = None):
        self.nodes, self.nodes_inputs = nodes, nodes_inputs
        self._evaluated: dict[tuple[bytes, ...], list[tuple[int, dict]]] = {}
        self._chains: dict[tuple, list[dict]] = {}
        self._initiators: dict[tuple, dict] = {}
        self._groups: dict[tuple, list[dict]] = {}
        self._joined: dict[tuple[int, ...], tuple[tuple, list[dict]]] = {}
        self._warned: set[tuple[str, bytes]] = set()
        self._rules_bytes: dict[int, tuple[list, bytes]] = {}
        self._rules_digests: dict[bytes, str] = {}

    def of(self, resolution: Resolution) -> list[dict]:
        """The volume's admitted parties: its segments (`segments_of`) joined, one list for each
        sequence of segments, shared by the volumes it admits, so that what is worked out of a
        party list is worked out once per list (arrays/party_lists.py) where the records are these."""
        return self.joined(self.segments_of(resolution))

    def joined(self, segments: tuple[list[dict], ...]) -> list[dict]:
        """The concatenation of `segments`, once per sequence of them (held here with it, so that no
        segment's identity names another list meanwhile)."""
        if len(segments) == 1:
            return segments[0]
        key = tuple(map(id, segments))
        held = self._joined.get(key)
        if held is None:
            held = self._joined[key] = (segments, [party for segment in segments for party in segment])
        return held[1]

    def segments_of(self, resolution: Resolution) -> tuple[list[dict], ...]:
        """The volume's admitted parties in segments, in evaluation order, each non-empty: its chain
        of policies' parties, then each gate's.  A segment is made once and shared by every volume
        behind the same chain or the same group (an igroup of every node lists a party per node),
        so each is serialised and stored once (arrays/stored_parties.py), not once per volume."""
        segments: list[list[dict]] = []
        own = [g for g in resolution.gates if g.kind in POLICY_GATES]
        if own:
            # A traversal policy whose rules cannot be read may let anyone through: it narrows nothing.
            traversal = [g for g in resolution.gates if g.kind == "traversal-policy" and not g.unreadable]
            rules = tuple(self._serialised(g.rules) for g in (own[0], *traversal))
            key = (
                own[0].where,
                own[0].role,
                own[0].name,
                *((g.where, g.role, g.name) for g in traversal),
                rules,
            )
            if key not in self._chains:
                self._chains[key] = self._named(own[0], traversal, rules)
            segments.append(self._chains[key])
            segments.append(
                [_unreadable_party(own[0], f"{_policy_via(own[0])}unreadable", r) for r in own[0].unreadable]
            )
        for gate in resolution.gates:
            if gate.kind in INITIATOR_GATES:
                segments.append(self._group(gate))
            elif gate.kind == "chap-account":
                verdict = chap_account_verdict(gate.name)
                segments.append(
                    [_party(gate.name, f"{gate.where} account {gate.name} (CHAP)", "write", (), verdict)]
                )
        return tuple(segment for segment in segments if segment)

    def _group(self, gate: Gate) -> list[dict]:
        """An initiator gate's parties (its initiators, then what of it could not be read), once per
        group: every volume mapped to the group shares the list."""
        key = (
            gate.where,
            gate.kind,
            gate.name,
            tuple(gate.initiators),
            tuple(gate.via.items()),
            tuple(gate.unreadable),
        )
        found = self._groups.get(key)
        if found is None:
            found = self._groups[key] = [
                *(self._initiator(gate, initiator) for initiator in gate.initiators),
                *(_unreadable_party(gate, _initiator_via(gate), r) for r in gate.unreadable),
            ]
        return found

    def _named(self, own: Gate, traversal: list[Gate], rules: tuple[bytes, ...]) -> list[dict]:
        """The parties of the own policy `own` behind `traversal` (`rules`: their rules, in that
        order): those their rules admit, named by `own`."""
        # From the SVM root to the volume's own, the order ONTAP checks them in.
        policies = [
            self._policy(g, r) for g, r in zip(reversed((own, *traversal)), reversed(rules), strict=True)
        ]
        if rules not in self._evaluated:
            if self.nodes_inputs is None:
                self._evaluated[rules] = _policy_parties(policies, self.nodes)
            else:
                self._evaluated[rules] = _CHAIN_PARTIES.get_or_make(
                    (self.nodes_inputs, rules), lambda: _policy_parties(policies, self.nodes)
                )
        via = _policy_via(own)
        return [{**party, "via": f"{via}{index}"} for index, party in self._evaluated[rules]]

    def _serialised(self, rules: list) -> bytes:
        """A gate's rules as bytes, once per list: the join gives a policy's gates one list (held
        here with its bytes, so that its id names no other list meanwhile)."""
        held = self._rules_bytes.get(id(rules))
        if held is None:
            held = self._rules_bytes[id(rules)] = (rules, orjson.dumps(rules))
        return held[1]

    def rules_digest(self, rules: list) -> str:
        """The digest of a gate's rules, once per list (a record's inputs name its gates' rules by it)."""
        if not rules:
            return NO_RULES_DIGEST
        serialised = self._serialised(rules)
        found = self._rules_digests.get(serialised)
        if found is None:
            found = self._rules_digests[serialised] = digest_of(serialised)
        return found

    def _initiator(self, gate: Gate, initiator: str) -> dict:
        key = (gate.where, gate.kind, gate.name, initiator, gate.via.get(initiator))
        if key not in self._initiators:
            self._initiators[key] = _initiator_party(gate, initiator, self.nodes)
        return self._initiators[key]

    def _policy(self, gate: Gate, rules: bytes) -> ExportPolicy:
        """The policy of these rules, read once per process; its rules' warnings logged once per
        snapshot and policy name."""
        policy = policy_of(gate.rules, rules)
        if (gate.name, rules) not in self._warned:  # once per snapshot, however many volumes use it
            self._warned.add((gate.name, rules))
            for rule in policy.rules:
                for warning in rule.warnings:
                    logger.warning(
                        "%s export policy %s, rule %s: %s", gate.where, gate.name, rule.index, warning
                    )
        return policy


def _policy_parties(policies: list[ExportPolicy], nodes: NodeSet) -> list[tuple[int, dict]]:
    """`policies` run from the SVM root to the volume's own, the order ONTAP checks them in: each
    party with the index of its rule (its `via` names the own policy: Admissions._named)."""
    parties = []
    for party in admitted_along_path(policies):
        networks = [str(n) for n in party.networks]
        if len(networks) > MAX_NETWORKS_SHOWN:
            networks = networks[:MAX_NETWORKS_SHOWN] + [f"… {len(networks) - MAX_NETWORKS_SHOWN} more"]
        entry = _party(party.entry.text, "", party.grant.label, party.protocols, nodes.verdict(party))
        entry["addresses"] = networks
        if party.may_be_preempted_by:
            entry["note"] = "an earlier rule naming hosts by name may decide first: " + ", ".join(
                f"rule {rule.index}" for rule in party.may_be_preempted_by
            )
        if party.rule.warnings:
            entry["warnings"] = list(party.rule.warnings)
        parties.append((party.rule.index, entry))
    return parties


def _policy_via(gate: Gate) -> str:
    """How a policy party names its gate; the rule's index follows (analysis/array_exposure.py reads it)."""
    return f"{gate.where} {gate.role} {gate.name}, rule "


def _initiator_via(gate: Gate) -> str:
    return f"{gate.where} {gate.kind.replace('-', ' ')} {gate.name}"


def _unreadable_party(gate: Gate, via: str, reason: str) -> dict:
    """Whoever an unreadable part of a gate admits: unknown, so unverifiable (never "no one")."""
    party = "(unreadable)" if gate.kind in INITIATOR_GATES else "(unreadable rules)"
    access = "write" if gate.kind in INITIATOR_GATES else "unknown"
    return _party(party, via, access, (), unreadable_verdict(reason))


def _initiator_party(gate: Gate, initiator: str, nodes: NodeSet) -> dict:
    via = _initiator_via(gate)
    if gate.via.get(initiator) not in (None, gate.name):
        via += f" (through nested igroup {gate.via[initiator]})"
    return _party(initiator, via, "write", (), nodes.verdict_for_initiator(initiator))


def _party(party: str, via: str, access: str, protocols, verdict: Verdict) -> dict:
    return {
        "party": party,
        "via": via,
        "access": access,
        "protocols": list(protocols),
        "verdict": verdict.kind,
        "nodes": list(verdict.nodes),
        "stale_nodes": list(verdict.stale_nodes),
        "foreign_addresses": verdict.foreign_addresses,
        "detail": verdict.detail,
    }
