"""`stale-node-access`: an export rule or initiator that admits only nodes which have left.

The verdict `stale-node` (arrays/node_set.py) is given to a client that matches a
departed node's addresses or initiators and nothing foreign; a client that also admits foreign
addresses is `export-allows-foreign-hosts`'s, never counted twice.  Identity: the export policy and
rule index, or the igroup / NVMe subsystem / access group; the departed clients are the evidence.
Whoever now holds a departed node's address or initiator name is admitted as that node was.
"""

from exposure.analysis.array_exposure import (
    INITIATOR_GATES,
    access_level,
    export_rules_admitting,
    gate_label,
    gates,
    objects_of,
    outside_path,
    party_texts,
    rule_hop,
    traversal_mitigations,
)
from exposure.analysis.paths import Hop
from exposure.rules.base import ARRAY_GATE_KINDS, Hit, Rule

SLUG = "stale-node-access"


def _hit(ctx, gate, identity, where, parties, hop_of):
    uses = list({use.pv: use for use, _ in parties}.values())
    departed = sorted({node for _, p in parties for node in p.get("stale_nodes") or []})
    return Hit(
        identity=identity,
        severity=RULE.severity,
        title=f"{where} still admits departed node{'s' if len(departed) > 1 else ''} "
        f"{', '.join(departed) or '(unknown)'}",
        namespaces=sorted({use.namespace for use in uses if use.namespace}),
        evidence={"gate": gate_label(gate), "clients": party_texts(parties), "departed_nodes": departed},
        paths=[
            outside_path(
                use,
                f"whoever now holds {party.get('party')}",
                [hop_of(party)],
                access_level(party.get("access")),
                SLUG,
                RULE.severity,
                traversal_mitigations(use),
            )
            for use, party in parties
        ],
        objects=objects_of(ctx, uses, gate.ref),
        arrays={gate.array} if gate.array else set(),
        detail="; ".join(sorted({f"{p.get('party')}: {p.get('detail')}" for _, p in parties})),
    )


def evaluate(ctx):
    for gate, index, parties in export_rules_admitting(ctx, ("stale-node",)):
        where = f"rule {index} of {gate_label(gate)}" if gate.kind != "cloud-rule" else gate_label(gate)
        identity = (gate.ref, "exportRule" if gate.kind == "cloud-rule" else f"rule {index}")
        yield _hit(
            ctx, gate, identity, where, parties, lambda p, g=gate, i=index: rule_hop(g, i, [p["party"]])
        )
    for gate in gates(ctx, INITIATOR_GATES):
        parties = [
            (use, party)
            for initiator, admitted in sorted(gate.parties.items())
            for use, party in admitted
            if party.get("verdict") == "stale-node"
        ]
        if parties:
            yield _hit(
                ctx,
                gate,
                (gate.ref,),
                gate_label(gate),
                parties,
                lambda p, g=gate: Hop(g.ref, f"initiator {p.get('party')} ({p.get('via')})"),
            )


RULE = Rule(
    slug=SLUG,
    severity="medium",
    guideline="Backends accept only the cluster's current worker nodes: a node that left loses its access.",
    remediation=(
        "Remove the departed node's addresses from the export policy rule, or its IQN/NQN/WWPN from the "
        "igroup, NVMe subsystem or access group. Rules and igroups Trident manages drop a departed node "
        "by themselves; hand-made ones must be maintained when nodes leave."
    ),
    evidence_key="the departed clients the rule or group still lists",
    reads=ARRAY_GATE_KINDS,
    evaluate=evaluate,
    reads_arrays=True,
    attributed_to="each namespace whose PV uses that policy or group",
)
