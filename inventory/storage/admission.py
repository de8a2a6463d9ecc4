"""Who each volume's access control admits, and what each admitted party is to the cluster.

For an NFS volume, the parties are those of its own export policy narrowed by every policy its
junction path traverses (ONTAP's evaluation: first match, `never`, protocols, flavors); for a
LUN the initiators of the igroups it is mapped to (nested igroups expanded); for an NVMe
namespace its subsystem's hosts; for a SolidFire volume its access groups' initiators and the
CHAP account that admits whoever holds the account's secret.  Each party gets a verdict against
the cluster's node set: node, stale-node, foreign, wildcard, chap-account, unverifiable or
unparseable.
"""

from .export_policy import ExportPolicy, admitted_along_path
from .join import Gate, Resolution
from .node_set import NodeSet, Verdict, chap_account_verdict
from .state import SnapshotState

MAX_NETWORKS_SHOWN = 8
POLICY_GATES = ("export-policy", "cloud-rule")
INITIATOR_GATES = ("igroup", "nvme-subsystem", "access-group")


def node_set_of(state: SnapshotState) -> NodeSet:
    departed = state.departed_nodes.values()
    return NodeSet.from_objects(
        state.of_kind("Node").values(),
        state.of_kind("TridentNode").values(),
        earlier_nodes=[d["Node"] for d in departed if "Node" in d],
        earlier_trident_nodes=[d["TridentNode"] for d in departed if "TridentNode" in d],
    )


def admitted_parties(resolution: Resolution, nodes: NodeSet) -> list[dict]:
    parties = []
    own = [g for g in resolution.gates if g.kind in POLICY_GATES]
    if own:
        parties += _policy_parties(
            own[0], [g for g in resolution.gates if g.kind == "traversal-policy"], nodes
        )
    for gate in resolution.gates:
        if gate.kind in INITIATOR_GATES:
            parties += [_initiator_party(gate, initiator, nodes) for initiator in gate.initiators]
        elif gate.kind == "chap-account":
            parties.append(
                _party(
                    gate.name,
                    f"{gate.where} account {gate.name} (CHAP)",
                    "write",
                    (),
                    chap_account_verdict(gate.name),
                )
            )
    return parties


def _policy_parties(own: Gate, traversal: list[Gate], nodes: NodeSet) -> list[dict]:
    """`traversal` runs from the nearest parent junction to the SVM root; ONTAP checks root first."""
    policies = [ExportPolicy.from_records(g.rules, g.name) for g in reversed(traversal)]
    policies.append(ExportPolicy.from_records(own.rules, own.name))
    parties = []
    for party in admitted_along_path(policies):
        via = f"{own.where} {own.role} {own.name}, rule {party.rule.index}"
        networks = [str(n) for n in party.networks]
        shown = networks[:MAX_NETWORKS_SHOWN] + (
            [f"… {len(networks) - MAX_NETWORKS_SHOWN} more"] if len(networks) > MAX_NETWORKS_SHOWN else []
        )
        entry = _party(party.entry.text, via, party.grant.label, party.protocols, nodes.verdict(party))
        entry["addresses"] = shown
        if party.may_be_preempted_by:
            entry["note"] = "an earlier rule naming hosts by name may decide first: " + ", ".join(
                f"rule {rule.index}" for rule in party.may_be_preempted_by
            )
        parties.append(entry)
    return parties


def _initiator_party(gate: Gate, initiator: str, nodes: NodeSet) -> dict:
    via = f"{gate.where} {gate.kind.replace('-', ' ')} {gate.name}"
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
