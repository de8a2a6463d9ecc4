"""The case table: every folder under tests/cases with a case.yaml, imported and analysed."""

import pytest

from exposure.engine import Evaluation
from exposure.rules import Hit
from tests.cases.runner import CASES, case_folders, load_case, mismatches, run_case
from tests.path_checks import dangling_refs, unexplained

FOLDERS = case_folders()


@pytest.mark.django_db
@pytest.mark.parametrize("folder", FOLDERS, ids=[str(f.relative_to(f.parents[1])) for f in FOLDERS])
def test_case(folder, tmp_path):
    context, evaluation = run_case(folder, tmp_path)
    problems = mismatches(load_case(folder), evaluation)
    assert problems == [], f"{folder.relative_to(CASES)}:\n" + "\n".join(problems)
    assert unexplained(evaluation) == [], "every violation is explained by at least one path"
    assert dangling_refs(context, evaluation) == [], "every path refers only to objects in the snapshot"


# The table is closed-world: what follows proves the runner notices what a case does not say.


def _hit(identity, namespaces, severity="high", violation=True) -> Hit:
    return Hit(
        identity=tuple(identity),
        severity=severity,
        title="fabricated",
        namespaces=list(namespaces),
        evidence={},
        paths=[],
        objects=[],
        violation=violation,
    )


def _evaluation(**hits_by_rule) -> Evaluation:
    return Evaluation(hits={slug.replace("_", "-"): hits for slug, hits in hits_by_rule.items()})


PRIVILEGED = _hit(["Deployment/beta-app/debug-shell", "shell"], ["beta-app", "alpha-db"], "critical")
TUNER = _hit(["Job/beta-app/sysctl-tuner", "sysctl"], ["beta-app"])
REACHABLE = _hit(["Namespace/beta-app"], ["beta-app"], "medium")
PINNED = {
    "rule": "privileged-container",
    "about": "Deployment/beta-app/debug-shell",
    "namespaces": ["alpha-db", "beta-app"],
    "severity": "critical",
}
ALLOWED = {
    "rule": "storage-network-reachable",
    "about": "Namespace/beta-app",
    "namespaces": ["beta-app"],
    "severity": "medium",
    "why": "no NetworkPolicy in the base cluster",
}


def test_every_violation_listed_is_no_mismatch():
    evaluation = _evaluation(privileged_container=[PRIVILEGED], storage_network_reachable=[REACHABLE])
    assert mismatches({"fires": [PINNED], "allow": [ALLOWED]}, evaluation) == []


def test_a_violation_the_case_does_not_list_is_a_mismatch_that_can_be_copied():
    evaluation = _evaluation(privileged_container=[PRIVILEGED, TUNER], storage_network_reachable=[REACHABLE])
    (problem,) = mismatches({"fires": [PINNED], "allow": [ALLOWED]}, evaluation)
    assert "unlisted violation" in problem
    for said in ("privileged-container", "Job/beta-app/sysctl-tuner", "namespaces: [beta-app]", "high"):
        assert said in problem, said


def test_a_violation_of_another_rule_is_unlisted_too():
    evaluation = _evaluation(privileged_container=[PRIVILEGED], storage_network_reachable=[REACHABLE])
    (problem,) = mismatches({"fires": [PINNED]}, evaluation)
    assert "unlisted violation" in problem and "storage-network-reachable" in problem


def test_paths_that_are_no_violation_need_no_entry():
    platform = _hit(["DaemonSet/trident/trident-node-linux", "trident-main"], ["trident"], violation=False)
    evaluation = _evaluation(privileged_container=[PRIVILEGED, platform])
    assert mismatches({"fires": [PINNED]}, evaluation) == []


@pytest.mark.parametrize("missing", ["severity", "namespaces"])
def test_a_fires_entry_must_state_severity_and_namespaces(missing):
    entry = {key: value for key, value in PINNED.items() if key != missing}
    (problem,) = mismatches({"fires": [entry]}, _evaluation(privileged_container=[PRIVILEGED]))
    assert f"lacks {missing}" in problem and "Deployment/beta-app/debug-shell" in problem


def test_a_fires_entry_that_matches_several_violations_is_a_mismatch():
    loose = {**PINNED, "about": "beta-app/", "namespaces": ["beta-app"], "severity": "high"}
    other = _hit(["Deployment/beta-app/other-shell", "shell"], ["beta-app"])
    (problem,) = mismatches({"fires": [loose]}, _evaluation(privileged_container=[TUNER, other]))
    assert "matches 2 violations" in problem


def test_two_fires_entries_for_one_violation_are_a_mismatch():
    again = {**PINNED, "about": "debug-shell"}
    (problem,) = mismatches({"fires": [PINNED, again]}, _evaluation(privileged_container=[PRIVILEGED]))
    assert "more than one fires entry" in problem


def test_an_allow_entry_needs_a_why_and_a_violation_to_allow():
    evaluation = _evaluation(privileged_container=[PRIVILEGED], storage_network_reachable=[REACHABLE])
    unexplained_allow = {key: value for key, value in ALLOWED.items() if key != "why"}
    (problem,) = mismatches({"fires": [PINNED], "allow": [unexplained_allow]}, evaluation)
    assert "lacks why" in problem
    stale = {**ALLOWED, "about": "Namespace/sandbox"}
    problems = mismatches({"fires": [PINNED], "allow": [ALLOWED, stale]}, evaluation)
    assert len(problems) == 1 and "allows no violation" in problems[0] and "Namespace/sandbox" in problems[0]


def test_an_allow_entry_may_cover_several_incidental_violations():
    other = _hit(["Namespace/sandbox"], ["beta-app"], "medium")
    evaluation = _evaluation(storage_network_reachable=[REACHABLE, other])
    everywhere = {key: value for key, value in ALLOWED.items() if key != "about"}
    assert mismatches({"allow": [everywhere]}, evaluation) == []


def test_a_typo_in_a_key_or_a_rule_is_a_mismatch_not_a_silent_pass():
    evaluation = _evaluation(privileged_container=[PRIVILEGED])
    typo_key = mismatches({"fires": [PINNED], "allowed": [ALLOWED]}, evaluation)
    assert len(typo_key) == 1 and "unknown key allowed" in typo_key[0]
    typo_entry = mismatches({"fires": [{**PINNED, "namespace": ["beta-app"]}]}, evaluation)
    assert len(typo_entry) == 1 and "unknown key namespace" in typo_entry[0]
    typo_rule = mismatches({"fires": [PINNED], "quiet": [{"rule": "privileged-containers"}]}, evaluation)
    assert len(typo_rule) == 1 and "no rule privileged-containers" in typo_rule[0]


@pytest.mark.django_db
def test_a_real_case_missing_one_of_its_allow_entries_fails(tmp_path):
    """End to end: drop one incidental violation from a real case and the table notices."""
    folder = CASES / "settings" / "rule-disabled"
    case = load_case(folder)
    _, evaluation = run_case(folder, tmp_path)
    assert mismatches(case, evaluation) == []
    dropped = case["allow"].pop()
    (problem,) = mismatches(case, evaluation)
    assert "unlisted violation" in problem and dropped["about"] in problem
