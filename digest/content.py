"""What a digest says (issue 12): the recipient's week (digest/week.py) and the paths to fix first
(digest/fix_first.py), rendered as an email's subject, plain-text and HTML parts.

- Everything is read through the recipient's Scope, and every finding shown is its redacted summary
  (dashboard.queries.redacted_findings): an owner's digest names only what their pages name.
- The templates (digest/templates/digest/: mail, not pages under the CSP) write mail that common
  clients show as meant: inline styles, no script, no image, no external stylesheet; the trend is
  drawn with table cells.  Every link leads to
  the site (`site_url`); a recipient without an account is sent through the sign-in page (`next=`)
  and told how to ask for access.  Django's autoescaping keeps tenant-controlled text inert.
- A week with nothing new (no finding opened or resolved, no grade moved, no suppression ending next
  week) makes a one-line "no change" digest.
- `content_hash` is of what the recipient reads: the subject and the text part without the
  unsubscribe link (a token that may differ from one sending to the next).
"""

import hashlib
import re
import textwrap
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from django.template.loader import render_to_string
from django.urls import reverse

from dashboard.queries import redacted_findings, refs_as_needed
from digest.fix_first import Breadth, fix_first
from digest.period import Period
from digest.recipients import Recipient
from digest.week import Week, read_week
from exposure.findings import for_summary
from exposure.grades import CLUSTER_WIDE, GRADES
from exposure.models import Finding

LISTED = 10  # findings listed per section; the rest are counted, a link away
TEXT_WIDTH = 78  # the text part's paragraphs are wrapped to this
NAMESPACES_NAMED = 4  # a finding's namespaces named in a line; the rest counted
TEXT_BAR = 24  # characters of the widest trend bar in the text part
# Why an address without an account gets the digest, and how it gets to the pages.
WHY = {
    "owner": "owns namespaces the storage exposure dashboard watches",
    "cluster-list": "is on the digest list of the clusters it covers",
    "admin": "is a dashboard administrator's address",
}
ACCESS_TEXT = (
    "You get this digest because {} {}, but it has no dashboard account. To open the pages these links "
    "lead to, ask a dashboard administrator for an account for this address; until then each link "
    "opens the sign-in page."
)
SEVERITY_COLOURS = {"critical": "#b3261e", "high": "#d9480f", "medium": "#b7791f", "low": "#1c6fb0"}
GRADE_COLOURS = {"A": "#2b8a3e", "B": "#5c940d", "C": "#b7791f", "D": "#d9480f", "F": "#b3261e"}


@dataclass(frozen=True)
class Digest:
    subject: str
    text: str
    html: str
    content_hash: str  # of what the recipient reads (not of volatile parts such as links' tokens)
    nothing_new: bool  # nothing changed this week: a one-line "no change" digest (or none, if silenced)


def build_digest(
    recipient: Recipient, period: Period, site_url: str = "", unsubscribe_url: str = ""
) -> Digest:
    week = read_week(recipient, period)
    links = Links(site_url, recipient.has_account)
    context = _context(recipient, week, links)
    subject = _subject(week, context)
    template = "digest/no_change" if week.nothing_new else "digest/digest"
    read = {**context, "subject": subject, "unsubscribe_url": ""}
    body = _text(f"{template}.txt", read)
    sent = {**read, "unsubscribe_url": unsubscribe_url}
    return Digest(
        subject=subject,
        text=_text(f"{template}.txt", sent) if unsubscribe_url else body,
        html=render_to_string(f"{template}.html", sent),
        content_hash=hashlib.sha256(f"{subject}\n{body}".encode()).hexdigest(),
        nothing_new=week.nothing_new,
    )


def _text(template: str, context: dict) -> str:
    """The plain-text part: the template's output without the blank lines its tags leave."""
    return re.sub(r"\n{3,}", "\n\n", render_to_string(template, context)).strip() + "\n"


@dataclass(frozen=True)
class Links:
    """Absolute links to the site; through the sign-in page for a recipient without an account."""

    site_url: str
    has_account: bool

    def to(self, path: str) -> str:
        if not self.has_account:
            path = f"{reverse('login')}?{urlencode({'next': path})}"
        return f"{self.site_url.rstrip('/')}{path}"

    def finding(self, finding_id: int) -> str:
        return self.to(reverse("finding", args=[finding_id]))


def _context(recipient: Recipient, week: Week, links: Links) -> dict:
    period = week.period
    shown_ids = {
        f.id
        for section in (week.new, week.resolved, week.still_open, week.expiring)
        for f in section[:LISTED]
    }
    first = fix_first(week.still_open, recipient.scope)
    shown_ids |= {f.id for f, _ in first}
    summaries = _summaries(recipient, shown_ids, period.end)
    clusters = {c.pk: c.name for c in week.clusters}
    tz = period.end.tzinfo

    def item(fact, breadth: Breadth | None = None, notes: bool = True) -> dict:
        shown = summaries[fact.id]
        return {
            "id": fact.id,
            "severity": fact.severity,
            "colour": SEVERITY_COLOURS.get(fact.severity, "#555555"),
            "title": shown["title"],
            "cluster": shown["cluster"],
            "namespaces": _namespaces(shown),
            "since": _day(fact.since, tz),
            "link": links.finding(fact.id),
            "remediation": shown["remediation"],
            # The text part's paragraphs, wrapped under their label.
            "remediation_text": _wrapped("   Fix: ", shown["remediation"]),
            "path_text": _wrapped("   Path: ", _path_line(shown["paths"][0])) if shown["paths"] else "",
            "head_text": _wrapped(
                "- ", f"[{fact.severity.upper()}] {shown['title']}{_notes(fact) if notes else ''}"
            ),
            "reopened": fact.reopened,
            "state": fact.state,
            "expires": _moment(fact.suppressed_until, tz) if fact.suppressed_until else "",
            "opens_to": breadth.describe() if breadth else "",
            "path": _path_line(shown["paths"][0]) if shown["paths"] else "",
        }

    def section(facts, notes: bool = True) -> dict:
        # A finding gone between the two reads (its cluster deleted) is left out, not an error.
        items = [item(f, notes=notes) for f in facts[:LISTED] if f.id in summaries]
        return {"items": items, "more": max(0, len(facts) - LISTED)}

    namespaces_now = {k: g for k, g in week.grades_at_end.items() if k[1] != CLUSTER_WIDE}
    worst = max(namespaces_now.values(), key=GRADES.index, default="")
    counts = {
        "new": week.this.new,
        "resolved": week.this.resolved,
        "open": week.this.open,
        "expiring": len(week.expiring),
    }
    return {
        "recipient": recipient,
        "week_key": period.key,
        "week_range": f"{_day(period.start, tz)} to {_day(period.end, tz)}",
        "counts": counts,
        "grade_phrase": _grade_phrase(worst, sum(g == worst for g in namespaces_now.values())),
        "worst_grade": worst,
        "worst_colour": GRADE_COLOURS.get(worst, "#555555"),
        "watched": bool(week.clusters) and bool(namespaces_now or week.findings),
        "fix_first": [
            {**shown, "head_text": _wrapped(f"{rank}. ", f"[{shown['severity'].upper()}] {shown['title']}")}
            for rank, shown in enumerate((item(f, breadth) for f, breadth in first if f.id in summaries), 1)
        ],
        "new": section(week.new),
        "resolved": section(week.resolved, notes=False),  # resolved is what the section says
        "still_open": section(week.still_open),
        "expiring": section(week.expiring),
        "grade_changes": [
            {
                "cluster": clusters.get(change.cluster_id, ""),
                "namespace": change.namespace,
                "letters": [{"letter": g, "colour": GRADE_COLOURS.get(g, "#555555")} for g in change.letters],
                "arrow": " → ".join(change.letters),
                "appeared": change.appeared,
                "removed": change.removed,
            }
            for change in week.grade_changes
        ],
        "trend": _trend(week),
        "dashboard_link": links.to(reverse("overview")),
        "findings_link": links.to(reverse("findings")),
        "has_account": recipient.has_account,
        "why": WHY.get(recipient.kind, WHY["owner"]),
        "access_text": _wrapped(
            "", ACCESS_TEXT.format(recipient.address, WHY.get(recipient.kind, WHY["owner"]))
        ),
    }


def _summaries(recipient: Recipient, ids: set[int], now: datetime) -> dict[int, dict]:
    """The findings shown, as their redacted summaries: a fixed number of queries (and the reader of
    each cluster once)."""
    if not ids:
        return {}
    findings = for_summary(Finding.objects.restrict(recipient.scope).filter(pk__in=ids), now).order_by("pk")
    findings = refs_as_needed(findings, recipient.scope)
    return {shown["id"]: shown for shown in redacted_findings(findings, recipient.scope)}


def _path_line(path: dict) -> str:
    """One path in a line: who reaches what, through what (redacted already)."""
    actor = (path.get("actor") or {}).get("identity", "")
    hops = [hop.get("ref", "") for hop in path.get("hops") or []][:3]
    data = (path.get("data") or [""])[0]
    through = f" through {' → '.join(hops)}" if hops else ""
    return f"{actor} has {path.get('access', '')} access to {data}{through}"


def _notes(fact) -> str:
    return (" (reopened)" if fact.reopened else "") + (
        " (resolved since)" if fact.state == "resolved" else ""
    )


def _wrapped(label: str, text: str) -> str:
    """`text` wrapped under `label`; names (refs with hyphens and slashes) are never cut."""
    return textwrap.fill(
        text,
        width=TEXT_WIDTH,
        initial_indent=label,
        subsequent_indent=" " * len(label),
        break_long_words=False,
        break_on_hyphens=False,
    )


def _namespaces(shown: dict) -> str:
    """A finding's namespaces in a few words: a cluster-wide one reaches them all."""
    if shown.get("cluster_wide"):
        return "every namespace (cluster-wide)"
    names = shown["namespaces"]
    if not names:
        return "the cluster as a whole"
    if len(names) > NAMESPACES_NAMED:
        return f"{', '.join(names[:NAMESPACES_NAMED])} and {len(names) - NAMESPACES_NAMED} more"
    return ", ".join(names)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _grade_phrase(worst: str, how_many: int) -> str:
    if not worst:
        return "no namespace graded"
    if worst == "A":
        return "every namespace graded A"
    return f"grade {worst} in {how_many} namespace{'s' if how_many != 1 else ''}"


def _subject(week: Week, context: dict) -> str:
    counts = context["counts"]
    if week.nothing_new:
        headline = f"no change — {counts['open']} open, {context['grade_phrase']}"
    else:
        changes = len(week.grade_changes)
        parts = [
            f"{counts['new']} new" if counts["new"] else "",
            f"{counts['resolved']} resolved" if counts["resolved"] else "",
            _plural(counts["expiring"], "suppression", "suppressions") + " ending"
            if counts["expiring"]
            else "",
            _plural(changes, "grade", "grades") + " changed" if changes and not counts["new"] else "",
        ]
        headline = f"{', '.join(p for p in parts if p)} — {context['grade_phrase']}"
    return f"Storage exposure {week.period.key}: {headline}"


def _trend(week: Week) -> dict:
    """This week against the week before: open findings at each week's end by severity (as bars),
    new and resolved, and how many namespaces have each grade at the week's start and end."""
    rows = [("The week before", week.before), ("This week", week.this)]
    widest = max(1, *(counts.open for _, counts in rows))
    bars = []
    for label, counts in rows:
        segments = [
            {
                "severity": severity,
                "count": n,
                "percent": max(1, round(100 * n / widest)),
                "colour": SEVERITY_COLOURS.get(severity, "#555555"),
            }
            for severity in ("critical", "high", "medium", "low")
            if (n := counts.open_by_severity.get(severity, 0))
        ]
        filled = sum(s["percent"] for s in segments)
        bars.append(
            {
                "label": label,
                "open": counts.open,
                "new": counts.new,
                "resolved": counts.resolved,
                "segments": segments,
                "rest": max(0, 100 - filled),
                "text_bar": "█" * round(TEXT_BAR * counts.open / widest),
                "by_severity": ", ".join(f"{s['count']} {s['severity']}" for s in segments),
            }
        )
    delta = week.this.open - week.before.open
    grades = []
    for letter in reversed(GRADES):
        before = sum(g == letter for (_, ns), g in week.grades_at_start.items() if ns != CLUSTER_WIDE)
        now = sum(g == letter for (_, ns), g in week.grades_at_end.items() if ns != CLUSTER_WIDE)
        if before or now:
            grades.append({"letter": letter, "before": before, "now": now, "colour": GRADE_COLOURS[letter]})
    return {
        "bars": bars,
        "delta": f"{delta:+d}" if delta else "no change",
        "direction": "worse" if delta > 0 else "better" if delta < 0 else "",
        "grades": grades,
    }


def _day(moment: datetime, tz) -> str:
    return moment.astimezone(tz).strftime("%d %b %Y")


def _moment(moment: datetime, tz) -> str:
    return moment.astimezone(tz).strftime("%a %d %b %H:%M %Z")
