"""Findings through their life, on sequences of real-format dumps (tests/cases/lifecycle/*/lifecycle.yaml):
each step is imported over tests/cases/base an hour after the previous one, through the product's
own pipeline (import, store, derive, analyse)."""

from datetime import timedelta

import pytest
import yaml
from django.utils import timezone

from exposure.findings import by_status, suppress
from exposure.grades import current_counts, grade_of, timeline
from exposure.models import Finding, FindingEvent, NamespaceStatus
from inventory.importing import import_dump
from inventory.models import Snapshot
from tests.cases.runner import CASES, TAKEN_AT, assemble, configure_cluster

pytestmark = pytest.mark.django_db
LIFECYCLE = CASES / "lifecycle"


class Steps:
    def __init__(self, case: str, tmp_path):
        self.folder = LIFECYCLE / case
        self.steps = yaml.safe_load((self.folder / "lifecycle.yaml").read_text())["steps"]
        self.tmp_path = tmp_path
        self.cluster = configure_cluster(case, {})
        self.done = 0

    def next(self) -> Snapshot:
        step = self.steps[self.done]
        into = assemble(self.folder / step["dir"], self.tmp_path / step["dir"], step)
        snapshot = import_dump(self.cluster.name, into, taken_at=TAKEN_AT + timedelta(hours=self.done))
        self.done += 1
        return snapshot


def events(finding) -> list[str]:
    return list(FindingEvent.objects.filter(finding=finding).values_list("kind", flat=True))


def released(cluster) -> Finding:
    return Finding.objects.get(cluster=cluster, rule="pv-released-retained")


def test_a_finding_opens_stays_survives_a_partial_snapshot_resolves_reopens(tmp_path):
    steps = Steps("released-pv", tmp_path)
    first = steps.next()
    finding = released(steps.cluster)
    assert finding.status == "open" and finding.namespaces == ["beta-app"]
    assert finding.first_seen == first.taken_at
    assert finding.at_least_since.isoformat().startswith(
        "2025-05-02T10:00:00"
    )  # the PV's creation, not install
    assert events(finding) == ["opened"]

    second = steps.next()
    finding.refresh_from_db()
    assert second.status == "complete" and finding.status == "open"
    assert finding.changed_seq == first.seq, "an unchanged open finding is not written again"

    third = steps.next()
    finding.refresh_from_db()
    assert third.status == "partial" and "PersistentVolume" in third.unread
    assert finding.status == "open", "a snapshot that did not read PVs must not resolve a PV finding"

    fourth = steps.next()
    finding.refresh_from_db()
    assert fourth.status == "complete"
    assert finding.status == "resolved" and finding.resolved_at == fourth.taken_at

    fifth = steps.next()
    finding.refresh_from_db()
    assert finding.status == "open" and finding.resolved_at is None
    assert finding.first_seen == first.taken_at, "a reopened finding keeps its history"
    assert events(finding) == ["opened", "resolved", "reopened", "evidence-changed"]
    assert Finding.objects.filter(cluster=steps.cluster).count() == 1
    assert fifth.is_visible


def test_suppression_hides_until_expiry_or_evidence_change(tmp_path):
    steps = Steps("released-pv", tmp_path)
    steps.next()
    finding = released(steps.cluster)
    findings = Finding.objects.filter(cluster=steps.cluster)
    suppress(finding, "kept for the audit until June", timezone.now() + timedelta(days=30))
    assert list(by_status(findings, "suppressed")) == [finding]
    assert not by_status(findings, "open").exists()
    assert counts_of(steps.cluster, "beta-app") == {}, "a suppressed finding sets no grade"
    later = timezone.now() + timedelta(days=31)
    assert list(by_status(findings, "open", now=later)) == [finding], "an expired suppression reopens"

    for _ in range(5):  # to step 6: another claim, in another namespace, released it
        steps.next()
    finding.refresh_from_db()
    assert finding.namespaces == ["beta-jobs"] and finding.evidence["claim"] == "beta-jobs/reports-v3"
    assert list(by_status(findings, "open")) == [finding], "changed evidence ends the suppression"


def counts_of(cluster, namespace):
    return current_counts(cluster.pk, [namespace])[namespace]


def test_a_deployment_rollout_does_not_churn_the_finding(tmp_path):
    steps = Steps("rollout", tmp_path)
    steps.next()
    before = Finding.objects.get(cluster=steps.cluster, rule="privileged-container")
    second = steps.next()
    after = Finding.objects.get(cluster=steps.cluster, rule="privileged-container")
    assert after.pk == before.pk and after.status == "open", "the new ReplicaSet's pod is the same workload"
    assert (after.first_seen, after.evidence_key) == (before.first_seen, before.evidence_key)
    assert after.at_least_since == before.at_least_since, "the replaced pod was there first: still true"
    assert not FindingEvent.objects.filter(finding=after, seq=second.seq).exists()
    # The paths now name the pod that exists: a finding refers only to objects of the snapshot.
    assert "tuner-5c6b7d8f9b-q7w4z" in str(after.paths) and "tuner-7d9f8b6c5d-x2k9p" not in str(after.paths)


def test_grade_history_equals_recomputing_it_from_the_findings(tmp_path):
    steps = Steps("released-pv", tmp_path)
    for _ in steps.steps:
        snapshot = steps.next()
        for namespace in ("beta-app", "beta-jobs", "alpha-web"):
            row = NamespaceStatus.objects.get(cluster=steps.cluster, namespace=namespace, valid_to=None)
            counts = counts_of(steps.cluster, namespace)
            assert (row.grade, row.counts) == (grade_of(counts), counts), (snapshot.seq, namespace)
    history = list(
        NamespaceStatus.objects.filter(cluster=steps.cluster, namespace="beta-app")
        .order_by("valid_from")
        .values_list("grade", "valid_from", "valid_to")
    )
    # C while released (steps 1-3), A once re-bound (4), C again (5), A when beta-jobs' claim released it (6)
    assert [grade for grade, _, _ in history] == ["C", "A", "C", "A"]
    assert all(a[2] == b[1] for a, b in zip(history, history[1:], strict=False)), "intervals are contiguous"


def test_a_quiet_snapshot_writes_no_finding_or_grade_row(tmp_path):
    steps = Steps("released-pv", tmp_path)
    steps.next()
    rows = (Finding.objects.count(), FindingEvent.objects.count(), NamespaceStatus.objects.count())
    second = steps.next()
    assert second.facts["analysis"]["reused"] is True
    assert (Finding.objects.count(), FindingEvent.objects.count(), NamespaceStatus.objects.count()) == rows


def test_a_namespaces_timeline_is_one_query(tmp_path, django_assert_num_queries):
    steps = Steps("released-pv", tmp_path)
    for _ in steps.steps:
        steps.next()
    with django_assert_num_queries(1):
        history = timeline(steps.cluster.pk)
    assert [interval["grade"] for interval in history["beta-app"]] == ["C", "A", "C", "A"]
    assert history["beta-app"][0]["from"] == TAKEN_AT and history["beta-app"][-1]["to"] is None
    assert [interval["grade"] for interval in history["alpha-web"]] == ["A"], "a quiet namespace: one row"
    later = timeline(steps.cluster.pk, "beta-app", since=TAKEN_AT + timedelta(hours=4))
    assert [interval["grade"] for interval in later["beta-app"]] == ["C", "A"]
