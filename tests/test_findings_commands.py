"""`findings`, `rules`, `suppress` and the findings part of `snapshot`, on real-format dumps."""

import io

import orjson
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from exposure.models import Finding
from exposure.rules import ALL_RULES
from tests.cases.runner import CASES, assemble, configure_cluster
from tests.rules_md import rule_slugs

pytestmark = pytest.mark.django_db
API_FIELDS = {
    "id", "rule", "severity", "status", "cluster", "namespaces", "title", "evidence",
    "remediation", "first_seen", "at_least_since", "resolved_at",
}  # fmt: skip


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def imported(tmp_path):
    """The released-PV case imported with `snapshot --from-dump`, as an operator would."""
    folder = CASES / "tenancy" / "pv-released-retained"
    configure_cluster("prod", {})
    dump = assemble(folder, tmp_path / "dump", {})
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_status:
        call_command("snapshot", "--cluster", "prod", "--from-dump", str(dump), stdout=out)
    assert exit_status.value.code == 0
    return out.getvalue()


def test_snapshot_prints_open_findings_per_rule_and_severity(imported):
    assert "findings: 1 open (opened 1" in imported
    row = next(line for line in imported.splitlines() if "pv-released-retained" in line)
    assert row.split()[1:] == ["·", "·", "1", "·", "·"]  # critical high medium low info


def test_findings_json_is_one_array_in_the_api_shape(imported):
    items = orjson.loads(run("findings", "--format", "json"))
    assert len(items) == 1
    (item,) = items
    assert API_FIELDS <= set(item)
    assert (item["rule"], item["severity"], item["status"], item["cluster"]) == (
        "pv-released-retained", "medium", "open", "prod",
    )  # fmt: skip
    assert item["namespaces"] == ["beta-app"] and item["remediation"]
    assert item["at_least_since"].startswith("2025-05-02") and item["resolved_at"] is None


def test_findings_filters(imported):
    assert len(orjson.loads(run("findings", "--format", "json", "--namespace", "beta-app"))) == 1
    assert orjson.loads(run("findings", "--format", "json", "--namespace", "alpha-web")) == []
    assert orjson.loads(run("findings", "--format", "json", "--status", "resolved")) == []
    assert orjson.loads(run("findings", "--format", "json", "--severity", "high")) == []
    assert "pv-released-retained" in run("findings", "--cluster", "prod")
    with pytest.raises(CommandError, match="no cluster named 'nope'"):
        run("findings", "--cluster", "nope")
    with pytest.raises(CommandError, match="no rule"):
        run("findings", "--rule", "no-such-rule")


def test_suppress_then_lift(imported):
    finding = Finding.objects.get()
    with pytest.raises(CommandError, match="needs a reason"):
        run("suppress", str(finding.pk), "--reason", "  ")
    assert "suppressed until" in run("suppress", str(finding.pk), "--reason", "archive kept for legal hold")
    assert orjson.loads(run("findings", "--format", "json")) == []
    (item,) = orjson.loads(run("findings", "--format", "json", "--status", "suppressed"))
    assert item["status"] == "suppressed"
    run("suppress", str(finding.pk), "--lift")
    assert len(orjson.loads(run("findings", "--format", "json"))) == 1


def test_rules_lists_every_rule_with_guideline_and_evidence_key():
    rows = orjson.loads(run("rules", "--format", "json"))
    assert {row["slug"] for row in rows} == rule_slugs()
    assert [row["slug"] for row in rows] == [rule.slug for rule in ALL_RULES]
    for row in rows:
        assert row["severity"] in ("info", "low", "medium", "high", "critical")
        assert row["guideline"] and row["evidence_key"] and row["remediation"], row["slug"]
    table = run("rules")
    assert all(f"{slug}  [" in table for slug in rule_slugs())
