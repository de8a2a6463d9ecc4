"""Runs one case folder (see README.md beside this file): import, analyse, compare."""

import shutil
from datetime import UTC, datetime
from pathlib import Path

import yaml

from inventory.analysis.context import Context
from inventory.analysis.engine import Evaluation, evaluate
from inventory.analysis.settings import AnalysisSettings
from inventory.importing import import_dump
from inventory.models import Cluster, RuleSetting
from inventory.storage.state import SnapshotState

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


def _matches(hit, expected: dict) -> bool:
    if expected.get("about") and not any(expected["about"] in part for part in hit.identity):
        return False
    if "namespaces" in expected and sorted(hit.namespaces) != sorted(expected["namespaces"]):
        return False
    return "severity" not in expected or hit.severity == expected["severity"]


def mismatches(case: dict, evaluation: Evaluation) -> list[str]:
    """What the case expected and did not get, in words a failing test can print."""
    problems = [f"rule {slug} failed: {error}" for slug, error in evaluation.failed.items()]
    for expected in case.get("fires") or []:
        hits = violations(evaluation, expected["rule"])
        if not any(_matches(hit, expected) for hit in hits):
            seen = [(h.identity, h.namespaces, h.severity) for h in hits]
            problems.append(f"expected {expected} to fire; the rule's violations: {seen}")
    for quiet in case.get("quiet") or []:
        loud = [h for h in violations(evaluation, quiet["rule"]) if _matches(h, quiet)]
        if loud:
            problems.append(
                f"expected no {quiet}; got {[(h.identity, h.namespaces, h.severity) for h in loud]}"
            )
    return problems
