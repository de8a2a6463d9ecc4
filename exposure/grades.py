"""Each namespace's grade and open-violation counts, and the cluster's, kept as history that grows
only with change.

A grade is set by the worst open violation that is not suppressed and not info: F critical, D high,
C medium, B low, A none.  Violations are cross-tenant by construction (paths inside a tenant and from
platform workloads raise none).

- A namespace's grade counts its own exposure: the findings attributed to it that are not
  cluster-wide.
- The cluster's grade (namespace "" = CLUSTER_WIDE) counts the findings attributed to no namespace
  and the cluster-wide ones: those whose actor reaches every namespace by the nature of its grant
  (`Finding.cluster_wide`, decided by the rule for each hit: a cluster-scoped resource, a power bound
  cluster-wide or in a platform namespace).  The criterion is the grant's reach, never the number of
  namespaces a finding happens to hit: in a cluster of one tenant namespace, a RoleBinding there is
  still that namespace's own exposure.  A cluster-wide finding stays attributed to every namespace it
  reaches, so each namespace's readers see it and the pages show it beside the namespace's grade.
- A row is written only when a grade or its counts change; `grade_since` is when the grade took its
  current letter (carried over while only the counts move; a namespace that reappears starts anew).
- Only the namespaces present in the snapshot have a current grade: a namespace that is gone (or
  never was: a PV pre-bound to a namespace nobody created) keeps its history, closed, and is not
  counted as current anywhere; a finding attributed to none of the present namespaces grades the
  cluster (it is attributed to no namespace there is).  A snapshot that did not read Namespaces
  keeps every namespace graded before: unread is not absent.
"""

from collections import defaultdict

from django.db import transaction

from exposure.findings import by_status
from exposure.models import Finding, NamespaceStatus
from inventory.models import Snapshot

GRADE_BY_SEVERITY = {"critical": "F", "high": "D", "medium": "C", "low": "B"}
GRADED_SEVERITIES = tuple(GRADE_BY_SEVERITY)
GRADES = ("A", "B", "C", "D", "F")  # best first
CLUSTER_WIDE = ""


def grade_of(counts: dict[str, int]) -> str:
    for severity in GRADED_SEVERITIES:  # worst first
        if counts.get(severity):
            return GRADE_BY_SEVERITY[severity]
    return "A"


def exposure_rank(grade: str, counts: dict[str, int]) -> tuple:
    """A sort key, worst first: the grade, then how many findings of each severity, worst first.
    Lists rank namespaces by this over their own grade and counts (never the cluster-wide ones)."""
    letter = GRADES.index(grade) if grade in GRADES else -1
    return (-letter, *(-(counts or {}).get(severity, 0) for severity in GRADED_SEVERITIES))


def graded_findings(cluster_id: int):
    """The findings that set grades: open, not suppressed, not info."""
    return by_status(Finding.objects.filter(cluster_id=cluster_id), "open").exclude(severity="info")


def current_counts(cluster_id: int, namespaces: list[str]) -> dict[str, dict[str, int]]:
    """namespace -> severity -> its own graded findings, for each of `namespaces` (the present ones);
    "" -> the cluster's (cluster-wide, or attributed to none of `namespaces`)."""
    counts: dict[str, dict[str, int]] = {ns: {} for ns in [CLUSTER_WIDE, *namespaces]}
    rows = graded_findings(cluster_id).values_list("severity", "namespaces", "cluster_wide")
    for severity, attributed, cluster_wide in rows:
        present = [] if cluster_wide else [ns for ns in attributed or [] if ns and ns in counts]
        for namespace in present or [CLUSTER_WIDE]:
            per = counts[namespace]
            per[severity] = per.get(severity, 0) + 1
    return counts


def record_grades(snapshot: Snapshot, namespaces: list[str]) -> int:
    """Store what changed since the last recorded status of each of `namespaces` (those present in
    the snapshot) and of the cluster; returns rows written."""
    current = {
        s.namespace: s for s in NamespaceStatus.objects.filter(cluster_id=snapshot.cluster_id, valid_to=None)
    }
    present = set(namespaces)
    if "Namespace" in (snapshot.unread or {}):
        present |= set(current) - {CLUSTER_WIDE}  # not seen this time is not gone
    counts = current_counts(snapshot.cluster_id, sorted(present - {CLUSTER_WIDE}))
    to_close, to_create = [], []
    for namespace, per in counts.items():
        grade = grade_of(per)
        row = current.pop(namespace, None)
        if row is not None and row.grade == grade and row.counts == per:
            continue
        if row is not None:
            to_close.append(row.pk)
        same_letter = row is not None and row.grade == grade
        to_create.append(
            NamespaceStatus(
                cluster_id=snapshot.cluster_id,
                namespace=namespace,
                grade=grade,
                counts=per,
                valid_from=snapshot.seq,
                valid_from_at=snapshot.taken_at,
                grade_since=row.grade_since if same_letter else snapshot.seq,
                grade_since_at=row.grade_since_at if same_letter else snapshot.taken_at,
            )
        )
    to_close += [row.pk for row in current.values()]  # namespaces gone since
    with transaction.atomic():
        NamespaceStatus.objects.filter(pk__in=to_close).update(
            valid_to=snapshot.seq, valid_to_at=snapshot.taken_at
        )
        NamespaceStatus.objects.bulk_create(to_create)
    return len(to_close) + len(to_create)


def timeline(cluster_id: int, namespace: str | None = None, since=None) -> dict[str, list[dict]]:
    """namespace -> its status intervals in time order (one query), optionally from `since` on.
    "" is the cluster's own (cluster-wide) grade."""
    rows = NamespaceStatus.objects.filter(cluster_id=cluster_id)
    if namespace is not None:
        rows = rows.filter(namespace=namespace)
    if since is not None:
        rows = rows.exclude(valid_to_at__lte=since)  # ended by then: no overlap
    result: dict[str, list[dict]] = defaultdict(list)
    for row in rows.order_by("namespace", "valid_from"):
        result[row.namespace].append(
            {
                "grade": row.grade,
                "counts": row.counts,
                "from": row.valid_from_at,
                "to": row.valid_to_at,
                "grade_since": row.grade_since_at,
            }
        )
    return dict(result)
