"""The rules of docs/rules.md, one module each; `ALL_RULES` in the order rules.md lists them.

Each module defines `RULE`.  Discovery is by module, so a rule cannot be registered twice or
forgotten in a list; tests check the slugs against rules.md.
"""

import importlib
import pkgutil

from exposure.rules.base import SEVERITIES, SEVERITY_RANK, Hit, Rule


def _discover() -> dict[str, Rule]:
    found = {}
    for module in pkgutil.iter_modules(__path__):
        if module.name == "base":
            continue
        rule = importlib.import_module(f"{__name__}.{module.name}").RULE
        assert rule.slug.replace("-", "_") == module.name, f"{module.name} defines {rule.slug}"
        found[rule.slug] = rule
    return found


RULES: dict[str, Rule] = _discover()


def _rules_md_order() -> list[str]:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "rules.md").read_text()
    return sorted(RULES, key=lambda slug: text.find(f"| `{slug}` |"))


ALL_RULES: list[Rule] = [RULES[slug] for slug in _rules_md_order()]

__all__ = ["ALL_RULES", "RULES", "SEVERITIES", "SEVERITY_RANK", "Hit", "Rule"]
