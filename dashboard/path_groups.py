"""A namespace's exposure paths arranged for its page: grouped by who the actor is (hosts outside the
cluster, other tenants' pods, RBAC subjects, any namespace...), then by the rule that judges them; and
the paths that set its grade.

Everything here reads paths already redacted for the reader (tenancy/redaction.py): an actor of
another tenant arrives as "a pod of another tenant", and a group is named by the actor's kind and
its relation to the namespace's trust boundary only.
"""

import json
from dataclasses import dataclass

from exposure.grades import GRADE_BY_SEVERITY
from exposure.rules import SEVERITY_RANK


@dataclass(frozen=True)
class ActorGroup:
    key: str
    label: str
    note: str
    violation: bool  # from outside the namespace's trust boundary

    @property
    def phrase(self) -> str:
        """The label inside a sentence ("3 from other tenants' pods")."""
        return self.label if self.label.split()[0].isupper() else self.label[0].lower() + self.label[1:]


# In the order a page shows them: what comes from outside the trust boundary first.
ACTOR_GROUPS = (
    ActorGroup("outside-hosts", "Hosts outside the cluster", "addresses an export or initiator admits", True),
    ActorGroup(
        "other-pods",
        "Other tenants' pods",
        "on shared nodes, or speaking to the storage network as their node",
        True,
    ),
    ActorGroup("subjects", "RBAC subjects", "users, groups and service accounts outside its tenant", True),
    ActorGroup(
        "any-namespace", "Any namespace", "through unclaimed PVs or volumes shared with everyone", True
    ),
    ActorGroup("nodes", "Nodes", "hosts of the cluster", True),
    ActorGroup("other", "Other actors", "", True),
    ActorGroup("own-tenant", "Its own tenant", "inside its trust boundary: not violations", False),
    ActorGroup("platform", "Platform workloads and identities", "trusted by design: not violations", False),
)
GROUPS = {group.key: group for group in ACTOR_GROUPS}
KIND_GROUPS = {
    "outside-host": "outside-hosts",
    "pod": "other-pods",
    "workload": "other-pods",
    "subject": "subjects",
    "any-namespace": "any-namespace",
    "node": "nodes",
}
ACCESS_RANK = {"metadata": 0, "read": 1, "write": 2, "root": 3}
# Paths listed per rule in a group, the worst first; the rest are counted.  On a large cluster one
# rule brings a namespace a path from each other namespace (600 at 800 namespaces): listing them all
# made the page a megabyte; the diagram draws them all, each finding's page lists its own.
PATHS_LISTED = 25


def group_of(path: dict) -> ActorGroup:
    """The group a (redacted) path's actor falls in."""
    if path.get("platform"):
        return GROUPS["platform"]
    if path.get("inside_tenant"):
        return GROUPS["own-tenant"]
    return GROUPS[KIND_GROUPS.get((path.get("actor") or {}).get("kind"), "other")]


def _worst(paths: list[dict]) -> str:
    return max((p.get("severity", "info") for p in paths), key=lambda s: SEVERITY_RANK.get(s, -1))


def _widest(paths: list[dict]) -> str:
    return max((p.get("access", "") for p in paths), key=lambda a: ACCESS_RANK.get(a, -1))


def grouped_paths(paths: list[dict]) -> list[dict]:
    """The groups that hold any path, in page order; in each, one entry per rule, worst first."""
    by_group: dict[str, dict[str, list[dict]]] = {}
    for path in paths:
        by_group.setdefault(group_of(path).key, {}).setdefault(path.get("rule", ""), []).append(path)
    groups = []
    for group in ACTOR_GROUPS:
        rules = by_group.get(group.key)
        if not rules:
            continue
        entries = [
            {
                "rule": rule,
                "paths": sorted(found, key=lambda p: -SEVERITY_RANK.get(p.get("severity"), -1)),
                "worst": _worst(found),
                "access": _widest(found),
            }
            for rule, found in rules.items()
        ]
        for entry in entries:
            entry["listed"] = entry["paths"][:PATHS_LISTED]
            entry["unlisted"] = len(entry["paths"]) - len(entry["listed"])
        entries.sort(key=lambda e: (-SEVERITY_RANK.get(e["worst"], -1), e["rule"]))
        all_paths = [p for e in entries for p in e["paths"]]
        groups.append(
            {
                "key": group.key,
                "label": group.label,
                "note": group.note,
                "violation": group.violation,
                "count": len(all_paths),
                "worst": _worst(all_paths),
                "rules": entries,
            }
        )
    return groups


def grade_severity(grade: str) -> str:
    """The severity whose open findings give `grade` ("" for A, or no grade)."""
    return {letter: severity for severity, letter in GRADE_BY_SEVERITY.items()}.get(grade, "")


def grade_setting(findings: list[dict], namespace: str, grade: str) -> dict:
    """The open, unsuppressed findings of the grade's severity (the worst ones: they set the grade)
    and their paths into `namespace` (findings as redacted summaries, their paths redacted too).
    Cluster-wide findings grade the cluster, not the namespace (exposure/grades.py)."""
    severity = grade_severity(grade)
    setting = [
        f
        for f in findings
        if severity and f["status"] == "open" and f["severity"] == severity and not f.get("cluster_wide")
    ]
    paths, seen = [], set()
    for finding in setting:
        for path in finding.get("paths") or []:
            key = json.dumps(path, sort_keys=True)  # the same path may explain several findings
            if path.get("namespace") == namespace and key not in seen:
                seen.add(key)
                paths.append(path)
    return {"severity": severity, "findings": setting, "paths": paths}


def with_own_paths(findings: list[dict], namespace: str) -> list[dict]:
    """Each finding with `own_paths`: its (stored, redacted) paths into `namespace` only; a
    cluster-wide finding carries paths into every namespace, which this page need not repeat."""
    return [
        {**f, "own_paths": [p for p in f.get("paths") or [] if p.get("namespace") == namespace]}
        for f in findings
    ]
