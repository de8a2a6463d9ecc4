"""The namespaces list: every namespace the reader may see, in one cluster or across them, with its
grade (and its cluster's), tenant, owners and where they came from, PVC count, open findings by
severity and its trend over 7 days; filtered, sorted and paginated by one form.

Rows are read per cluster with a fixed number of queries (the namespaces, the current grades, the
grades a week before, the open findings counted by the database): what the list filters and sorts
by, for every namespace.  Only the page shown is completed with what costs most at scale (its PVCs
and pods counted, its owners); PVCs are counted for every namespace only to sort by them.  Every
read goes through the reader's scope, and every choice the filter offers or accepts comes from the
rows the reader may see, so another tenant's name filters to nothing, exactly like a name that
exists nowhere.
"""

from datetime import timedelta

from django import forms
from django.db.models import Count, Exists, OuterRef, Q
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from dashboard.kept_counts import kept_for_admins
from dashboard.queries import cluster_grade, current_grades, namespace_rows, object_counts
from exposure.models import Finding, FindingNamespace, NamespaceStatus, Suppression
from exposure.rules import SEVERITIES
from inventory.models import Cluster, Snapshot
from tenancy.boundaries import SOLO_PREFIX
from tenancy.ownership import owners_of
from tenancy.scope import Scope

NAMESPACES_PER_PAGE = 50
TREND_WINDOW = timedelta(days=7)
GRADES = ("A", "B", "C", "D", "F")
GRADE_RANK = {grade: rank for rank, grade in enumerate(GRADES)}  # worse is higher; no grade is -1
WORST_FIRST = tuple(reversed(SEVERITIES))
NO_TENANT = "-"  # the tenant filter's value for namespaces without the tenant label (each its own)
# Django's own messages echo the value; a value named in a URL may be another tenant's name.
NOT_OFFERED = {"invalid_choice": "Not one of the values offered here."}


def _grade_rank(status: NamespaceStatus | None) -> int:
    return GRADE_RANK.get(status.grade, -1) if status else -1


def _graded_total(status: NamespaceStatus | None) -> int:
    return sum((status.counts or {}).values()) if status else 0


def trend(then: NamespaceStatus | None, now: NamespaceStatus | None) -> dict:
    """How a namespace's grade moved over the window: worse, better, same, or no grade then."""
    change = _graded_total(now) - _graded_total(then)
    if then is None:
        direction = "unknown"
    elif _grade_rank(now) != _grade_rank(then):
        direction = "worse" if _grade_rank(now) > _grade_rank(then) else "better"
    elif change:
        direction = "worse" if change > 0 else "better"
    else:
        direction = "same"
    score = {"worse": 2, "unknown": 0, "same": 0, "better": -2}[direction]
    return {
        "then": then.grade if then else "",
        "now": now.grade if now else "",
        "direction": direction,
        "change": change,
        # Sorting key: grade moves outweigh count moves, which outweigh nothing.
        "score": (score, _grade_rank(now) - _grade_rank(then) if then else 0, change),
    }


def grades_at(cluster: Cluster, scope: Scope, when) -> dict[str, NamespaceStatus]:
    """namespace -> its grade and counts as they stood at `when` (one query over the intervals)."""
    statuses = (
        NamespaceStatus.objects.restrict(scope)
        .filter(cluster=cluster, valid_from_at__lte=when)
        .filter(Q(valid_to_at__isnull=True) | Q(valid_to_at__gt=when))
    )
    return {s.namespace: s for s in statuses}


def open_findings_by_namespace(cluster: Cluster, scope: Scope) -> dict[str, dict[str, int]]:
    """namespace -> severity -> its own open (unsuppressed) findings, counted by the database; the
    cluster-wide ones are the cluster's (its grade, in the Cluster column), as in the grades.  An
    admin's (every attribution of the cluster) kept while the findings stand."""
    return kept_for_admins(cluster, scope, "open-by-namespace", lambda: _open_by_namespace(cluster, scope))


def _open_by_namespace(cluster: Cluster, scope: Scope) -> dict[str, dict[str, int]]:
    # One join of the attributions with their findings (by_status's "open" spelled on the join: a
    # selection of open findings' ids joined again read the large findings table twice).
    held = Suppression.objects.filter(
        finding=OuterRef("finding_id"),
        lifted_at__isnull=True,
        expires_at__gt=timezone.now(),
        evidence_key=OuterRef("finding__evidence_key"),
    )
    counted = (
        FindingNamespace.objects.restrict(scope)
        .filter(finding__cluster=cluster, finding__cluster_wide=False, finding__status=Finding.Status.OPEN)
        .filter(~Exists(held))
        .order_by()
        .values_list("namespace", "finding__severity")
        .annotate(n=Count("finding_id"))
    )
    result: dict[str, dict[str, int]] = {}
    for namespace, severity, n in counted:
        result.setdefault(namespace, {})[severity] = n
    return result


def cluster_rows(snapshot: Snapshot, scope: Scope, pvcs: bool = False) -> list[dict]:
    """The rows of one cluster's namespaces the reader may see, as of `snapshot` (its latest), with
    what the list filters and sorts by (name, tenant, grade, open findings, trend) and, when `pvcs`
    (sorting by it), the PVC count.  `complete` adds the rest (owners, PVCs, pods) to the rows of the
    page shown: counting every namespace's objects cost most of a large cluster's list."""
    cluster = snapshot.cluster
    now = current_grades(cluster, scope)
    # Restricted: only the namespaces the reader sees.
    listed = namespace_rows(snapshot, scope, counted=False, grades=now)
    then = grades_at(cluster, scope, snapshot.taken_at - TREND_WINDOW)
    findings = open_findings_by_namespace(cluster, scope)
    cluster_wide = cluster_grade(cluster, scope, now)  # for a tenant: what reaches their namespaces
    if pvcs:
        counts = object_counts(snapshot, scope, [row["name"] for row in listed], ["PersistentVolumeClaim"])
        for row in listed:
            row["pvcs"] = counts.get((row["name"], "PersistentVolumeClaim"), 0)
    rows = []
    for row in listed:
        found = findings.get(row["name"], {})
        rows.append(
            {
                **row,
                "snapshot": snapshot,
                "cluster": cluster.name,
                "tenant_labelled": not row["tenant"].startswith(SOLO_PREFIX),
                "cluster_grade": cluster_wide,
                "findings": [(s, found[s]) for s in WORST_FIRST if found.get(s)],
                "open_findings": sum(found.values()),
                "trend": trend(then.get(row["name"]), now.get(row["name"])),
            }
        )
    return rows


def visible_rows(scope: Scope, clusters, pvcs: bool = False) -> list[dict]:
    """The rows of every namespace the reader may see in `clusters` (each at its latest snapshot)."""
    rows = []
    for cluster in clusters:
        latest = cluster.latest_visible_snapshot()
        if latest is not None:
            rows += cluster_rows(latest, scope, pvcs)
    return rows


def complete(rows: list[dict], scope: Scope) -> list[dict]:
    """The rows of one page with what only the page shows: owners and where they came from, PVC and
    pod counts.  A fixed number of queries per cluster on the page, whatever the page's size."""
    by_cluster: dict[int, list[dict]] = {}
    for row in rows:
        by_cluster.setdefault(row["snapshot"].cluster_id, []).append(row)
    completed = {}
    for shown in by_cluster.values():
        snapshot = shown[0]["snapshot"]
        names = [row["name"] for row in shown]
        counts = object_counts(snapshot, scope, names)
        owners = owners_of(snapshot.cluster, only=names)
        for row in shown:
            name = row["name"]
            completed[id(row)] = {
                **row,
                "pvcs": counts.get((name, "PersistentVolumeClaim"), 0),
                "pods": counts.get((name, "Pod"), 0),
                "owners": [
                    {"kind": o.kind, "name": o.name, "source": o.source, "trusted": o.trusted}
                    for o in owners.get(name, [])
                ],
            }
    return [completed[id(row)] for row in rows]


def _findings_key(row: dict) -> tuple:
    counts = dict(row["findings"])
    return tuple(counts.get(s, 0) for s in WORST_FIRST)


SORT_KEYS = {
    "grade": lambda row: (_grade_rank(row["grade"]), _findings_key(row)),
    "name": lambda row: (row["name"], row["cluster"]),
    "cluster": lambda row: (row["cluster"], row["name"]),
    "tenant": lambda row: (row["tenant"].startswith(SOLO_PREFIX), row["tenant"], row["name"]),
    "pvcs": lambda row: row["pvcs"],
    "findings": _findings_key,
    "trend": lambda row: row["trend"]["score"],
}
SORT_CHOICES = [
    ("-grade", "worst grade first"),
    ("grade", "best grade first"),
    ("-findings", "most open findings first"),
    ("findings", "fewest open findings first"),
    ("-trend", "worsened most first"),
    ("trend", "improved most first"),
    ("name", "name A-Z"),
    ("-name", "name Z-A"),
    ("cluster", "cluster A-Z"),
    ("-cluster", "cluster Z-A"),
    ("tenant", "tenant A-Z"),
    ("-tenant", "tenant Z-A"),
    ("-pvcs", "most PVCs first"),
    ("pvcs", "fewest PVCs first"),
]
DEFAULT_SORT = "-grade"  # lists rank by the namespace's own exposure


def sort_rows(rows: list[dict], sort: str) -> list[dict]:
    """Rows in `sort` order ("-key" descending), ties by cluster and name (stable: sorted twice)."""
    descending = sort.startswith("-")
    key = SORT_KEYS[sort.lstrip("-")]
    ordered = sorted(rows, key=lambda row: (row["cluster"], row["name"]))
    return sorted(ordered, key=key, reverse=descending)


class NamespaceFilter(forms.Form):
    """The list's query string: which namespaces, in which order.  Built over the rows the reader may
    see; an invalid query string lists nothing (and names no value back)."""

    cluster = forms.ChoiceField(required=False, error_messages=NOT_OFFERED)
    q = forms.CharField(required=False, max_length=253, label="Name contains")
    grade = forms.MultipleChoiceField(
        required=False,
        choices=[(g, g) for g in GRADES],
        widget=forms.CheckboxSelectMultiple,
        error_messages=NOT_OFFERED,
    )
    tenant = forms.ChoiceField(required=False, error_messages=NOT_OFFERED)
    findings = forms.ChoiceField(
        required=False,
        label="Open findings",
        choices=[("", "any"), ("yes", "some"), ("no", "none")],
        error_messages=NOT_OFFERED,
    )
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, error_messages=NOT_OFFERED)

    def __init__(self, data, rows: list[dict], clusters: list[str] | None):
        """`clusters`: the clusters to offer (None: the list is one cluster's, no cluster filter)."""
        super().__init__(data)
        self.rows = rows
        if clusters is None:
            del self.fields["cluster"]
        else:
            self.fields["cluster"].choices = [("", "any")] + [(c, c) for c in clusters]
        tenants = sorted({row["tenant"] for row in rows if row["tenant_labelled"]})
        self.fields["tenant"].choices = (
            [("", "any")] + [(t, t) for t in tenants] + [(NO_TENANT, "none (each its own)")]
        )

    def value(self, name: str):
        cleaned = getattr(self, "cleaned_data", {}).get(name)
        return cleaned or {"sort": DEFAULT_SORT}.get(name, cleaned)

    def selected(self) -> list[dict]:
        """The rows the filter selects, sorted; none when the query string is not valid."""
        if not self.is_valid():
            return []
        rows = self.rows
        if cluster := self.value("cluster"):
            rows = [row for row in rows if row["cluster"] == cluster]
        if text := self.value("q"):
            rows = [row for row in rows if text.casefold() in row["name"].casefold()]
        if grades := self.value("grade"):
            rows = [row for row in rows if row["grade"] and row["grade"].grade in grades]
        if tenant := self.value("tenant"):
            if tenant == NO_TENANT:
                rows = [row for row in rows if not row["tenant_labelled"]]
            else:
                rows = [row for row in rows if row["tenant"] == tenant]
        if (findings := self.value("findings")) in ("yes", "no"):
            rows = [row for row in rows if bool(row["open_findings"]) == (findings == "yes")]
        return sort_rows(rows, self.value("sort"))


# Sortable columns: the sort key and the direction a first click sorts in.
SORTABLE = {"grade": "-", "name": "", "cluster": "", "tenant": "", "pvcs": "-", "findings": "-", "trend": "-"}


def sort_links(query, current: str, base: str = "") -> dict[str, dict]:
    """column -> {"href", "aria"}: each sortable header a link that sorts by it (a second click
    reverses), keeping the filters and going back to the first page.  `base`: the list's URL when
    the table is shown elsewhere (the cluster page)."""
    links = {}
    for column, first in SORTABLE.items():
        if current.lstrip("-") == column:
            aria = "descending" if current.startswith("-") else "ascending"
            target = column if current.startswith("-") else f"-{column}"
        else:
            aria, target = "", f"{first}{column}"
        params = query.copy()
        params["sort"] = target
        params.pop("page", None)
        links[column] = {"href": f"{base}?{params.urlencode()}", "aria": aria}
    return links


def first_page(cluster: Cluster, rows: list[dict], scope: Scope) -> dict:
    """The first page of one cluster's namespaces list (default order), for the cluster page."""
    filters = NamespaceFilter({}, rows, None)
    url = reverse("cluster_namespaces", args=[cluster.name])
    return {
        "rows": complete(filters.selected()[:NAMESPACES_PER_PAGE], scope),
        "total": len(rows),
        "list_url": url,
        "sort_links": sort_links(QueryDict(), DEFAULT_SORT, url),
    }
