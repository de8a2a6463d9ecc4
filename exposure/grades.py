"""Each namespace's grade and open-violation counts, kept as history that grows only with change.

The grade is set by the worst open violation into the namespace's data that is not suppressed and
not info: F critical, D high, C medium, B low, A none.  Violations are cross-tenant by construction
(paths inside a tenant and from platform workloads raise none).  Namespace "" carries the findings
attributed to the cluster as a whole.
"""

from collections import defaultdict

from django.db import transaction

from exposure.findings import by_status
from exposure.models import Finding, NamespaceStatus
from inventory.models import Snapshot

GRADE_BY_SEVERITY = {"critical": "F", "high": "D", "medium": "C", "low": "B"}
GRADED_SEVERITIES = tuple(GRADE_BY_SEVERITY)
CLUSTER_WIDE = ""


def grade_of(counts: dict[str, int]) -> str:
    for severity in GRADED_SEVERITIES:  # worst first
        if counts.get(severity):
            return GRADE_BY_SEVERITY[severity]
    return "A"


def current_counts(cluster_id: int, namespaces: list[str]) -> dict[str, dict[str, int]]:
    """namespace -> severity -> open, unsuppressed, graded findings (every namespace present)."""
    counts: dict[str, dict[str, int]] = {ns: {} for ns in [CLUSTER_WIDE, *namespaces]}
    open_findings = by_status(Finding.objects.filter(cluster_id=cluster_id), "open").exclude(severity="info")
    for severity, attributed in open_findings.values_list("severity", "namespaces"):
        for namespace in attributed or [CLUSTER_WIDE]:
            per = counts.setdefault(namespace, {})
            per[severity] = per.get(severity, 0) + 1
    return counts


def record_grades(snapshot: Snapshot, namespaces: list[str]) -> int:
    """Store what changed since the last recorded status of each namespace; returns rows written."""
    counts = current_counts(snapshot.cluster_id, namespaces)
    current = {
        s.namespace: s for s in NamespaceStatus.objects.filter(cluster_id=snapshot.cluster_id, valid_to=None)
    }
    to_close, to_create = [], []
    for namespace, per in counts.items():
        grade = grade_of(per)
        row = current.pop(namespace, None)
        if row is not None and row.grade == grade and row.counts == per:
            continue
        if row is not None:
            to_close.append(row.pk)
        to_create.append(
            NamespaceStatus(
                cluster_id=snapshot.cluster_id,
                namespace=namespace,
                grade=grade,
                counts=per,
                valid_from=snapshot.seq,
                valid_from_at=snapshot.taken_at,
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
    """namespace -> its status intervals in time order (one query), optionally from `since` on."""
    rows = NamespaceStatus.objects.filter(cluster_id=cluster_id)
    if namespace is not None:
        rows = rows.filter(namespace=namespace)
    if since is not None:
        rows = rows.exclude(valid_to_at__lte=since)  # ended by then: no overlap
    result: dict[str, list[dict]] = defaultdict(list)
    for row in rows.order_by("namespace", "valid_from"):
        result[row.namespace].append(
            {"grade": row.grade, "counts": row.counts, "from": row.valid_from_at, "to": row.valid_to_at}
        )
    return dict(result)
