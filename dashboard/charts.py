"""The pages' Plotly charts, as figure dicts built from data already scoped to the reader.

A chart is {"id", "title", "figure": {"data", "layout"}, "summary"}: a page renders it with
`{% include "dashboard/parts/chart.html" with chart=... %}` (the figure travels as json_script,
static/js/charts.js draws it) and the summary is the text under it, for print and screen readers.
The builders below take the readers' results (dashboard/timelines.py); the `*_charts` functions at the
end call those readers with the reader's Scope and are what the views use.

Any text that comes from a cluster (a finding's title) is escaped for plotly.js, which reads `<…>` in
its labels as markup.
"""

from datetime import UTC, datetime

from django.urls import reverse

from dashboard import timelines
from dashboard.timelines import OPEN, RESOLVED, SUPPRESSED, Life, Series, Span, Window
from exposure.models import Finding
from inventory.models import Cluster
from tenancy.scope import Scope

# The severity and grade colours of static/css/dashboard.css (.sev-*, .grade-*); low and info are pale
# badges there, so their chart colour is the badge's border colour (a test keeps them in step).
SEVERITY_COLOURS = {
    "critical": "#c62828",
    "high": "#ef6c00",
    "medium": "#f9a825",
    "low": "#7cb342",
    "info": "#90a4ae",
}
GRADE_COLOURS = {"A": "#2e7d32", "B": "#7cb342", "C": "#f9a825", "D": "#ef6c00", "F": "#c62828"}
SUPPRESSED_COLOUR = "#9e9e9e"  # hatched as well, so it reads on a black-and-white printout
RESOLVED_COLOUR = "#c8e6c9"
FONT = {"family": 'system-ui, -apple-system, "Segoe UI", sans-serif', "size": 12, "color": "#1d2330"}
GRID = "#e3e6eb"
TOP_LEGEND = {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"}  # above charts of any height


def _when(moment: datetime) -> str:
    """A time as plotly.js reads dates (no offset: it would ignore it) and as the pages show them: UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _shown(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _day(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d")


def plotly_text(text: str) -> str:
    """Text plotly.js shows as text: it reads <b>, <a href>, <span style> … in labels as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _layout(height: int, **extra) -> dict:
    layout = {
        "height": height,
        "margin": {"l": 48, "r": 16, "t": 8, "b": 40},
        "font": FONT,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "showlegend": True,
        "legend": {"orientation": "h", "x": 0, "y": -0.18, "yanchor": "top"},
        "hoverlabel": {"font": FONT, "bgcolor": "#ffffff"},
    }
    layout.update(extra)
    return layout


def _date_axis(window: Window | None) -> dict:
    """A date axis over the window (or over what is drawn); times are UTC, as everywhere on the pages."""
    axis = {"type": "date", "gridcolor": GRID, "hoverformat": "%Y-%m-%d %H:%M UTC", "automargin": True}
    if window is not None:
        axis["range"] = [_when(window.start), _when(window.end)]
    return axis


def _chart(chart_id: str, title: str, data: list, layout: dict, summary: str) -> dict:
    return {"id": chart_id, "title": title, "figure": {"data": data, "layout": layout}, "summary": summary}


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {key}" for key, n in counts.items() if n)


# --- open findings by severity over time -------------------------------------------------------


def open_findings_chart(series: Series, chart_id: str, title: str, subject: str) -> dict:
    """A stacked step chart of open (unsuppressed) findings by severity, worst at the bottom."""
    times = [_when(t) for t in series.times] + [_when(series.window.end)]
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "name": severity,
            "x": times,
            "y": values + values[-1:],  # the last step lasts until the window's end
            "stackgroup": "open",
            "line": {"shape": "hv", "width": 1, "color": SEVERITY_COLOURS[severity]},
            "fillcolor": SEVERITY_COLOURS[severity],
            "hovertemplate": f"%{{y}} {severity}<extra></extra>",
        }
        for severity, values in series.counts.items()
    ]
    totals = [sum(values[i] for values in series.counts.values()) for i in range(len(series.times))]
    peak = max(totals, default=0)
    yaxis = {"title": {"text": "open findings"}, "rangemode": "tozero", "gridcolor": GRID, "fixedrange": True}
    if peak <= 10:
        yaxis.update(dtick=1, range=[0, max(peak, 1) + 0.5])
    layout = _layout(300, xaxis=_date_axis(series.window), yaxis=yaxis, hovermode="x unified")
    layout["legend"]["traceorder"] = "normal"  # worst first, as the traces (stacking would reverse it)
    period = f"from {_day(series.window.start)} to {_day(series.window.end)}"
    if not peak:
        summary = f"No open finding {subject} {period}."
        layout["annotations"] = [_empty_note("No open finding in this period")]
    else:
        at_peak = series.times[totals.index(peak)]
        now = series.at_end()
        summary = (
            f"Open findings {subject} {period}: {sum(now.values())} at the end"
            f"{f' ({_counted(now)})' if now else ''}, {totals[0]} at the start, "
            f"at most {peak} (from {_shown(at_peak)} UTC). Suppressed findings are not counted."
        )
    return _chart(chart_id, title, data, layout, summary)


def _empty_note(text: str) -> dict:
    return {
        "text": text,
        "xref": "paper",
        "yref": "paper",
        "x": 0.5,
        "y": 0.5,
        "showarrow": False,
        "font": {"color": "#66707f"},
    }


# --- grade distribution -----------------------------------------------------------------------


def grade_distribution_chart(counts: dict[str, int], chart_id: str, title: str, subject: str) -> dict:
    """How many namespaces have each grade now, A to F, in the grades' colours."""
    grades = list(counts)
    data = [
        {
            "type": "bar",
            "x": grades,
            "y": [counts[g] for g in grades],
            "marker": {"color": [GRADE_COLOURS.get(g, "#999999") for g in grades]},
            "text": [str(counts[g]) for g in grades],
            "textposition": "outside",
            "cliponaxis": False,
            "hovertemplate": "%{y} namespaces graded %{x}<extra></extra>",
            "showlegend": False,
        }
    ]
    total = sum(counts.values())
    yaxis = {"title": {"text": "namespaces"}, "rangemode": "tozero", "gridcolor": GRID, "fixedrange": True}
    if max(counts.values(), default=0) <= 10:
        yaxis["dtick"] = 1
    layout = _layout(
        300,
        xaxis={"type": "category", "title": {"text": "grade"}, "fixedrange": True},
        yaxis=yaxis,
        showlegend=False,
        hovermode="closest",
    )
    layout["margin"] = {**layout["margin"], "t": 20}
    if total:
        summary = f"{total} namespace{'s' if total != 1 else ''} {subject}, by grade now: {_counted(counts)}."
    else:
        summary = f"No graded namespace {subject}."
        layout["annotations"] = [_empty_note("No graded namespace")]
    return _chart(chart_id, title, data, layout, summary)


# --- lives: open, suppressed and resolved spans on a date axis ----------------------------------


def _span_style(state: str, severity: str) -> tuple[str, dict]:
    """A trace's name and marker for spans of one state (open: of one severity)."""
    if state == OPEN:
        return f"open · {severity}", {"color": SEVERITY_COLOURS.get(severity, "#999999")}
    if state == SUPPRESSED:
        return "suppressed", {
            "color": "#ffffff",
            "line": {"color": SUPPRESSED_COLOUR, "width": 1},
            "pattern": {"shape": "/", "fgcolor": SUPPRESSED_COLOUR, "size": 6, "solidity": 0.4},
        }
    return "resolved", {"color": RESOLVED_COLOUR, "line": {"color": "#81a784", "width": 1}}


def _trace_order(key: tuple[str, str]) -> tuple:
    state, severity = key
    rank = list(SEVERITY_COLOURS).index(severity) if severity in SEVERITY_COLOURS else 9
    return ({OPEN: 0, SUPPRESSED: 1, RESOLVED: 2}[state], rank if state == OPEN else 0)


def _span_traces(rows: list[tuple[str, list[Span], str, str]]) -> list[dict]:
    """Horizontal bars from each span's start, as long as it lasted: one trace per state (and severity
    when open), so that the legend says what each colour means.  rows: (label, spans, hover title,
    the page a click on its bars opens or "")."""
    traces: dict[tuple[str, str], dict] = {}
    for label, spans, about, href in rows:
        for span in spans:
            if span.end <= span.start:
                continue
            key = (span.state, span.severity if span.state == OPEN else "")
            if key not in traces:
                name, marker = _span_style(span.state, span.severity)
                traces[key] = {
                    "type": "bar",
                    "orientation": "h",
                    "name": name,
                    "y": [],
                    "x": [],
                    "base": [],
                    "customdata": [],
                    "marker": marker,
                    "width": 0.6,
                    "hovertemplate": (
                        f"%{{customdata.about}}<br>{name}"
                        "<br>%{customdata.from} → %{customdata.to} (UTC)<extra></extra>"
                    ),
                }
            trace = traces[key]
            trace["y"].append(label)
            trace["base"].append(_when(span.start))
            trace["x"].append((span.end - span.start).total_seconds() * 1000)
            trace["customdata"].append(
                {
                    "about": about,
                    "from": _shown(span.start),
                    "to": "now" if span.ongoing else _shown(span.end),
                    "href": href,
                }
            )
    return [traces[key] for key in sorted(traces, key=_trace_order)]


def _span_text(span: Span) -> str:
    what = f"open ({span.severity})" if span.state == OPEN else span.state
    if span.ongoing:
        return f"{what} since {_shown(span.start)}"
    return f"{what} {_shown(span.start)} → {_shown(span.end)}"


def finding_life_chart(spans: list[Span], chart_id: str = "chart-finding-life") -> dict:
    """One finding's life: a row per state it has been in, its spans on a date axis."""
    states = [s for s in (OPEN, SUPPRESSED, RESOLVED) if any(span.state == s for span in spans)]
    data = _span_traces([(state, [s for s in spans if s.state == state], "", "") for state in states])
    for trace in data:
        trace["hovertemplate"] = trace["hovertemplate"].replace("%{customdata.about}<br>", "")
    layout = _layout(
        70 + 40 * max(len(states), 1),
        xaxis=_date_axis(None),  # from its first sight until now: the bars decide the range
        yaxis={"type": "category", "categoryarray": states, "autorange": "reversed", "fixedrange": True},
        barmode="overlay",
        hovermode="closest",
    )
    layout["legend"] = TOP_LEGEND
    layout["margin"] = {**layout["margin"], "l": 90, "t": 30}
    summary = "; ".join(_span_text(span) for span in spans) + " (UTC)." if spans else "No history recorded."
    return _chart(
        chart_id, "Its life: open, suppressed and resolved", data, layout, summary[:1].upper() + summary[1:]
    )


def finding_lives_chart(
    lives: list[Life], total: int, window: Window, chart_id: str = "chart-namespace-lives"
) -> dict:
    """Each finding's life, a row per finding (labelled by id and rule), open and worst first."""
    rows = [
        (
            f"#{life.id} {life.rule}",
            life.spans,
            plotly_text(life.title),
            reverse("finding", kwargs={"finding": life.id}),
        )
        for life in lives
    ]
    labels = [row[0] for row in rows]
    layout = _layout(
        90 + 26 * max(len(rows), 1),
        xaxis=_date_axis(window),
        yaxis={
            "type": "category",
            "categoryarray": labels,
            "autorange": "reversed",
            "automargin": True,
            "fixedrange": True,
        },
        barmode="overlay",
        hovermode="closest",
    )
    layout["legend"] = TOP_LEGEND
    layout["margin"] = {**layout["margin"], "t": 30}
    states = {
        state: sum(1 for life in lives if life.status == state) for state in (OPEN, SUPPRESSED, RESOLVED)
    }
    if total:
        drawn = f" (the first {len(lives)} drawn; the findings list has all)" if total > len(lives) else ""
        period = f"from {_day(window.start)} to {_day(window.end)}"
        summary = (
            f"{total} finding{'s' if total != 1 else ''} {period}{drawn}: "
            f"{_counted(states) or 'none drawn'} now."
        )
    else:
        summary = f"No finding from {_day(window.start)} to {_day(window.end)}."
        layout["annotations"] = [_empty_note("No finding in this period")]
    return _chart(chart_id, "Its findings' lives", _span_traces(rows), layout, summary)


# --- the charts each page shows (readers take the reader's Scope) -------------------------------


def cluster_charts(cluster: Cluster, scope: Scope) -> dict:
    """The overview's charts of one cluster: open findings over time, namespaces by grade."""
    window = timelines.window_of(cluster, scope)
    subject = f"of {cluster.name}"
    return {
        "open": open_findings_chart(
            timelines.cluster_open_series(cluster, scope, window, kept=True),
            f"chart-open-{cluster.pk}",
            "Open findings by severity",
            subject,
        ),
        "grades": grade_distribution_chart(
            timelines.grade_distribution(cluster, scope),
            f"chart-grades-{cluster.pk}",
            "Namespaces by grade",
            subject if scope.admin else f"{subject} that you may see",
        ),
    }


def namespace_charts(cluster: Cluster, namespace: str, scope: Scope) -> dict:
    """A namespace page's charts (context keys): its open findings over time and its findings' lives."""
    window = timelines.window_of(cluster, scope)
    lives, total = timelines.namespace_lives(cluster, namespace, scope, window)
    return {
        "namespace_open_chart": open_findings_chart(
            timelines.namespace_open_series(cluster, namespace, scope, window),
            "chart-namespace-open",
            "Open findings by severity",
            "of this namespace",
        ),
        "namespace_lives_chart": finding_lives_chart(lives, total, window),
    }


def finding_chart(finding: Finding, scope: Scope) -> dict:
    """A finding page's chart: its life."""
    return finding_life_chart(timelines.finding_life(finding, scope))
