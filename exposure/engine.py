"""Run every enabled rule over one snapshot's context: the hits, and the rules that failed.

A rule that raises on odd input does not stop the others; it is reported, and its findings are not
resolved by this snapshot (no false all-clear).
"""

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from exposure.analysis.context import Context
from exposure.rules import ALL_RULES, Hit, Rule
from inventory.sources.parsing import gc_paused

logger = logging.getLogger(__name__)


@dataclass
class Evaluation:
    hits: dict[str, list[Hit]] = field(default_factory=dict)  # slug -> hits
    failed: dict[str, str] = field(default_factory=dict)  # slug -> what went wrong
    skipped: list[str] = field(default_factory=list)  # disabled by the admin
    seconds: dict[str, float] = field(default_factory=dict)  # slug -> time spent (the bench reports it)
    # Rules judged in some namespaces only (their hits there; elsewhere what they found stands).
    within: dict[str, frozenset[str]] = field(default_factory=dict)

    def all_hits(self) -> list[tuple[Rule, Hit]]:
        by_slug = {rule.slug: rule for rule in ALL_RULES}
        return [(by_slug[slug], hit) for slug, hits in self.hits.items() for hit in hits]


def evaluate(
    context: Context,
    rules: list[Rule] | None = None,
    unchanged: frozenset[str] = frozenset(),
    within: Mapping[str, frozenset[str]] | None = None,
) -> Evaluation:
    """`unchanged`: rules not to run, none of their inputs having changed; `within`: rules to judge in
    these namespaces only, their other inputs unchanged (exposure/analyse.py)."""
    # The rules build hundreds of thousands of small acyclic objects (paths, hops, indexes) beside a
    # snapshot's millions of inventory containers: with the cyclic collector on, each full collection
    # rescans all of them, a third of the rules' time at 200 namespaces.
    with gc_paused():
        return _evaluate(context, rules, unchanged, within or {})


def _evaluate(
    context: Context,
    rules: list[Rule] | None,
    unchanged: frozenset[str],
    within: Mapping[str, frozenset[str]],
) -> Evaluation:
    evaluation = Evaluation()
    settings = context.settings
    for rule in rules or ALL_RULES:
        if rule.slug in unchanged:
            continue
        if rule.slug in settings.disabled_rules:
            evaluation.skipped.append(rule.slug)
            continue
        started = time.monotonic()
        context.judged_namespaces = namespaces = within.get(rule.slug)
        try:
            hits = list(rule.evaluate(context))
            if namespaces is not None:
                _check_within(hits, namespaces)
        except Exception as error:  # one rule's bug or odd input must not blind the others
            logger.exception("rule %s failed", rule.slug)
            evaluation.failed[rule.slug] = f"{type(error).__name__}: {error}"
            continue
        finally:
            context.judged_namespaces = None
            evaluation.seconds[rule.slug] = round(time.monotonic() - started, 3)
            context.forget_own(rule.slug)
        if namespaces is not None:
            evaluation.within[rule.slug] = namespaces
        override = settings.severity_overrides.get(rule.slug)
        if override:
            for hit in hits:
                if hit.violation:
                    hit.severity = override
        evaluation.hits[rule.slug] = hits
    return evaluation


def _check_within(hits: list[Hit], namespaces: frozenset[str]) -> None:
    """A rule judged in some namespaces must find only hits about one of them: any other would be
    recorded beside the findings that stand (the rule then fails, holding its findings open)."""
    for hit in hits:
        if len(hit.namespaces) != 1 or hit.namespaces[0] not in namespaces:
            raise ValueError(f"judged in {len(namespaces)} namespaces, it found a hit about {hit.namespaces}")
