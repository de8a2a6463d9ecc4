"""`export-root-squash-disabled`: an export rule lets root stay root for hosts beyond the node set.

Judgements: root is kept when the rule's `superuser` flavors match the client's (`any`, or `sys`
for AUTH_SYS, the flavor any host can use without a secret), and also when `anonymous_user` is 0:
squashed users then become uid 0 anyway, so root squash protects nothing (ONTAP's evaluation in
arrays/export_policy.py labels both `root`).  "Beyond the node set" means the foreign,
wildcard, unverifiable and unparseable parties; a departed node's address is `stale-node-access`'s.
A cloud backend's exportRule always keeps root (Trident creates it so), so it fires whenever it
admits such hosts.  One finding per policy and rule index, attributed to every namespace whose PV
it exposes.
"""

from exposure.analysis.array_exposure import (
    BEYOND_NODES,
    export_rule,
    export_rules_admitting,
    gate_label,
    objects_of,
    outside_path,
    party_texts,
    rule_facts,
    rule_hop,
    traversal_mitigations,
    verdict_lines,
)
from exposure.rules.base import ARRAY_GATE_KINDS, Hit, Rule

SLUG = "export-root-squash-disabled"


def evaluate(ctx):
    for gate, index, admitted in export_rules_admitting(ctx, BEYOND_NODES):
        parties = [(use, party) for use, party in admitted if party.get("access") == "root"]
        if not parties:
            continue
        raw = export_rule(ctx, gate, index)
        clients = party_texts(parties)
        uses = list({use.pv: use for use, _ in parties}.values())
        where = f"rule {index} of {gate_label(gate)}" if gate.kind != "cloud-rule" else gate_label(gate)
        why = (
            f"anonymous_user {raw.get('anonymous_user')} maps squashed users to root"
            if str(raw.get("anonymous_user", "")).strip() in ("0", "root")
            else f"superuser {raw.get('superuser') or ['any']}"
        )
        yield Hit(
            identity=(gate.ref, "exportRule" if gate.kind == "cloud-rule" else f"rule {index}"),
            severity=RULE.severity,
            title=f"{where} keeps root for hosts outside the cluster's nodes: {', '.join(clients)}",
            namespaces=sorted({use.namespace for use in uses if use.namespace}),
            evidence={
                "gate": gate_label(gate),
                "rule": index,
                **(rule_facts(raw) if raw else {"clients": clients, "superuser": ["any"]}),
                "parties": sorted({f"{p.get('party')}: {p.get('verdict')}" for _, p in parties}),
            },
            paths=[
                outside_path(
                    use,
                    party.get("party") or "",
                    [rule_hop(gate, index, [party.get("party") or ""])],
                    "root",
                    SLUG,
                    RULE.severity,
                    traversal_mitigations(use),
                )
                for use, party in parties
            ],
            objects=objects_of(ctx, uses, gate.ref),
            arrays={gate.array} if gate.array else set(),
            detail="; ".join([why, *verdict_lines(parties)]),
        )


RULE = Rule(
    slug=SLUG,
    severity="medium",
    guideline="Backends accept only the cluster's worker nodes, and no other host is root on a volume.",
    remediation=(
        "Set the rule's superuser to none (root squash) for every client that is not a worker node, and "
        "keep anonymous_user at 65534: better, restrict the rule's clients to the nodes. Trident's own "
        "rules keep root for the nodes they list, which the nodes need."
    ),
    evidence_key="the rule's clients and superuser flavors (and anonymous user), and each party's verdict",
    reads=ARRAY_GATE_KINDS,
    evaluate=evaluate,
    reads_arrays=True,
    attributed_to="each namespace whose PV uses that policy",
)
