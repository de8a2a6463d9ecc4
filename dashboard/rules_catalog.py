"""The rules page's reader: the catalog (exposure/catalog.py, what `manage.py rules` prints) with, for
the reader's clusters, each rule's effective severity and whether it is on, and the open findings of
each rule they may see (the number the findings list filtered by that rule shows)."""

import re

from django.db.models import Count

from dashboard.queries import visible_clusters, visible_findings
from exposure.catalog import catalog
from exposure.findings import by_status
from exposure.models import RuleSetting
from tenancy.scope import Scope

_CODE = re.compile(r"`([^`]+)`")
# The catalog's texts, whose `code` the page shows as code.
SHOWN_AS_TEXT = ("title", "guideline", "fires_when", "attributed_to", "evidence_key", "remediation")


def code_segments(text: str) -> list[tuple[bool, str]]:
    """rules.md's text as (is code, text) pieces: the page shows `code` as code, all of it escaped."""
    pieces = _CODE.split(text)
    return [(index % 2 == 1, piece) for index, piece in enumerate(pieces) if piece]


def catalog_rows(scope: Scope) -> list[dict]:
    """Every rule, in rules.md's order, as the reader sees it.  Three queries, whatever the number of
    clusters, rules or findings."""
    clusters = list(visible_clusters(scope).order_by("name").values_list("pk", "name"))
    settings: dict[str, dict[int, tuple[str, bool]]] = {}
    for cluster_id, rule, severity, enabled in (
        RuleSetting.objects.restrict(scope)
        .filter(cluster_id__in=[pk for pk, _ in clusters])
        .values_list("cluster_id", "rule", "severity", "enabled")
    ):
        settings.setdefault(rule, {})[cluster_id] = (severity, enabled)
    # The findings page's default (status open: open and not suppressed), over what the reader sees.
    open_findings = by_status(visible_findings(scope), "open")
    counted = dict(open_findings.order_by().values_list("rule").annotate(n=Count("pk", distinct=True)))
    rows = []
    for row in catalog():
        decided = settings.get(row["slug"], {})
        on_clusters = []
        for cluster_id, name in clusters:
            severity, enabled = decided.get(cluster_id, ("", True))
            on_clusters.append(
                {
                    "cluster": name,
                    "severity": severity or row["severity"],
                    "overridden": bool(severity) and severity != row["severity"],
                    "enabled": enabled,
                }
            )
        rows.append(
            {
                **row,
                **{key: code_segments(row[key]) for key in SHOWN_AS_TEXT},
                "clusters": on_clusters,
                "as_default": all(c["enabled"] and not c["overridden"] for c in on_clusters),
                "open_findings": counted.get(row["slug"], 0),
            }
        )
    return rows


def sections(rows: list[dict]) -> list[tuple[str, list[dict]]]:
    """The rows grouped by rules.md's sections, in order."""
    grouped: dict[str, list[dict]] = {}
    for row in rows:
        grouped.setdefault(row["section"], []).append(row)
    return list(grouped.items())
