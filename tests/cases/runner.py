"""Runs one case folder (see README.md beside this file): import, analyse, compare."""

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import yaml

from exposure.analysis.context import Context
from exposure.analysis.settings import AnalysisSettings
from exposure.engine import Evaluation, evaluate
from exposure.models import RuleSetting
from exposure.rules import RULES
from inventory.importing import import_dump
from inventory.models import Cluster
from inventory.state import SnapshotState

CASES = Path(__file__).resolve().parent
BASE = CASES / "base"
DEFAULT_TENANT_LABEL = "team"
TAKEN_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def case_folders() -> list[Path]:
    return sorted(p.parent for p in CASES.rglob("case.yaml") if BASE not in p.parents)


def load_case(folder: Path) -> dict:
    return yaml.safe_load((folder / "case.yaml").read_text()) or {}


def assemble(folder: Path, into: Path, case: dict) -> Path:
    """The base's files, minus `drop_base`, with the case's own files over them."""
    dropped = set(case.get("drop_base") or ())
    for source in (BASE, folder):
        for path in source.rglob("*"):
            relative = path.relative_to(source)
            if path.is_dir() or relative.parts[0] not in ("kubernetes", "backends"):
                continue
            if source is BASE and str(relative) in dropped:
                continue
            target = into / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    return into


def configure_cluster(name: str, case: dict) -> Cluster:
    settings = {"tenant_label": DEFAULT_TENANT_LABEL, **(case.get("cluster") or {})}
    cluster = Cluster.objects.create(name=name, source=Cluster.Source.OFFLINE)
    for key, value in settings.items():
        setattr(cluster, key, value)
    cluster.save()
    for setting in case.get("rule_settings") or []:
        RuleSetting.objects.create(cluster=cluster, **setting)
    return cluster


def run_case(folder: Path, workdir: Path, name: str = "case") -> tuple[Context, Evaluation]:
    case = load_case(folder)
    cluster = configure_cluster(name, case)
    snapshot = import_dump(cluster.name, assemble(folder, workdir, case), taken_at=TAKEN_AT)
    assert snapshot.is_visible, f"{folder.name}: the import failed: {snapshot.error}"
    context = Context(SnapshotState.load(snapshot), AnalysisSettings.for_cluster(cluster))
    return context, evaluate(context)


def violations(evaluation: Evaluation, slug: str) -> list:
    return [hit for hit in evaluation.hits.get(slug, []) if hit.violation]


CASE_KEYS = {"why", "cluster", "rule_settings", "drop_base", "fires", "allow", "quiet"}
MATCH_KEYS = {"rule", "about", "namespaces", "severity"}
# Per list: the keys an entry may have, and the ones it must have.
ENTRY_KEYS = {
    "fires": (MATCH_KEYS, {"rule", "namespaces", "severity"}),
    "allow": (MATCH_KEYS | {"why"}, {"rule", "namespaces", "severity", "why"}),
    "quiet": (MATCH_KEYS, {"rule"}),
}


def _matches(hit, expected: dict) -> bool:
    if expected.get("about") and not any(expected["about"] in part for part in hit.identity):
        return False
    if "namespaces" in expected and sorted(hit.namespaces) != sorted(expected["namespaces"]):
        return False
    return "severity" not in expected or hit.severity == expected["severity"]


def _said(hit) -> tuple:
    return (hit.identity, hit.namespaces, hit.severity)


def _as_entry(slug: str, hit) -> str:
    """A violation as a `fires`/`allow` entry the author can paste (the full identity beside it)."""
    about, namespaces = json.dumps(hit.identity[0]), ", ".join(hit.namespaces)
    entry = f"{{rule: {slug}, about: {about}, namespaces: [{namespaces}], severity: {hit.severity}}}"
    return f"{entry}  (identity {hit.identity})"


def _malformed(case: dict) -> list[str]:
    """Entries the matcher would read wrongly or not at all: a closed world admits no typos."""
    problems = [f"case.yaml: unknown key {key}" for key in sorted(set(case) - CASE_KEYS)]
    for kind, (allowed, required) in ENTRY_KEYS.items():
        for entry in case.get(kind) or []:
            if not isinstance(entry, dict):
                problems.append(f"{kind} entry {entry!r} is not a mapping")
                continue
            problems += [f"{kind} entry {entry} lacks {key}" for key in sorted(required - set(entry))]
            problems += [f"{kind} entry {entry}: unknown key {key}" for key in sorted(set(entry) - allowed)]
            if "rule" in entry and entry["rule"] not in RULES:
                problems.append(f"{kind} entry {entry}: there is no rule {entry['rule']}")
    return problems


def mismatches(case: dict, evaluation: Evaluation) -> list[str]:
    """What the case expected and did not get, and what it got and did not expect, in words a failing
    test can print.  Closed world (see README.md): each `fires` entry matches exactly one violation,
    of its own; every other violation is matched by an `allow` entry, each of which matches at least one."""
    problems = [f"rule {slug} failed: {error}" for slug, error in evaluation.failed.items()]
    if malformed := _malformed(case):
        return problems + malformed
    raised = [(slug, hit) for slug, hits in evaluation.hits.items() for hit in hits if hit.violation]
    claimed: dict[int, dict] = {}  # id(hit) -> the fires entry that pins it
    for expected in case.get("fires") or []:
        found = [hit for slug, hit in raised if slug == expected["rule"] and _matches(hit, expected)]
        if not found:
            seen = [_said(h) for h in violations(evaluation, expected["rule"])]
            problems.append(f"expected {expected} to fire; the rule's violations: {seen}")
        elif len(found) > 1:
            seen = [_said(h) for h in found]
            problems.append(f"fires entry {expected} matches {len(found)} violations, not one: {seen}")
        for hit in found:
            if id(hit) in claimed:
                problems.append(
                    f"more than one fires entry matches {_said(hit)}: {claimed[id(hit)]}, {expected}"
                )
            claimed[id(hit)] = expected
    unclaimed = [(slug, hit) for slug, hit in raised if id(hit) not in claimed]
    allowed: set[int] = set()
    for entry in case.get("allow") or []:
        found = [hit for slug, hit in unclaimed if slug == entry["rule"] and _matches(hit, entry)]
        if not found:
            problems.append(f"allow entry {entry} allows no violation (none left that no fires entry pins)")
        allowed |= set(map(id, found))
    problems += [
        f"unlisted violation: {_as_entry(slug, hit)}" for slug, hit in unclaimed if id(hit) not in allowed
    ]
    for quiet in case.get("quiet") or []:
        loud = [h for h in violations(evaluation, quiet["rule"]) if _matches(h, quiet)]
        if loud:
            problems.append(f"expected no {quiet}; got {[_said(h) for h in loud]}")
    return problems
