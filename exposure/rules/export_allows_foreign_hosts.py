"""`export-allows-foreign-hosts`: an export rule on a PV's policy admits hosts outside the node set.

The evaluation (first match, `never`, protocols, junction-path narrowing, `a.b.c.d/255.255.0.0`,
`::ffff:` forms) is the arrays app's (arrays/client_match.py, export_policy.py); this rule judges
the parties it admitted.  Judgements:
- Foreign, wildcard, unverifiable (hostnames, `.domain`, `@netgroup`: named as such, never guessed)
  and unparseable client entries all fire; a departed node's address is `stale-node-access`'s, not
  counted here (rules.md: a stale client is not also counted foreign).
- Critical when the rule grants those hosts write and root: superuser `any`/`sys`, or
  `anonymous_user` 0, which makes every squashed user root.  A cloud backend's `exportRule` is
  always read-write with root (Trident's ANF/GCNV drivers), so it is critical whenever it fires.
- One finding per policy and rule index (per cloud backend's exportRule), not per PV, attributed
  to every namespace whose PV that rule admits such hosts to.
"""

from arrays.export_policy import Access, ExportRule
from exposure.analysis.array_exposure import (
    BEYOND_NODES,
    access_level,
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

SLUG = "export-allows-foreign-hosts"


def _grants_write_and_root(gate, raw: dict, parties) -> bool:
    if not any(party.get("access") == "root" for _, party in parties):
        return False
    if gate.kind == "cloud-rule":
        return True
    return ExportRule.from_record(raw).grant().access is Access.WRITE


def evaluate(ctx):
    for gate, index, parties in export_rules_admitting(ctx, BEYOND_NODES):
        raw = export_rule(ctx, gate, index)
        severity = "critical" if _grants_write_and_root(gate, raw, parties) else RULE.severity
        clients = party_texts(parties)
        uses = list({use.pv: use for use, _ in parties}.values())
        where = f"rule {index} of {gate_label(gate)}" if gate.kind != "cloud-rule" else gate_label(gate)
        unverifiable = any(p.get("verdict") in ("unverifiable", "unparseable") for _, p in parties)
        paths = [
            outside_path(
                use,
                party.get("party") or "",
                [rule_hop(gate, index, [party.get("party") or ""])],
                access_level(party.get("access")),
                SLUG,
                severity,
                traversal_mitigations(use),
            )
            for use, party in parties
        ]
        notes = sorted({p["note"] for _, p in parties if isinstance(p.get("note"), str)})
        yield Hit(
            identity=(gate.ref, "exportRule" if gate.kind == "cloud-rule" else f"rule {index}"),
            severity=severity,
            title=f"{where} admits hosts outside the cluster's nodes: {', '.join(clients)}",
            namespaces=sorted({use.namespace for use in uses if use.namespace}),
            evidence={
                "gate": gate_label(gate),
                "rule": index,
                **(rule_facts(raw) if raw else {"clients": clients}),
                "parties": sorted({f"{p.get('party')}: {p.get('verdict')}" for _, p in parties}),
            },
            paths=paths,
            objects=objects_of(ctx, uses, gate.ref),
            arrays={gate.array} if gate.array else set(),
            detail="; ".join(
                verdict_lines(parties)
                + notes
                + (
                    ["names cannot be shown to be nodes only: unverifiable, not guessed"]
                    if unverifiable
                    else []
                )
            ),
        )


RULE = Rule(
    slug=SLUG,
    severity="high",
    guideline="Backends accept only the cluster's worker nodes: an export admits no other host.",
    remediation=(
        "Restrict the export policy to the cluster's nodes: replace 0.0.0.0/0, wide subnets, hostnames, "
        "domains and netgroups by the worker nodes' addresses, or let Trident manage the policy "
        "(autoExportPolicy: true with autoExportCIDRs set to the node network). For Azure NetApp Files "
        "and Google Cloud NetApp Volumes backends, set exportRule to the node addresses: its default "
        "is 0.0.0.0/0."
    ),
    evidence_key="the rule's clients, protocols and flavors, and the verdict on each admitted party",
    reads=ARRAY_GATE_KINDS,
    evaluate=evaluate,
    reads_arrays=True,
    attributed_to="each namespace whose PV uses that policy",
)
