import pytest

from tests.rules_md import MISSION_COPY, REPO_COPY, rule_slugs


def test_repo_copy_of_rules_md_matches_the_mission():
    if not MISSION_COPY.exists():
        pytest.skip(f"no mission folder beside this checkout ({MISSION_COPY})")
    assert REPO_COPY.read_text(encoding="utf-8") == MISSION_COPY.read_text(encoding="utf-8"), (
        "docs/rules.md is out of date: copy ../shared/mission/rules.md over it"
    )


def test_all_rules_parse():
    slugs = rule_slugs()
    assert {"volume-shared-across-tenants", "uid-gid-not-a-boundary", "chap-secrets-readable"} <= slugs
    assert len(slugs) == 26
