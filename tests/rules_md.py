"""The rule slugs of rules.md, parsed rather than retyped, so tests notice a rule left out.

The repo keeps a copy in docs/rules.md (the mission folder is not part of a clone);
test_rules_md checks the copy against the mission's when that is beside the checkout.
"""

import re
from pathlib import Path

REPO_COPY = Path(__file__).resolve().parents[1] / "docs" / "rules.md"
MISSION_COPY = Path(__file__).resolve().parents[2] / "shared" / "mission" / "rules.md"


def rule_slugs(path: Path = REPO_COPY) -> set[str]:
    slugs = set(re.findall(r"^\| `([a-z0-9-]+)` \|", path.read_text(encoding="utf-8"), flags=re.MULTILINE))
    assert len(slugs) >= 25, f"{path} could not be parsed into rule slugs"
    return slugs
