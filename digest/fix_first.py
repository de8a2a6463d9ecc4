"""The three paths to fix first: the open findings ranked by severity, then by how many tenants or
hosts they open the data to, then by age (the oldest first).

Breadth is counted over the finding's violation paths into data the reader sees (paths inside a
tenant and from platform workloads raise none): each other tenant once, each outside host or network
once, and an actor that is every namespace at once ranks above any count (over the paths a finding
keeps: exposure.findings.MAX_STORED_PATHS).  It needs the stored paths, read in one query for the
candidates only: the findings of the worst severities present, until there are enough, and at most
MAX_CANDIDATES of them, those with the most paths first.  Breadth counts distinct actors over paths,
so it is at most the path count (save an actor that is every namespace): the bounded read misses a
broader finding only when more than MAX_CANDIDATES of the worst severity have more paths than it, or
it is an every-namespace actor with few paths among them.  Decoding every path of a large estate's
criticals would be most of a digest's time.
"""

from dataclasses import dataclass

import orjson
from django.db.models import TextField
from django.db.models.functions import Cast

from digest.week import FindingWeek
from exposure.models import Finding
from exposure.rules import SEVERITY_RANK
from inventory.refs import EVERYONE, OUTSIDE
from tenancy.scope import Scope

FIX_FIRST = 3
MAX_CANDIDATES = 50


@dataclass(frozen=True)
class Breadth:
    """Whom a finding opens the reader's data to."""

    everyone: bool = False  # an actor that is every namespace at once
    tenants: int = 0  # other tenants
    hosts: int = 0  # outside hosts or networks

    @property
    def rank(self) -> float:
        return float("inf") if self.everyone else self.tenants + self.hosts

    def describe(self) -> str:
        if self.everyone:
            return "every namespace"
        parts = []
        if self.tenants:
            parts.append(f"{self.tenants} other tenant{'s' if self.tenants != 1 else ''}")
        if self.hosts:
            parts.append(f"{self.hosts} outside host{'s or networks' if self.hosts != 1 else ' or network'}")
        return " and ".join(parts)


def breadth(paths: list[dict], scope: Scope, cluster_id: int) -> Breadth:
    everyone, tenants, hosts = False, set(), set()
    for path in paths or []:
        if path.get("inside_tenant") or path.get("platform") or path.get("severity") == "info":
            continue
        if not scope.sees(cluster_id, path.get("namespace", "")):
            continue
        actor = path.get("actor") or {}
        tenant = actor.get("tenant", "")
        if tenant == EVERYONE:
            everyone = True
        elif tenant == OUTSIDE:
            hosts.add(actor.get("identity", ""))
        else:
            tenants.add(tenant)
    return Breadth(everyone, len(tenants), len(hosts))


def _candidates(still_open: list[FindingWeek]) -> list[FindingWeek]:
    """The worst severities' findings, enough to fill FIX_FIRST, the most paths first, bounded."""
    by_severity = sorted(
        still_open, key=lambda f: (-SEVERITY_RANK.get(f.severity, -1), -f.path_count, f.since)
    )
    chosen, severities = [], set()
    for finding in by_severity:
        if len(chosen) >= FIX_FIRST and finding.severity not in severities:
            break
        if len(chosen) >= MAX_CANDIDATES:
            break
        chosen.append(finding)
        severities.add(finding.severity)
    return chosen


def fix_first(still_open: list[FindingWeek], scope: Scope) -> list[tuple[FindingWeek, Breadth]]:
    """The FIX_FIRST findings to fix first, each with its breadth: one query."""
    candidates = _candidates(still_open)
    if not candidates:
        return []
    # As text, parsed by orjson: decoding the candidates' paths is most of a digest's time otherwise.
    stored = (
        Finding.objects.restrict(scope)
        .filter(pk__in=[f.id for f in candidates])
        .order_by()
        .values_list("pk", Cast("paths", TextField()))
    )
    paths = {pk: orjson.loads(text) if text else [] for pk, text in stored}
    measured = [(f, breadth(paths.get(f.id) or [], scope, f.cluster_id)) for f in candidates]
    measured.sort(key=lambda fb: (-SEVERITY_RANK.get(fb[0].severity, -1), -fb[1].rank, fb[0].since, fb[0].id))
    return measured[:FIX_FIRST]
