"""The rule catalog: every rule as people look it up (`manage.py rules`, the dashboard's rules page).

One row per rule, in rules.md's order: its slug, a title (the first sentence of its module's
docstring), its default severity, the guideline it enforces, what makes it fire and the section
(rules.md's tables), whom it is attributed to, the kinds it reads, its evidence key and remediation.
Nothing here depends on a cluster or a reader: per-cluster settings and findings are the pages'
(dashboard/rules_catalog.py).
"""

import inspect
import re
from functools import cache
from pathlib import Path

from exposure.rules import ALL_RULES, Rule
from inventory.constants import ARRAY_RECORDS  # how `reads` names a rule's dependence on the arrays

RULES_MD = Path(__file__).resolve().parents[1] / "docs" / "rules.md"
_TABLE_ROW = re.compile(r"^\|\s*`(?P<slug>[a-z0-9-]+)`\s*\|(?P<cells>.*)\|\s*$")


def title_of(rule: Rule) -> str:
    """The first sentence of the rule module's docstring, without its "`slug`: " prefix."""
    doc = inspect.getmodule(rule.evaluate).__doc__ or ""
    paragraph = " ".join(doc.strip().split("\n\n", 1)[0].split())
    paragraph = paragraph.removeprefix(f"`{rule.slug}`:").strip()
    sentence = re.split(r"(?<=\.)\s", paragraph, maxsplit=1)[0]
    return sentence[:1].upper() + sentence[1:]


@cache
def rules_md_rows() -> dict[str, dict[str, str]]:
    """slug -> the section of rules.md that lists it and its "what makes it fire" cell."""
    found, section = {}, ""
    for line in RULES_MD.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif match := _TABLE_ROW.match(line):
            cells = [cell.strip() for cell in match.group("cells").split(" | ")]
            if len(cells) == 3:
                found[match.group("slug")] = {"section": section, "fires_when": cells[1]}
    return found


def catalog() -> list[dict]:
    """Every rule, in rules.md's order."""
    return [
        {
            "slug": rule.slug,
            "title": title_of(rule),
            "severity": rule.severity,
            "guideline": rule.guideline,
            "section": rules_md_rows().get(rule.slug, {}).get("section", ""),
            "fires_when": rules_md_rows().get(rule.slug, {}).get("fires_when", ""),
            "attributed_to": rule.attributed_to,
            "reads": list(rule.reads) + ([ARRAY_RECORDS] if rule.reads_arrays else []),
            "evidence_key": rule.evidence_key,
            "remediation": rule.remediation,
        }
        for rule in ALL_RULES
    ]
