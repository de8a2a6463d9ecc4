"""What changed in one recipient's week: the facts a digest states, read through the recipient's
Scope in a fixed number of queries whatever the number of findings.

- A finding's state at any moment comes from its life (dashboard/timelines.py `life_spans`: open,
  suppressed and resolved spans rebuilt from its row, events and suppressions), so a finding
  resolved and reopened within the week, or suppressed, counts as it was then, not as it is now.
- New: opened or reopened during the week (whatever became of it since).  Resolved: resolved during
  the week and still resolved at its end.  Still open: open and not suppressed at its end.
- Only graded findings count (not info), as grades do.
- Grades come from the namespaces' grade intervals (NamespaceStatus) overlapping the week.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dashboard.queries import visible_clusters
from dashboard.timelines import (
    OPEN,
    RESOLVED,
    SUPPRESSED,
    FindingRow,
    Span,
    Window,
    alive_in,
    grade_intervals,
    life_history,
    life_spans,
)
from digest.period import Period
from digest.recipients import Recipient
from exposure.grades import CLUSTER_WIDE, GRADES
from exposure.models import Finding
from exposure.rules import SEVERITY_RANK
from inventory.models import Cluster

LIVE = (OPEN, SUPPRESSED)
EXPIRY_HORIZON = timedelta(days=7)  # "suppressions expiring next week"


@dataclass(frozen=True)
class FindingWeek:
    """One finding as the week saw it (no names: the digest reads those redacted, for the few shown)."""

    id: int
    cluster_id: int
    severity: str  # at the week's end (or when it was last open)
    first_seen: datetime
    since: datetime  # at least since: the oldest creation of what makes it true, else first seen
    path_count: int
    opened: bool  # opened or reopened during the week
    reopened: bool
    resolved: bool  # resolved during the week, still resolved at its end
    state: str  # at the week's end: open | suppressed | resolved
    suppressed_until: datetime | None = None  # suppressed at the end: when the last suppression ends


@dataclass(frozen=True)
class WeekCounts:
    new: int
    resolved: int
    open_by_severity: dict[str, int]  # open (unsuppressed) at the week's end

    @property
    def open(self) -> int:
        return sum(self.open_by_severity.values())


@dataclass(frozen=True)
class GradeChange:
    cluster_id: int
    namespace: str  # CLUSTER_WIDE ("") for the cluster's own grade (admins only)
    letters: tuple[str, ...]  # in order over the week, repeats collapsed
    appeared: bool  # no grade at the week's start: a namespace new this week
    removed: bool  # no grade at its end: the namespace is gone


@dataclass
class Week:
    period: Period
    clusters: list[Cluster]
    findings: list[FindingWeek] = field(default_factory=list)
    this: WeekCounts = field(default_factory=lambda: WeekCounts(0, 0, {}))
    before: WeekCounts = field(default_factory=lambda: WeekCounts(0, 0, {}))
    grade_changes: list[GradeChange] = field(default_factory=list)
    grades_at_end: dict[tuple[int, str], str] = field(default_factory=dict)  # (cluster, namespace) -> letter
    grades_at_start: dict[tuple[int, str], str] = field(default_factory=dict)

    @property
    def new(self) -> list[FindingWeek]:
        return sorted((f for f in self.findings if f.opened), key=_worst_then_oldest)

    @property
    def resolved(self) -> list[FindingWeek]:
        return sorted((f for f in self.findings if f.resolved), key=_worst_then_oldest)

    @property
    def still_open(self) -> list[FindingWeek]:
        """Open at the week's end, oldest first."""
        return sorted((f for f in self.findings if f.state == OPEN), key=lambda f: (f.since, f.id))

    @property
    def expiring(self) -> list[FindingWeek]:
        """Suppressed at the week's end by suppressions that all end within the next week."""
        horizon = self.period.end + EXPIRY_HORIZON
        held = [f for f in self.findings if f.suppressed_until and f.suppressed_until < horizon]
        return sorted(held, key=lambda f: (f.suppressed_until, f.id))

    @property
    def nothing_new(self) -> bool:
        return not (self.new or self.resolved or self.grade_changes or self.expiring)


def _worst_then_oldest(finding: FindingWeek) -> tuple:
    return (-SEVERITY_RANK.get(finding.severity, -1), finding.since, finding.id)


def recipient_clusters(recipient: Recipient) -> list[Cluster]:
    """The clusters the digest covers: those the scope sees (a cluster list's own, when it names some)."""
    clusters = visible_clusters(recipient.scope)
    if recipient.cluster_ids:
        clusters = clusters.filter(pk__in=recipient.cluster_ids)
    return list(clusters.order_by("name"))


def read_week(recipient: Recipient, period: Period) -> Week:
    """The recipient's week and the week before: five queries whatever the findings' number."""
    scope = recipient.scope
    clusters = recipient_clusters(recipient)
    week = Week(period, clusters)
    if not clusters:
        return week
    before = period.before()
    findings = alive_in(
        Finding.objects.restrict(scope)
        .filter(cluster_id__in=[c.pk for c in clusters])
        .exclude(severity="info"),
        Window(before.start, period.end),
    )
    rows = list(
        findings.order_by().values_list(
            "pk",
            "cluster_id",
            "first_seen",
            "status",
            "resolved_at",
            "severity",
            "at_least_since",
            "path_count",
        )
    )
    if rows:
        events, held = life_history(findings, scope)

        def life(row, until: datetime) -> list[Span]:
            pk, _, first_seen, status, resolved_at, severity, *_ = row
            return life_spans(
                FindingRow(first_seen, status, resolved_at, severity), events[pk], held[pk], until
            )

        lives = [(row, life(row, period.end)) for row in rows]
        week.findings = [
            _finding_week(row, spans, events[row[0]], held[row[0]], period) for row, spans in lives if spans
        ]
        week.this = _counts([spans for _, spans in lives], period)
        week.before = _counts([life(row, before.end) for row in rows], before)
    _read_grades(week, clusters, recipient)
    return week


def _finding_week(row: tuple, spans: list[Span], events, held, period: Period) -> FindingWeek:
    pk, cluster_id, first_seen, _status, _resolved_at, _severity, since, path_count = row
    window = Window(period.start, period.end)
    last = spans[-1]
    suppressed_until = _suppressed_until(events, held, period.end) if last.state == SUPPRESSED else None
    opened = [s for s in _openings(spans) if window.start <= s.start < window.end]
    return FindingWeek(
        id=pk,
        cluster_id=cluster_id,
        severity=_last_live_severity(spans),
        first_seen=first_seen,
        since=min(since, first_seen) if since else first_seen,
        path_count=path_count,
        opened=bool(opened),
        reopened=any(s.start > first_seen for s in opened),
        resolved=last.state == RESOLVED and window.start <= last.start < window.end,
        state=last.state,
        suppressed_until=suppressed_until,
    )


def _openings(spans: list[Span]) -> list[Span]:
    """The spans that start a live stretch: the first, and any after a resolved one (a reopening)."""
    return [s for i, s in enumerate(spans) if s.state in LIVE and (i == 0 or spans[i - 1].state == RESOLVED)]


def _last_live_severity(spans: list[Span]) -> str:
    live = [s for s in spans if s.state in LIVE]
    return (live or spans)[-1].severity


def _suppressed_until(events, held, moment: datetime) -> datetime | None:
    """When the suppressions in force at `moment` end (the latest expiry: the finding is open again
    then), as `life_spans` reads them: created, not lifted, not expired, evidence unchanged since."""
    changes = [at for at, kind, _ in events if kind == "evidence-changed"]
    ends = [
        expires
        for created, expires, lifted in held
        if created <= moment < expires
        and (lifted is None or lifted > moment)
        and not any(created < at <= moment for at in changes)
    ]
    return max(ends) if ends else None


def _counts(lives: list[list[Span]], period: Period) -> WeekCounts:
    """New, resolved and open-at-the-end counts of one week, from lives rebuilt up to its end."""
    new = resolved = 0
    open_by_severity: dict[str, int] = defaultdict(int)
    for spans in lives:
        if not spans:
            continue
        new += any(period.start <= s.start < period.end for s in _openings(spans))
        last = spans[-1]
        resolved += last.state == RESOLVED and period.start <= last.start < period.end
        if last.state == OPEN:
            open_by_severity[last.severity] += 1
    return WeekCounts(new, resolved, dict(open_by_severity))


def _read_grades(week: Week, clusters: list[Cluster], recipient: Recipient) -> None:
    """Each namespace's letters over the week from the intervals overlapping it: one query."""
    period = week.period
    rows = grade_intervals(clusters, recipient.scope, period.start, period.end).order_by(
        "cluster_id", "namespace", "valid_from"
    )
    by_namespace: dict[tuple[int, str], list] = defaultdict(list)
    for cluster_id, namespace, grade, valid_from_at, valid_to_at in rows.values_list(
        "cluster_id", "namespace", "grade", "valid_from_at", "valid_to_at"
    ):
        by_namespace[(cluster_id, namespace)].append((grade, valid_from_at, valid_to_at))
    for key, intervals in by_namespace.items():
        at_start = next(
            (
                g
                for g, start, end in intervals
                if start <= period.start and (end is None or end > period.start)
            ),
            None,
        )
        last_grade, _, last_end = intervals[-1]
        at_end = last_grade if last_end is None or last_end >= period.end else None
        if at_start:
            week.grades_at_start[key] = at_start
        if at_end:
            week.grades_at_end[key] = at_end
        letters = []
        for grade, start, _end in intervals:
            if (start >= period.start or not letters) and (not letters or letters[-1] != grade):
                letters.append(grade)
        # A namespace that came or went during the week is news only if it was ever exposed.
        came_or_went = (at_start is None or at_end is None) and set(letters) != {"A"}
        if len(letters) > 1 or came_or_went:
            week.grade_changes.append(
                GradeChange(key[0], key[1], tuple(letters), appeared=at_start is None, removed=at_end is None)
            )
    # The worst grade now first (the cluster's own before its namespaces'); namespaces gone last.
    week.grade_changes.sort(
        key=lambda c: (
            c.removed,
            _worst_letter(c.letters),
            c.cluster_id,
            c.namespace != CLUSTER_WIDE,
            c.namespace,
        )
    )


def _worst_letter(letters: tuple[str, ...]) -> int:
    """Sort key: the worst letter now (the last) first."""
    return -GRADES.index(letters[-1]) if letters[-1] in GRADES else 1
