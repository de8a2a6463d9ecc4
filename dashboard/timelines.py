"""Findings over time, for the charts: each finding's life as spans (open, suppressed, resolved) and
the step series of open findings by severity, over what one reader may see.

A finding's life is rebuilt from what is stored, never written per snapshot:
- it opened at `first_seen`; its `resolved` / `reopened` events move it between open and resolved
  (a resolved row without its event resolved at `resolved_at`);
- a suppression holds it from its creation until it was lifted, it expired or the evidence changed
  (a suppression is made for one evidence key; reconciling lifts it then, and a later key never
  matches it): open time under a suppression is "suppressed", not open; resolved stays resolved;
- `severity-changed` events (`from`: the severity before) split its open time by severity.

Readers take the reader's `Scope` and read through `.restrict(scope)`: a tenant's series counts only
findings attributed to a namespace they see (as the findings list does).  Each reader costs a fixed
number of queries whatever the cluster's size: the findings, their events and their suppressions in
one query each; the series are computed here from the intervals.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from dashboard.queries import current_grades, redacted_findings, severity_rank
from exposure.findings import for_summary
from exposure.models import Finding, FindingEvent, FindingNamespace, Suppression
from exposure.rules import SEVERITIES, SEVERITY_RANK
from inventory.models import Cluster, Snapshot
from tenancy.scope import Scope

OPEN, SUPPRESSED, RESOLVED = "open", "suppressed", "resolved"
STATES = (OPEN, SUPPRESSED, RESOLVED)
GRADES = ("A", "B", "C", "D", "F")
DEFAULT_DAYS = 90  # how far back a timeline reaches (never before the cluster's first snapshot)
MAX_LIVES = 40  # findings drawn on a namespace's lives chart; the findings list has them all
# The events that change a finding's state or severity (opened is `first_seen`; suppressions are rows).
LIFE_EVENTS = ("resolved", "reopened", "severity-changed", "evidence-changed")


@dataclass(frozen=True)
class Span:
    """One stretch of a finding's life in one state (and, open or suppressed, one severity)."""

    state: str
    severity: str
    start: datetime
    end: datetime  # clipped to the window's end
    ongoing: bool = False  # still so at the window's end


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass
class Series:
    """Open (unsuppressed) findings by severity: `counts[severity][i]` holds from `times[i]` until the
    next time (the last until `window.end`)."""

    window: Window
    times: list[datetime] = field(default_factory=list)
    counts: dict[str, list[int]] = field(default_factory=dict)

    def at_end(self) -> dict[str, int]:
        return {severity: values[-1] for severity, values in self.counts.items() if values and values[-1]}


@dataclass
class Life:
    """A finding as a lives chart shows it: what identifies it to the reader and its spans."""

    id: int
    rule: str
    severity: str
    status: str
    title: str  # redacted for the reader
    spans: list[Span]


# --- one finding's life, from its row, its events and its suppressions (no database) ---------------


@dataclass(frozen=True)
class FindingRow:
    """What a life starts from: the finding's row as stored now."""

    first_seen: datetime
    status: str
    resolved_at: datetime | None
    severity: str


def life_spans(
    row: FindingRow, events: Iterable[tuple], suppressions: Iterable[tuple], until: datetime
) -> list[Span]:
    """The finding's spans from `first_seen` to `until`.  `events`: (at, kind, detail) in time order;
    `suppressions`: (created_at, expires_at, lifted_at)."""
    events = [e for e in events if e[0] < until]
    presence = [(row.first_seen, OPEN)]  # (from, open | resolved)
    evidence_changes = []
    severity_changes = []  # (at, severity before)
    for at, kind, detail in events:
        if kind == "resolved":
            presence.append((at, RESOLVED))
        elif kind == "reopened":
            presence.append((at, OPEN))
        elif kind == "evidence-changed":
            evidence_changes.append(at)
        elif kind == "severity-changed" and isinstance(detail, dict) and detail.get("from") in SEVERITY_RANK:
            severity_changes.append((at, detail["from"]))
    if row.status == RESOLVED and presence[-1][1] == OPEN and row.resolved_at and row.resolved_at < until:
        presence.append((row.resolved_at, RESOLVED))  # resolved without its event (older data)
    held = []
    for created, expires, lifted in suppressions:
        ends = [expires, *([lifted] if lifted else []), *(at for at in evidence_changes if at > created)]
        held.append((created, min(ends)))

    def severity_at(moment):
        for at, before in severity_changes:
            if moment < at:
                return before
        return row.severity

    def presence_at(moment):
        state = OPEN
        for at, value in presence:
            if at <= moment:
                state = value
        return state

    def state_at(moment):
        state = presence_at(moment)
        if state == OPEN and any(start <= moment < end for start, end in held):
            return SUPPRESSED
        return state

    start = row.first_seen
    if start >= until:
        return []
    boundaries = {start, until}
    boundaries.update(at for at, _ in presence)
    boundaries.update(at for at, _ in severity_changes)
    for created, ended in held:
        boundaries.update((created, ended))
    moments = sorted(b for b in boundaries if start <= b <= until)
    spans: list[Span] = []
    for begin, end in zip(moments, moments[1:], strict=False):
        state = state_at(begin)
        severity = severity_at(begin)
        if spans and spans[-1].state == state and spans[-1].severity == severity and spans[-1].end == begin:
            spans[-1] = Span(state, severity, spans[-1].start, end)
        else:
            spans.append(Span(state, severity, begin, end))
    if spans:
        last = spans[-1]
        spans[-1] = Span(last.state, last.severity, last.start, last.end, ongoing=True)
    return spans


def open_series(lives: Iterable[list[Span]], window: Window) -> Series:
    """Open findings by severity over `window`, as steps: +1 when a finding's open span starts, -1
    when it ends (suppressed and resolved time is not open)."""
    deltas: dict[datetime, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    present: set[str] = set()
    for spans in lives:
        for span in spans:
            if span.state != OPEN or span.end <= window.start or span.start >= window.end:
                continue
            present.add(span.severity)
            deltas[max(span.start, window.start)][span.severity] += 1
            if span.end < window.end:
                deltas[span.end][span.severity] -= 1
    severities = [s for s in reversed(SEVERITIES) if s in present]  # worst first
    series = Series(window, counts={s: [] for s in severities})
    running = dict.fromkeys(severities, 0)
    for moment in sorted({window.start, *deltas}):
        for severity, change in deltas.get(moment, {}).items():
            running[severity] += change
        series.times.append(moment)
        for severity in severities:
            series.counts[severity].append(running[severity])
    return series


# --- readers (each takes the reader's Scope) ----------------------------------------------------


def window_of(
    cluster: Cluster, scope: Scope, until: datetime | None = None, days: int = DEFAULT_DAYS
) -> Window:
    """The last `days` up to `until` (now), from the cluster's first visible snapshot at the earliest:
    before it nothing was watched, so nothing is drawn."""
    until = until or timezone.now()
    first = (
        Snapshot.objects.restrict(scope)
        .filter(cluster=cluster, status__in=Snapshot.VISIBLE)
        .order_by("seq")
        .values_list("taken_at", flat=True)
        .first()
    )
    start = until - timedelta(days=days)
    if first is not None and first > start:
        start = min(first, until)
    return Window(start, until)


def alive_in(findings, window: Window):
    """Findings alive at some time of the window: opened before its end, not resolved for good before
    its start (`resolved_at` is the last resolution)."""
    return findings.filter(first_seen__lt=window.end).filter(
        Q(status=Finding.Status.OPEN) | Q(resolved_at__gte=window.start)
    )


def life_history(findings, scope: Scope) -> tuple[dict, dict]:
    """The life events and the suppressions of a queryset's findings, by finding id: two queries
    (what `life_spans` takes; the digest reads them too)."""
    ids = findings.order_by().values("pk")
    events = defaultdict(list)
    for finding_id, at, kind, detail in (
        FindingEvent.objects.restrict(scope)
        .filter(finding__in=ids, kind__in=LIFE_EVENTS)
        .order_by("at", "pk")
        .values_list("finding_id", "at", "kind", "detail")
    ):
        events[finding_id].append((at, kind, detail))
    held = defaultdict(list)
    for finding_id, created, expires, lifted in (
        Suppression.objects.restrict(scope)
        .filter(finding__in=ids)
        .order_by("created_at", "pk")
        .values_list("finding_id", "created_at", "expires_at", "lifted_at")
    ):
        held[finding_id].append((created, expires, lifted))
    return events, held


def _lives(findings, scope: Scope, until: datetime) -> dict[int, list[Span]]:
    """finding id -> its spans up to `until`, for the findings of a queryset: three queries."""
    rows = {
        pk: FindingRow(first_seen, status, resolved_at, severity)
        for pk, first_seen, status, resolved_at, severity in findings.order_by().values_list(
            "pk", "first_seen", "status", "resolved_at", "severity"
        )
    }
    if not rows:
        return {}
    events, held = life_history(findings, scope)
    return {pk: life_spans(row, events[pk], held[pk], until) for pk, row in rows.items()}


def _row(finding: Finding) -> FindingRow:
    return FindingRow(finding.first_seen, finding.status, finding.resolved_at, finding.severity)


def _namespace_findings(cluster: Cluster, namespace: str, scope: Scope):
    """The findings attributed to `namespace` through the attributions the reader may see (another
    tenant's namespace selects nothing)."""
    attributed = FindingNamespace.objects.restrict(scope).filter(
        finding__cluster=cluster, namespace=namespace
    )
    return Finding.objects.restrict(scope).filter(cluster=cluster, pk__in=attributed.values("finding_id"))


def cluster_open_series(cluster: Cluster, scope: Scope, window: Window | None = None) -> Series:
    """Open findings by severity over time, of what the reader may see of `cluster`."""
    window = window or window_of(cluster, scope)
    findings = alive_in(Finding.objects.restrict(scope).filter(cluster=cluster), window)
    return open_series(_lives(findings, scope, window.end).values(), window)


def namespace_open_series(
    cluster: Cluster, namespace: str, scope: Scope, window: Window | None = None
) -> Series:
    """Open findings by severity over time, of the findings attributed to `namespace`."""
    window = window or window_of(cluster, scope)
    findings = alive_in(_namespace_findings(cluster, namespace, scope), window)
    return open_series(_lives(findings, scope, window.end).values(), window)


def grade_distribution(cluster: Cluster, scope: Scope) -> dict[str, int]:
    """grade -> how many of the namespaces the reader sees have it now (every grade present)."""
    counts = dict.fromkeys(GRADES, 0)
    for namespace, status in current_grades(cluster, scope).items():
        if namespace and status.grade in counts:  # "" is the cluster as a whole, not a namespace
            counts[status.grade] += 1
    return counts


def finding_life(finding: Finding, scope: Scope, until: datetime | None = None) -> list[Span]:
    """One finding's spans from `first_seen` until now (a finding the reader sees: its page's)."""
    until = until or timezone.now()
    events, held = life_history(Finding.objects.restrict(scope).filter(pk=finding.pk), scope)
    return life_spans(_row(finding), events[finding.pk], held[finding.pk], until)


def namespace_lives(
    cluster: Cluster, namespace: str, scope: Scope, window: Window | None = None, limit: int = MAX_LIVES
) -> tuple[list[Life], int]:
    """The lives of the findings attributed to `namespace` over the window, open and worst first, at
    most `limit`; and how many there are in all.  Titles are redacted for the reader."""
    window = window or window_of(cluster, scope)
    # for_summary: what the redacted summaries read (suppression, last seen), in a fixed number of queries.
    findings = for_summary(alive_in(_namespace_findings(cluster, namespace, scope), window))
    # Sorted and cut by the database: a large cluster attributes a namespace hundreds of findings,
    # and each read whole (paths and all) and redacted cost a second at 800 namespaces.
    ranked = findings.annotate(
        state_rank=Case(
            When(status=Finding.Status.RESOLVED, then=Value(2)),
            When(suppressed=True, then=Value(1)),
            default=Value(0),
            output_field=IntegerField(),
        ),
        severity_rank=severity_rank(),
    ).order_by("state_rank", "-severity_rank", "pk")
    listed = list(ranked.select_related("cluster")[:limit])
    if not listed:
        return [], 0
    events, held = life_history(Finding.objects.filter(pk__in=[finding.pk for finding in listed]), scope)
    lives = []
    for finding, shown in zip(listed, redacted_findings(listed, scope), strict=True):
        spans = life_spans(_row(finding), events[finding.pk], held[finding.pk], window.end)
        lives.append(
            Life(
                finding.pk,
                finding.rule,
                finding.severity,
                shown["status"],
                shown["title"],
                [_clip(span, window) for span in spans if span.end > window.start],
            )
        )
    return lives, findings.count()


def _clip(span: Span, window: Window) -> Span:
    if span.start >= window.start:
        return span
    return Span(span.state, span.severity, window.start, span.end, span.ongoing)
