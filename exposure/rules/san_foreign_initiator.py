"""`san-foreign-initiator`: an igroup, NVMe subsystem or SolidFire access group guarding a PV's
LUN, namespace or volume lists an initiator (IQN, NQN, WWPN) of no current node.

Nested igroups are expanded by the join; an initiator reached through one is shown with it.
Judgements: a departed node's initiator is `stale-node-access`'s, not counted here; a listed name
that is no IQN/EUI/NAA/NQN/WWPN (`unparseable`) belongs to no node either and fires, marked so; so
does a group whose members cannot be read (`unverifiable`: a list field of the wrong type, a nested
igroup missing from the array's answer), which may admit anyone.
SolidFire CSI volumes are admitted by their tenant account's CHAP secret (`chap-account` parties,
`chap-secrets-readable`'s concern), never here; a CSI volume that also sits in an access group is
judged by that group like any other.  One finding per group, attributed to each namespace whose
PV it guards.
"""

from exposure.analysis.array_exposure import INITIATOR_GATES, gate_label, gates, objects_of, outside_path
from exposure.analysis.paths import Hop
from exposure.rules.base import ARRAY_GATE_KINDS, Hit, Rule

SLUG = "san-foreign-initiator"
NO_NODE = ("foreign", "unparseable", "unverifiable")


def evaluate(ctx):
    for gate in gates(ctx, INITIATOR_GATES):
        parties = [
            (use, party)
            for _, admitted in sorted(gate.parties.items())
            for use, party in admitted
            if party.get("verdict") in NO_NODE
        ]
        if not parties:
            continue
        initiators = sorted({str(p.get("party")) for _, p in parties})
        uses = list({use.pv: use for use, _ in parties}.values())
        yield Hit(
            identity=(gate.ref,),
            severity=RULE.severity,
            title=f"{gate_label(gate)} lists initiators of no node: {', '.join(initiators)}",
            namespaces=sorted({use.namespace for use in uses if use.namespace}),
            evidence={
                "gate": gate_label(gate),
                "initiators": initiators,
                "verdicts": sorted({f"{p.get('party')}: {p.get('verdict')}" for _, p in parties}),
            },
            paths=[
                outside_path(
                    use,
                    f"a host presenting {party.get('party')}",
                    [Hop(gate.ref, f"initiator {party.get('party')} ({party.get('via')})")],
                    "write",
                    SLUG,
                    RULE.severity,
                )
                for use, party in parties
            ],
            objects=objects_of(ctx, uses, gate.ref),
            arrays={gate.array},
            detail="; ".join(
                sorted({f"{p.get('party')} via {p.get('via')}: {p.get('detail')}" for _, p in parties})
            ),
        )


RULE = Rule(
    slug=SLUG,
    severity="high",
    guideline="Backends accept only the cluster's worker nodes: a LUN is mapped to no other initiator.",
    remediation=(
        "Remove the initiator from the igroup (and from any igroup nested in it), the NVMe subsystem's "
        "hosts or the SolidFire volume access group, or move the host's LUNs to a group of their own. "
        "Let Trident manage igroups (one per node) for its volumes."
    ),
    evidence_key="the initiators of no node the group lists",
    reads=ARRAY_GATE_KINDS,
    evaluate=evaluate,
    reads_arrays=True,
    attributed_to="each namespace whose PV uses it",
)
