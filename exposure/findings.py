"""Findings with a life: hits of one snapshot reconciled with the cluster's findings.

- The same fingerprint (rule + stable identities) in the next snapshot is the same finding; an open
  finding is not written again unless what it says changed (evidence, severity, paths, title…).
- A finding no longer hit is resolved only by a snapshot that read everything it rests on: its
  rule's kinds and the arrays it names.  A partial snapshot, or a rule that failed, holds it open.
- A resolved finding hit again reopens: same row, `first_seen` kept, the history in its events.
- Suppression is read, not written per snapshot: a finding is suppressed while an unlifted
  suppression has not expired and was made for the evidence key the finding has now.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from exposure.analysis.context import Context
from exposure.engine import Evaluation
from exposure.models import Finding, FindingEvent, FindingNamespace, PastAttribution, Suppression
from exposure.rules import RULES, Hit, Rule
from exposure.rules.base import ARRAY_GATE_KINDS
from inventory.bulk_insert import insert_keyed, insert_rows, insert_values
from inventory.kept_fields import canonical_json, digest, digest_of
from inventory.models import Snapshot
from inventory.times import rfc3339

SUPPRESSED = "suppressed"
STATUSES = ("open", "resolved", SUPPRESSED, "all")
MAX_STORED_PATHS = 50
BATCH = 1000  # rows per bulk statement
# What reconcile reads of an open finding whose hit says what it said (`content_key`).
_LEAN = ("pk", "cluster_id", "rule", "fingerprint", "status", "depends", "content_key", "at_least_since")


def fingerprint(slug: str, identity: tuple[str, ...]) -> str:
    return hashlib.sha256("\0".join((slug, *identity)).encode()).hexdigest()[:40]


def unread_sources(snapshot: Snapshot) -> set[str]:
    """What this snapshot failed to read, as the tokens findings depend on: kinds and `array:NAME`."""
    tokens = set()
    for key in snapshot.unread or {}:
        array, sep, _ = key.partition(":")
        tokens.add(f"array:{array}" if sep else key)
    return tokens


def depends_on(rule: Rule, hit: Hit) -> list[str]:
    """What a finding rests on: its rule's kinds, the arrays its hit names and, for a rule on array
    records, the kinds the join picks those records by (backends, volumes, nodes)."""
    joined = ARRAY_GATE_KINDS if rule.reads_arrays else ()
    return sorted({*rule.reads, *joined, *(f"array:{a}" for a in hit.arrays)})


def at_least_since(context: Context, refs: list[str]) -> datetime | None:
    """The oldest creationTimestamp among the objects that make the finding true (one that is not a
    time, however it is written, counts as none)."""
    stamps = [stamp for ref in refs if (stamp := context.created(ref))]
    if stamps and all(len(stamp) == 20 and stamp[-1] == "Z" for stamp in stamps):
        # Kubernetes' own layout (`2026-03-01T12:00:00Z`) sorts as text as it does in time: one parse.
        earliest = _time(min(stamps))
        if earliest is not None:
            return earliest
    times = [time for time in map(_time, stamps) if time is not None]
    return min(times) if times else None


def _time(stamp: str) -> datetime | None:
    try:
        return parse_datetime(stamp)
    except ValueError:  # shaped like a time, but no time ("2026-13-45T00:00:00Z")
        return None


@dataclass
class Reconciliation:
    opened: int = 0
    reopened: int = 0
    changed: int = 0
    resolved: int = 0
    held: list[str] = field(default_factory=list)  # fingerprints kept open: what they rest on was not read

    def as_dict(self) -> dict:
        return {**self.__dict__, "held": len(self.held)}


def reconcile(
    snapshot: Snapshot, context: Context, evaluation: Evaluation, carried: frozenset[str] = frozenset()
) -> Reconciliation:
    """Open, change, reopen and resolve findings.  Reads only the findings that can move: those
    open and those this snapshot hits (a resolved one may reopen); writes new ones in bulk.
    `carried`: rules not re-run because none of their inputs changed: their findings stand, as do
    those of a rule judged in some namespaces only (`evaluation.within`) about other namespaces."""
    result = Reconciliation()
    when, seq = snapshot.taken_at, snapshot.seq
    unread = unread_sources(snapshot)
    hits: dict[str, tuple[Rule, Hit]] = {}
    for rule, hit in evaluation.all_hits():
        if hit.violation:  # a rule reporting one situation twice: the first says it
            hits.setdefault(fingerprint(rule.slug, hit.identity), (rule, hit))
    keys = {key: content_key(rule, hit) for key, (rule, hit) in hits.items()}
    existing = _findings_that_can_move(snapshot.cluster_id, keys, carried, evaluation.within)
    events: list[FindingEvent] = []
    created: list[Finding] = []
    with transaction.atomic():
        for key, (rule, hit) in hits.items():
            finding = existing.get(key)
            newer = at_least_since(context, hit.objects)
            if finding is not None and finding.status == Finding.Status.OPEN:
                # A rollout replaces the objects with newer ones; what was true since then still is.
                newer = _earliest(finding.at_least_since, newer)
                if finding.content_key == keys[key]:  # it says what it said: only its age may move
                    if newer != finding.at_least_since:
                        finding.at_least_since, finding.changed_seq = newer, seq
                        finding.save(update_fields=["at_least_since", "changed_seq"])
                        result.changed += 1
                    continue
            fields = _fields(rule, hit, newer, keys[key])
            if finding is None:
                created.append(
                    Finding(
                        cluster_id=snapshot.cluster_id,
                        rule=rule.slug,
                        fingerprint=key,
                        identity=list(hit.identity),
                        first_seen=when,
                        first_seen_seq=seq,
                        changed_seq=seq,
                        **fields,
                    )
                )
                continue
            changes = {name: value for name, value in fields.items() if getattr(finding, name) != value}
            if changes.keys() == {"content_key"} and finding.status == Finding.Status.OPEN:
                finding.content_key = keys[key]  # written before the key was kept: nothing it says moved
                finding.save(update_fields=["content_key"])
                continue
            if finding.status == Finding.Status.RESOLVED:
                changes.update(status=Finding.Status.OPEN, resolved_at=None, resolved_seq=None)
                events.append(
                    _event(finding, seq, when, "reopened", {"resolved_at": rfc3339(finding.resolved_at)})
                )
                result.reopened += 1
            elif changes:
                result.changed += 1
            if "evidence_key" in changes:
                events.append(
                    _event(finding, seq, when, "evidence-changed", {"evidence": fields["evidence"]})
                )
                Suppression.objects.filter(finding=finding, lifted_at__isnull=True).update(lifted_at=when)
            if "severity" in changes:
                events.append(_event(finding, seq, when, "severity-changed", {"from": finding.severity}))
            if "namespaces" in changes:
                _reattribute(finding, changes["namespaces"], when)
            if changes:
                for name, value in changes.items():
                    setattr(finding, name, value)
                finding.changed_seq = seq
                finding.save(update_fields=[*changes, "changed_seq"])
        _open(created, seq, when, events)
        result.opened = len(created)
        resolved: dict[str, list[int]] = {}
        for key, finding in existing.items():
            if key in hits or finding.status != Finding.Status.OPEN or finding.rule in carried:
                continue
            if finding.rule in evaluation.failed or unread.intersection(finding.depends):
                result.held.append(key)  # no false all-clear: it rests on something not read
                continue
            why = "rule disabled" if finding.rule in evaluation.skipped else "no longer seen"
            resolved.setdefault(why, []).append(finding.pk)
            events.append(_event(finding, seq, when, "resolved", {"why": why}))
            result.resolved += 1
        for ids in resolved.values():
            for start in range(0, len(ids), BATCH):
                Finding.objects.filter(pk__in=ids[start : start + BATCH]).update(
                    status=Finding.Status.RESOLVED, resolved_at=when, resolved_seq=seq, changed_seq=seq
                )
        insert_rows(FindingEvent, events)
    return result


def content_key(rule: Rule, hit: Hit) -> str:
    """Digest of what a hit says of its finding: every field `_fields` writes but its age."""
    return digest_of(
        canonical_json(
            (
                hit.severity,
                hit.title,
                hit.detail,
                sorted(set(hit.namespaces)),
                hit.cluster_wide,
                hit.evidence,
                hit.paths[:MAX_STORED_PATHS],
                len(hit.paths),
                hit.objects,
                depends_on(rule, hit),
            )
        )
    )


def _findings_that_can_move(
    cluster_id: int, keys: dict[str, str], carried: frozenset[str], within: dict[str, frozenset[str]]
) -> dict[str, Finding]:
    """The open findings this analysis judged and every finding it hits (a resolved one reopens), by
    fingerprint: not those of the rules it did not re-run (`carried`), nor those of a rule judged in
    some namespaces only about other namespaces (`within`): they stand, unread.  An open finding
    whose content key equals its hit's is read without what it says (a cluster-wide finding's refs
    run to a megabyte): only its age can move; the others are read whole."""
    findings = Finding.objects.filter(cluster_id=cluster_id)
    judged = findings.filter(status=Finding.Status.OPEN)
    existing = {f.fingerprint: f for f in judged.exclude(rule__in=sorted({*carried, *within})).only(*_LEAN)}
    for slug, namespaces in within.items():
        # (A namespace-local rule's finding is about one namespace: attributed there.)
        inside = FindingNamespace.objects.filter(finding=OuterRef("pk"), namespace__in=sorted(namespaces))
        there = judged.filter(Exists(inside), rule=slug)
        existing.update((f.fingerprint, f) for f in there.only(*_LEAN))
    whole = [f.pk for key, f in existing.items() if key in keys and f.content_key != keys[key]]
    others = [key for key in keys if key not in existing]
    for start in range(0, len(whole), BATCH):
        existing.update((f.fingerprint, f) for f in findings.filter(pk__in=whole[start : start + BATCH]))
    # Resolved ones hit again (they reopen); of any status, so that no finding is ever opened twice.
    for start in range(0, len(others), BATCH):
        batch = others[start : start + BATCH]
        existing.update((f.fingerprint, f) for f in findings.filter(fingerprint__in=batch))
    return existing


def _earliest(stored: datetime | None, newer: datetime | None) -> datetime | None:
    return min(stored, newer) if stored and newer else stored or newer


def _open(created: list[Finding], seq: int, when: datetime, events: list[FindingEvent]) -> None:
    """Insert new findings (keyed, copied: a first snapshot opens tens of thousands), with their
    namespaces and events."""
    insert_keyed(Finding, created)
    _attribute([(finding, finding.namespaces) for finding in created])
    events.extend(_event(f, seq, when, "opened", {"severity": f.severity}) for f in created)


def _fields(rule: Rule, hit: Hit, since: datetime | None, key: str) -> dict:
    return {
        "severity": hit.severity,
        "title": hit.title,
        "detail": hit.detail,
        "namespaces": sorted(set(hit.namespaces)),
        "cluster_wide": hit.cluster_wide,
        "evidence": hit.evidence,
        "evidence_key": digest(hit.evidence),
        # Every path is in the namespace's exposure view; the finding keeps enough to explain itself.
        "paths": [path.as_dict() for path in hit.paths[:MAX_STORED_PATHS]],
        "path_count": len(hit.paths),
        "refs": list(hit.objects),
        "depends": depends_on(rule, hit),
        "at_least_since": since,
        "content_key": key,
    }


def _attribute(findings: list[tuple[Finding, list[str]]], since: datetime | None = None) -> None:
    """Attributions from `since` on (None: since each finding was first seen)."""
    insert_values(
        FindingNamespace,
        [
            {"finding_id": finding.pk, "namespace": ns, "since": since}
            for finding, namespaces in findings
            for ns in namespaces
        ],
    )


def _reattribute(finding: Finding, namespaces: list[str], when: datetime) -> None:
    """The finding concerns other namespaces from `when` on: the attributions that end are kept as
    past ones (timelines count a finding in a namespace only while it was attributed there), the
    new ones start at `when`, the others go on."""
    current = {a.namespace: a for a in FindingNamespace.objects.filter(finding=finding)}
    ended = [a for namespace, a in current.items() if namespace not in namespaces]
    PastAttribution.objects.bulk_create(
        [PastAttribution(finding=finding, namespace=a.namespace, since=a.since, until=when) for a in ended]
    )
    FindingNamespace.objects.filter(pk__in=[a.pk for a in ended]).delete()
    _attribute([(finding, [namespace for namespace in namespaces if namespace not in current])], since=when)


def _event(finding: Finding, seq: int, when: datetime, kind: str, detail: dict) -> FindingEvent:
    return FindingEvent(finding=finding, seq=seq, at=when, kind=kind, detail=detail)


# --- reading ----------------------------------------------------------------------------------------


def active_suppressions(now: datetime | None = None) -> QuerySet:
    """Suppressions in force: not lifted, not expired, made for the finding's current evidence."""
    return Suppression.objects.filter(
        finding=OuterRef("pk"),
        lifted_at__isnull=True,
        expires_at__gt=now or timezone.now(),
        evidence_key=OuterRef("evidence_key"),
    )


def with_suppression(findings: QuerySet, now: datetime | None = None) -> QuerySet:
    return findings.annotate(suppressed=Exists(active_suppressions(now)))


def by_status(findings: QuerySet, status: str, now: datetime | None = None) -> QuerySet:
    """open (and not suppressed) | resolved | suppressed (open, accepted) | all."""
    findings = with_suppression(findings, now)
    if status == "open":
        return findings.filter(status=Finding.Status.OPEN, suppressed=False)
    if status == SUPPRESSED:
        return findings.filter(status=Finding.Status.OPEN, suppressed=True)
    if status == "resolved":
        return findings.filter(status=Finding.Status.RESOLVED)
    return findings


def in_namespace(findings: QuerySet, namespace: str) -> QuerySet:
    """Findings attributed to `namespace`."""
    return findings.filter(attributions__namespace=namespace)


def effective_status(finding: Finding) -> str:
    if finding.status == Finding.Status.OPEN and getattr(finding, "suppressed", False):
        return SUPPRESSED
    return finding.status


# Larger than any snapshot sequence: "before the snapshot that resolved it" for a finding still open.
_NO_SEQ = 2**31 - 1


def for_summary(findings: QuerySet, now: datetime | None = None) -> QuerySet:
    """`findings` with what `summary` reads, in a constant number of queries however many are read:
    their cluster, whether a suppression holds (`suppressed`), when each was last seen (the latest
    visible snapshot before the one that resolved it, the cluster's latest for an open one) and the
    suppressions in force."""
    now = now or timezone.now()
    last_seen = (
        Snapshot.objects.filter(
            cluster_id=OuterRef("cluster_id"),
            status__in=Snapshot.VISIBLE,
            seq__lt=Coalesce(OuterRef("resolved_seq"), Value(_NO_SEQ)),
        )
        .order_by("-seq")
        .values("taken_at")[:1]
    )
    pending = Suppression.objects.filter(lifted_at__isnull=True, expires_at__gt=now).select_related(
        "created_by"
    )
    return (
        with_suppression(findings, now)
        .select_related("cluster")
        .annotate(last_seen=Subquery(last_seen))
        .prefetch_related(Prefetch("suppressions", queryset=pending, to_attr="pending_suppressions"))
    )


def _last_seen(finding: Finding) -> datetime | None:
    if hasattr(finding, "last_seen"):
        return finding.last_seen
    seen = Snapshot.objects.filter(cluster_id=finding.cluster_id, status__in=Snapshot.VISIBLE)
    if finding.resolved_seq is not None:
        seen = seen.filter(seq__lt=finding.resolved_seq)
    return seen.order_by("-seq").values_list("taken_at", flat=True).first()


def _suppression(finding: Finding) -> dict | None:
    """The suppression in force (unlifted, unexpired, made for the evidence the finding has now)."""
    if hasattr(finding, "pending_suppressions"):
        pending = finding.pending_suppressions
    else:
        pending = Suppression.objects.filter(
            finding=finding, lifted_at__isnull=True, expires_at__gt=timezone.now()
        ).select_related("created_by")
    held = [s for s in pending if s.evidence_key == finding.evidence_key]
    if finding.status != Finding.Status.OPEN or not held:
        return None
    newest = max(held, key=lambda s: (s.created_at, s.pk))
    return {
        "reason": newest.reason,
        "expires_at": rfc3339(newest.expires_at),
        "created_at": rfc3339(newest.created_at),
        "by": newest.created_by.get_username() if newest.created_by else "",
    }


def summary(finding: Finding) -> dict:
    """The one shape of a finding that the command line prints and the REST API serves (redacted
    for its reader by tenancy.redaction.redact_finding).  Read findings through `for_summary`."""
    rule = RULES.get(finding.rule)
    return {
        "id": finding.pk,
        "rule": finding.rule,
        "severity": finding.severity,
        "status": effective_status(finding),
        "cluster": finding.cluster.name,
        "namespaces": finding.namespaces,
        "cluster_wide": finding.cluster_wide,
        "title": finding.title,
        "detail": finding.detail,
        "evidence": finding.evidence,
        "evidence_key": finding.evidence_key,
        "remediation": rule.remediation if rule else "",
        "guideline": rule.guideline if rule else "",
        "first_seen": rfc3339(finding.first_seen),
        "at_least_since": rfc3339(finding.at_least_since),
        "last_seen": rfc3339(_last_seen(finding)),
        "resolved_at": rfc3339(finding.resolved_at),
        "suppression": _suppression(finding),
        "paths": finding.paths,
        "path_count": finding.path_count,
    }


def suppress(finding: Finding, reason: str, expires_at: datetime, user=None) -> Suppression:
    if not reason.strip():
        raise ValueError("a suppression needs a reason")
    if expires_at <= timezone.now():
        raise ValueError("a suppression's expiry must be in the future")
    suppression = Suppression.objects.create(
        finding=finding,
        reason=reason,
        expires_at=expires_at,
        evidence_key=finding.evidence_key,
        created_by=user,
    )
    FindingEvent.objects.create(
        finding=finding,
        at=timezone.now(),
        kind="suppressed",
        detail={"reason": reason, "expires_at": rfc3339(expires_at), "by": getattr(user, "username", "")},
    )
    return suppression


def lift_suppression(finding: Finding, user=None) -> int:
    """End the finding's suppressions now; how many were in place."""
    now = timezone.now()
    lifted = Suppression.objects.filter(finding=finding, lifted_at__isnull=True).update(lifted_at=now)
    FindingEvent.objects.create(
        finding=finding, at=now, kind="unsuppressed", detail={"by": getattr(user, "username", "")}
    )
    return lifted
