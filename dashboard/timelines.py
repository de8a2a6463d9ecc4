"""Findings over time, for the charts: each finding's life as spans (open, suppressed, resolved) and
the step series of open findings by severity, over what one reader may see.

A finding's life is rebuilt from what is stored, never written per snapshot:
- it opened at `first_seen`; its `resolved` / `reopened` events move it between open and resolved
  (a resolved row without its event resolved at `resolved_at`);
- a suppression holds it from its creation until it was lifted, it expired or the evidence changed
  (a suppression is made for one evidence key; reconciling lifts it then, and a later key never
  matches it): open time under a suppression is "suppressed", not open; resolved stays resolved;
- `severity-changed` events (`from`: the severity before) split its open time by severity.

A finding counts in a namespace's series only while it was attributed to that namespace
(`FindingNamespace.since`, `PastAttribution`: attributions as they were at each time), and in a
tenant's view of the cluster only while it was attributed to one of the tenant's namespaces; an
admin's view of the cluster counts every finding.  Attributions recorded before their history was
(exposure migration 0004) count from the finding's `first_seen`.

`timeline` is the one reader of findings over time: the pages' charts draw its series and the REST
API's `timeline/` serves its steps (open findings per severity, with the grade of the namespace, or
the cluster's own for admins, from the `NamespaceStatus` intervals), so both give the same numbers.

Readers take the reader's `Scope` and read through `.restrict(scope)`: the findings a series counts
are those attributed (now, or then) to a namespace the reader sees; a finding's life is read through
that attribution even after it moved to namespaces the reader does not see, and counted only for
the time it was theirs.  Each reader costs a fixed number of queries whatever the cluster's size:
the attributions, the findings, their events and their suppressions in one query each; the series
are computed here from the intervals.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from dashboard.kept_counts import kept_for_admins
from dashboard.queries import listed_columns, listed_rows, severity_rank
from exposure.findings import for_summary
from exposure.grades import CLUSTER_WIDE
from exposure.models import (
    Finding,
    FindingEvent,
    FindingNamespace,
    NamespaceStatus,
    PastAttribution,
    Suppression,
)
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
    """The last `days` up to `until` (now), from midnight (UTC) that day, so the same all day; from
    the cluster's first visible snapshot at the earliest: before it nothing was watched, so nothing
    is drawn."""
    until = until or timezone.now()
    first = (
        Snapshot.objects.restrict(scope)
        .filter(cluster=cluster, status__in=Snapshot.VISIBLE)
        .order_by("seq")
        .values_list("taken_at", flat=True)
        .first()
    )
    start = (until - timedelta(days=days)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if first is not None and first > start:
        start = min(first, until)
    return Window(start, until)


def alive_in(findings, window: Window):
    """Findings alive at some time of the window: opened before its end, not resolved for good before
    its start (`resolved_at` is the last resolution)."""
    return findings.filter(first_seen__lt=window.end).filter(
        Q(status=Finding.Status.OPEN) | Q(resolved_at__gte=window.start)
    )


def life_history(findings, scope: Scope, through_attributions: bool = False) -> tuple[dict, dict]:
    """The life events and the suppressions of a queryset's findings, by finding id: two queries
    (what `life_spans` takes; the digest reads them too).
    `through_attributions`: `findings` were chosen by the reader's attributions, past ones included
    (`_attributed_findings`): their events are read through those, not through the findings'
    attributions of now."""
    ids = findings.order_by().values("pk")
    events_of, suppressions_of = FindingEvent.objects.all(), Suppression.objects.all()
    if not through_attributions:
        events_of, suppressions_of = events_of.restrict(scope), suppressions_of.restrict(scope)
    events = defaultdict(list)
    for finding_id, at, kind, detail in (
        events_of.filter(finding__in=ids, kind__in=LIFE_EVENTS)
        .order_by("at", "pk")
        .values_list("finding_id", "at", "kind", "detail")
    ):
        events[finding_id].append((at, kind, detail))
    held = defaultdict(list)
    for finding_id, created, expires, lifted in (
        suppressions_of.filter(finding__in=ids)
        .order_by("created_at", "pk")
        .values_list("finding_id", "created_at", "expires_at", "lifted_at")
    ):
        held[finding_id].append((created, expires, lifted))
    return events, held


def _lives(
    findings, scope: Scope, until: datetime, through_attributions: bool = False
) -> dict[int, list[Span]]:
    """finding id -> its spans up to `until`, for the findings of a queryset: three queries."""
    rows = {
        pk: FindingRow(first_seen, status, resolved_at, severity)
        for pk, first_seen, status, resolved_at, severity in findings.order_by().values_list(
            "pk", "first_seen", "status", "resolved_at", "severity"
        )
    }
    if not rows:
        return {}
    events, held = life_history(findings, scope, through_attributions)
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


# --- attributions over time -----------------------------------------------------------------------

_EVER = datetime.min.replace(tzinfo=UTC)  # an attribution's `since` when empty: since first seen
_STILL = datetime.max.replace(tzinfo=UTC)  # a current attribution's end


def _attributions(cluster: Cluster, scope: Scope, namespace: str | None):
    """The reader's attributions of `cluster`'s findings (to `namespace`, or to any namespace they
    see), current and past: two querysets of rows."""
    current = FindingNamespace.objects.restrict(scope).filter(finding__cluster=cluster)
    past = PastAttribution.objects.restrict(scope).filter(finding__cluster=cluster)
    if namespace is not None:
        current, past = current.filter(namespace=namespace), past.filter(namespace=namespace)
    return current, past


def _attributed_findings(cluster: Cluster, scope: Scope, namespace: str | None):
    """The findings attributed, now or at some time, to `namespace` (to any namespace the reader
    sees when None) through the attributions the reader may see."""
    current, past = _attributions(cluster, scope, namespace)
    # Their ids read first (two indexed queries): `pk IN (…) OR pk IN (…)` as subqueries is a scan
    # of every finding of the cluster, and the life readers embed this selection three times more.
    ids = {*current.values_list("finding_id", flat=True), *past.values_list("finding_id", flat=True)}
    return Finding.objects.filter(cluster=cluster, pk__in=sorted(ids))


def _attributed_times(findings, cluster: Cluster, scope: Scope, namespace: str | None) -> dict:
    """finding id -> the times (start, end) it was attributed to `namespace` (to a namespace the
    reader sees when None), merged, for the findings of a queryset: two queries."""
    ids = findings.order_by().values("pk")
    current, past = _attributions(cluster, scope, namespace)
    times = defaultdict(list)
    for finding_id, since in current.filter(finding__in=ids).values_list("finding_id", "since"):
        times[finding_id].append((since or _EVER, _STILL))
    for finding_id, since, until in past.filter(finding__in=ids).values_list("finding_id", "since", "until"):
        times[finding_id].append((since or _EVER, until))
    merged = {}
    for finding_id, spans in times.items():
        joined: list[tuple[datetime, datetime]] = []
        for start, end in sorted(spans):
            if joined and start <= joined[-1][1]:
                joined[-1] = (joined[-1][0], max(joined[-1][1], end))
            else:
                joined.append((start, end))
        merged[finding_id] = joined
    return merged


def _while_attributed(spans: list[Span], times: list[tuple[datetime, datetime]]) -> list[Span]:
    """The parts of a finding's spans that fall in the times it was attributed."""
    kept = []
    for span in spans:
        for start, end in times:
            begin, finish = max(span.start, start), min(span.end, end)
            if begin < finish:
                kept.append(Span(span.state, span.severity, begin, finish, span.ongoing and end == _STILL))
    return kept


def _open_series(cluster: Cluster, scope: Scope, namespace: str | None, window: Window) -> Series:
    """Open findings by severity over `window`: of `namespace` (None: the cluster, as far as the
    reader sees it), each finding counted while it was attributed there."""
    if namespace is None and scope.admin:  # every finding, attributed to a namespace or not
        findings = alive_in(Finding.objects.restrict(scope).filter(cluster=cluster), window)
        return open_series(_lives(findings, scope, window.end).values(), window)
    findings = alive_in(_attributed_findings(cluster, scope, namespace), window)
    lives = _lives(findings, scope, window.end, through_attributions=True)
    if not lives:
        return open_series([], window)
    times = _attributed_times(findings, cluster, scope, namespace)
    return open_series((_while_attributed(spans, times.get(pk, [])) for pk, spans in lives.items()), window)


def cluster_open_series(
    cluster: Cluster, scope: Scope, window: Window | None = None, kept: bool = False
) -> Series:
    """Open findings by severity over time, of what the reader may see of `cluster`.  `kept` (the
    overview's chart): an admin's is kept between requests (`_kept_cluster_series`)."""
    window = window or window_of(cluster, scope)
    if kept and scope.admin:
        return _kept_cluster_series(cluster, scope, window)
    return _open_series(cluster, scope, None, window)


def _kept_cluster_series(cluster: Cluster, scope: Scope, window: Window) -> Series:
    """The admins' whole-cluster series, the costliest of all (every finding alive in the window),
    computed once and kept until something it shows can have moved (dashboard/kept_counts.py): the
    kept series holds as it is up to any later end of the same window (the same day)."""
    kept = kept_for_admins(
        cluster,
        scope,
        f"open-series|{window.start.isoformat()}",
        lambda: _open_series(cluster, scope, None, window),
        at=window.end,
    )
    return Series(window, kept.times, kept.counts)


def namespace_open_series(
    cluster: Cluster, namespace: str, scope: Scope, window: Window | None = None
) -> Series:
    """Open findings by severity over time, of the findings attributed to `namespace` at the time."""
    return _open_series(cluster, scope, namespace, window or window_of(cluster, scope))


# --- the timeline: open findings per severity over time, and grades ---------------------------------


@dataclass(frozen=True)
class Step:
    """From `start` to `end`: open findings per severity (every severity), and the grade then (None
    where no grade is recorded or the reader may not see it) with the counts it was given for."""

    start: datetime
    end: datetime
    open: dict[str, int]
    grade: str | None
    grade_counts: dict[str, int] | None


@dataclass
class Timeline:
    cluster: Cluster
    namespace: str | None  # None: the cluster as far as the reader sees it
    window: Window
    series: Series
    grades: list[NamespaceStatus]  # the grade intervals overlapping the window, oldest first

    def steps(self) -> list[Step]:
        """The series and the grades as one list of steps, each value holding from its start until the
        next step's start (the last until the window's end); no two neighbours alike."""
        window, series = self.window, self.series
        moments = set(series.times)
        moments.update(
            max(g.valid_from_at, window.start) for g in self.grades if g.valid_from_at < window.end
        )
        moments.update(
            g.valid_to_at for g in self.grades if g.valid_to_at and window.start < g.valid_to_at < window.end
        )
        moments = sorted(m for m in moments if window.start <= m < window.end)
        steps: list[Step] = []
        for moment in moments:
            index = bisect_right(series.times, moment) - 1
            counted = {s: values[index] for s, values in series.counts.items()} if index >= 0 else {}
            grade = next(
                (
                    g
                    for g in self.grades
                    if g.valid_from_at <= moment and (g.valid_to_at is None or moment < g.valid_to_at)
                ),
                None,
            )
            step = Step(
                moment,
                window.end,
                {severity: counted.get(severity, 0) for severity in reversed(SEVERITIES)},
                grade.grade if grade else None,
                dict(grade.counts) if grade else None,
            )
            if steps and (steps[-1].open, steps[-1].grade, steps[-1].grade_counts) == (
                step.open,
                step.grade,
                step.grade_counts,
            ):
                continue
            if steps:
                last = steps[-1]
                steps[-1] = Step(last.start, moment, last.open, last.grade, last.grade_counts)
            steps.append(step)
        return steps


def timeline(
    cluster: Cluster, scope: Scope, namespace: str | None = None, window: Window | None = None
) -> Timeline:
    """Open findings per severity over the window (the pages' series) and the grades: of `namespace`
    (its own grade), or of the cluster (None: its own grade, the cluster-wide row, for admins only).
    A fixed number of queries."""
    window = window or window_of(cluster, scope)
    grades = grade_intervals(
        [cluster], scope, window.start, window.end, namespace=CLUSTER_WIDE if namespace is None else namespace
    ).order_by("valid_from_at", "pk")
    return Timeline(cluster, namespace, window, _open_series(cluster, scope, namespace, window), list(grades))


def grade_intervals(clusters: list[Cluster], scope: Scope, since: datetime, until: datetime, namespace=None):
    """The grade intervals (NamespaceStatus) of `clusters` the reader may see that overlap [since,
    until): every namespace's (or `namespace`'s), and the cluster-wide row ("") for admins."""
    rows = NamespaceStatus.objects.restrict(scope).filter(cluster_id__in=sorted(c.pk for c in clusters))
    if namespace is not None:
        rows = rows.filter(namespace=namespace)
    return rows.filter(valid_from_at__lt=until).exclude(valid_to_at__lte=since)


def grade_distribution(cluster: Cluster, scope: Scope) -> dict[str, int]:
    """grade -> how many of the namespaces the reader sees have it now (every grade present)."""
    counts = dict.fromkeys(GRADES, 0)
    current = NamespaceStatus.objects.restrict(scope).filter(cluster=cluster, valid_to=None)
    for namespace, grade in current.values_list("namespace", "grade"):  # letters only: no counts decoded
        if namespace and grade in counts:  # "" is the cluster as a whole, not a namespace
            counts[grade] += 1
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
    most `limit`; and how many there are in all.  Titles are redacted for the reader.  The findings
    attributed to it now (those the reader can open from the chart); the series count by the
    attribution at each time."""
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
    # Only the columns a life and its redacted title need: not the paths and evidence whole.
    listed = list(listed_columns(ranked, scope)[:limit])
    if not listed:
        return [], 0
    events, held = life_history(Finding.objects.filter(pk__in=[finding.pk for finding in listed]), scope)
    lives = []
    for finding, shown in zip(listed, listed_rows(listed, scope, cluster), strict=True):
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
