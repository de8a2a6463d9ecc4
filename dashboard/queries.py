"""Read-side queries over the versioned inventory, shared by pages, exports, the API and the digest.

Every function takes the reader's `Scope` (tenancy.access.scope_of) and reads through
`.restrict(scope)`; paths and findings that reach beyond the reader's namespaces go through
tenancy/redaction.py.  There is no reader here that takes no scope.
"""

from collections.abc import Iterable, Iterator
from datetime import datetime

import orjson
from django.db import connection
from django.db.models import Case, Count, F, Func, IntegerField, JSONField, Q, Value, When
from django.utils import timezone

from arrays.stored_parties import with_admitted
from arrays.volume_access import INLINE_VOLUME_ACCESS, VOLUME_ACCESS
from dashboard.kept_counts import kept_for_admins
from dashboard.path_groups import grade_severity
from exposure.analyse import EXPOSURE_PATHS
from exposure.findings import by_status, effective_status, for_summary, in_namespace, summary
from exposure.grades import CLUSTER_WIDE, exposure_rank, grade_of, graded_findings
from exposure.models import Finding, FindingEvent, NamespaceStatus, Suppression
from exposure.rules import SEVERITIES, SEVERITY_RANK
from inventory.fields import as_mapping
from inventory.json_column import JSONColumn
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.refs import array_ref, k8s_ref
from inventory.state import DERIVED_SCOPE
from inventory.times import rfc3339
from tenancy.access import namespace_tenants
from tenancy.boundaries import tenant_of_namespace
from tenancy.ownership import owners_of
from tenancy.redaction import (
    Reader,
    listed_finding,
    redact_event,
    redact_finding,
    redact_subject,
    scrub,
    visible_paths,
)
from tenancy.scope import Scope

# The namespace page lists its worst findings; the findings page, filtered by namespace, lists them all
# (a large cluster attributes a namespace findings from all over it: storage networks, shared nodes).
NAMESPACE_FINDINGS_SHOWN = 50


def severity_rank():
    """A finding's severity as a number the database sorts by, the worst highest."""
    return Case(
        *(When(severity=s, then=Value(rank)) for s, rank in SEVERITY_RANK.items()),
        default=Value(-1),
        output_field=IntegerField(),
    )


def visible_clusters(scope: Scope):
    return Cluster.objects.restrict(scope)


_READERS = "_dashboard_readers"  # on a Cluster instance: its readers, built once per page


def reader_for(scope: Scope, cluster: Cluster) -> Reader:
    """The reader's view of `cluster` for tenancy/redaction.py: the tenants of the namespaces they see
    and their own volumes, as of its latest visible snapshot.  Read once per page (one Cluster
    instance) and per snapshot: the first call costs four queries, any later one one."""
    if scope.admin:
        return Reader.of(scope, cluster.pk, {}, frozenset())
    latest = cluster.latest_visible_snapshot()
    visible = scope.visible_in(cluster.pk)
    key = (latest.pk if latest else None, cluster.tenant_label, visible)
    readers = vars(cluster).setdefault(_READERS, {})
    if key not in readers:
        tenants = namespace_tenants(cluster, visible) if latest else {}  # of their own namespaces only
        volumes = own_volumes(latest, visible) if latest else frozenset()
        readers[key] = Reader.of(scope, cluster.pk, tenants, volumes)
    return readers[key]


def own_volumes(snapshot: Snapshot, namespaces: frozenset[str]) -> frozenset[str]:
    """The volumes the reader may see named (tenancy/redaction.py), from the derived access records
    (one per PV, kept in its claim's namespace; one per inline volume, in its pod's): the PVs ever
    claimed in one of `namespaces` up to `snapshot` and the array objects behind them or behind those
    namespaces' inline volumes (the reader's data, today's and what their findings' history names),
    and the PVs no namespace claims as of `snapshot`, with the array objects behind them (the
    cluster's).  One query on the namespace index: it grows with the reader's namespaces, not the
    cluster."""
    records = (
        InventoryObject.objects.filter(
            cluster_id=snapshot.cluster_id,
            scope=DERIVED_SCOPE,
            kind__in=[VOLUME_ACCESS, INLINE_VOLUME_ACCESS],
            valid_from__lte=snapshot.seq,
        )
        .filter(
            Q(namespace__in=sorted(namespaces))
            | (
                Q(namespace="", kind=VOLUME_ACCESS)
                & (Q(valid_to__isnull=True) | Q(valid_to__gt=snapshot.seq))
            )
        )
        .order_by()
        # Two reads of each record's data, not three: on PostgreSQL each one decompresses the whole
        # (large, TOASTed) record, which is most of this query's time for a reader of many namespaces.
        .values_list("kind", "name", "data__array", "data__object")
        .distinct()
    )
    refs = set()
    for kind, name, array, held in records:
        if kind == VOLUME_ACCESS:
            refs.add(k8s_ref("PersistentVolume", name))
        object_kind, object_name = (
            (held.get("kind"), held.get("name")) if isinstance(held, dict) else (None, None)
        )
        if all(isinstance(v, str) and v for v in (array, object_kind, object_name)):
            refs.add(array_ref(array, object_kind, object_name))
    return frozenset(refs)


def namespace_exists(snapshot: Snapshot, namespace: str, scope: Scope) -> bool:
    """Whether the reader may see `namespace` and it exists as of `snapshot`: else a page is a 404.
    When the snapshot did not read Namespaces, a namespace its objects are in exists too."""
    if not scope.sees(snapshot.cluster_id, namespace):
        return False
    state = InventoryObject.objects.as_of(snapshot).restrict(scope).filter(scope="")
    if state.filter(kind="Namespace", name=namespace).exists():
        return True
    return namespaces_unread(snapshot) and state.filter(namespace=namespace).exists()


def namespaces_unread(snapshot: Snapshot) -> bool:
    """The snapshot did not read Namespace objects (a partial dump): namespaces are known from the
    objects in them, without labels, so without tenant, owners or Pod Security level."""
    return "Namespace" in (snapshot.unread or {})


def namespace_rows(
    snapshot: Snapshot,
    scope: Scope,
    only: list[str] | None = None,
    counted: bool = True,
    grades: dict[str, NamespaceStatus] | None = None,
) -> list[dict]:
    """The namespaces of `snapshot` the reader may see (`only` these, for one page of a list), with
    their tenant and object counts (None unless `counted`: counting a large cluster's PVCs and pods
    is the costly part, `object_counts` counts a page's), and their current grade (own exposure),
    ranked worst first by it; then by name.  `grades`: the current grades, when the caller read them."""
    cluster = snapshot.cluster
    state = InventoryObject.objects.as_of(snapshot).restrict(scope).filter(scope="")
    # restrict() already keeps only the Namespaces the reader sees.
    namespaces = state.filter(kind="Namespace")
    if only is not None:
        namespaces = namespaces.filter(name__in=only)
    names = dict(namespaces.values_list("name", "data"))
    unread = set()
    if namespaces_unread(snapshot):
        found = state.exclude(namespace="").order_by().values_list("namespace", flat=True).distinct()
        if only is not None:
            found = found.filter(namespace__in=only)
        unread = {name for name in found if name not in names}
        names.update(dict.fromkeys(unread))
    counts = object_counts(snapshot, scope, list(names)) if counted else None
    grades = current_grades(cluster, scope, only) if grades is None else grades
    rows = [
        {
            "name": name,
            "tenant": "" if name in unread else tenant_of_namespace(name, data, cluster.tenant_label),
            "namespace_unread": name in unread,
            "created": as_mapping(as_mapping(data).get("metadata")).get("creationTimestamp"),
            "pvcs": counts.get((name, "PersistentVolumeClaim"), 0) if counts is not None else None,
            "pods": counts.get((name, "Pod"), 0) if counts is not None else None,
            "grade": grades.get(name),
        }
        for name, data in sorted(names.items())
    ]
    return sorted(rows, key=lambda row: _rank(row["grade"]))


def worst_namespaces(snapshot: Snapshot, scope: Scope, count: int) -> list[dict]:
    """The first `count` rows of `namespace_rows` (the reader's namespaces of `snapshot`, worst own
    exposure first) graded below A.  Ranked from the grades' letters and counts alone, and only the
    worst present ones read as rows: a large cluster has thousands graded below A, and reading every
    namespace's object and grade row whole cost most of the overview."""
    graded = (
        NamespaceStatus.objects.restrict(scope)
        .filter(cluster_id=snapshot.cluster_id, valid_to=None)
        .exclude(namespace=CLUSTER_WIDE)
        .exclude(grade="A")
        .values_list("namespace", "grade", "counts")
    )
    # namespace_rows' order: by name, then (stably) by rank.
    ranked = [name for name, grade, counts in sorted(graded, key=lambda g: (exposure_rank(g[1], g[2]), g[0]))]
    if namespaces_unread(snapshot):
        shown = ranked  # namespaces known from their objects: namespace_rows finds which are present
    else:  # a graded namespace may be gone from the snapshot: only the present ones, by name alone
        present = set(
            InventoryObject.objects.as_of(snapshot)
            .restrict(scope)
            .filter(scope="", kind="Namespace", name__in=ranked)
            .values_list("name", flat=True)
        )
        shown = [name for name in ranked if name in present][:count]
    rows = namespace_rows(snapshot, scope, only=shown, counted=False)
    return [row for row in rows if row["grade"] is not None and row["grade"].grade != "A"][:count]


def object_counts(
    snapshot: Snapshot, scope: Scope, namespaces: list[str], kinds=("PersistentVolumeClaim", "Pod")
) -> dict[tuple[str, str], int]:
    """(namespace, kind) -> how many objects of `kinds` each of `namespaces` holds as of `snapshot`:
    counted by the database (a large cluster has a hundred thousand pods), one query."""
    counted = (
        InventoryObject.objects.as_of(snapshot)
        .restrict(scope)
        .filter(scope="", namespace__in=sorted(namespaces), kind__in=list(kinds))
        .values_list("namespace", "kind")
        .annotate(n=Count("pk"))
    )
    return {(namespace, kind): n for namespace, kind, n in counted}


def _rank(status: NamespaceStatus | None) -> tuple:
    return exposure_rank(status.grade, status.counts) if status else (1,)  # ungraded last


def namespace_contents(snapshot: Snapshot, namespace: str, scope: Scope) -> dict:
    """PVCs, the PVs claimed by them, pods, and each volume's access record, as of `snapshot`."""
    state = InventoryObject.objects.as_of(snapshot).restrict(scope)
    kubernetes = state.filter(scope="")
    claimed = kubernetes.filter(kind="PersistentVolume", data__spec__claimRef__namespace=namespace)
    access = (
        state.filter(scope=DERIVED_SCOPE, kind__in=[VOLUME_ACCESS, INLINE_VOLUME_ACCESS], namespace=namespace)
        .order_by("kind", "name")
        .values_list("name", "data")
    )
    volume_access = [{"name": name, **data} for name, data in access]
    with_admitted(snapshot, volume_access)
    return {
        "pvcs": list(kubernetes.filter(kind="PersistentVolumeClaim", namespace=namespace).order_by("name")),
        "pvs": list(claimed.order_by("name")),
        "pods": list(kubernetes.filter(kind="Pod", namespace=namespace).order_by("name")),
        "volume_access": volume_access,
    }


def visible_snapshot(cluster: Cluster, scope: Scope, as_of: int | datetime | None = None) -> Snapshot | None:
    """The cluster as the reader asks for it: its latest visible (complete or partial) snapshot, the
    visible snapshot with id `as_of`, or the latest visible one taken at or before the time `as_of`."""
    snapshots = Snapshot.objects.restrict(scope).filter(cluster=cluster, status__in=Snapshot.VISIBLE)
    if isinstance(as_of, int) and not isinstance(as_of, bool):
        return snapshots.filter(pk=as_of).first()
    if as_of is not None:
        snapshots = snapshots.filter(taken_at__lte=as_of)
    return snapshots.order_by("-seq").first()


def inventory_as_of(snapshots: list[Snapshot], scope: Scope):
    """The inventory (objects and derived records) of several clusters, each as of its snapshot,
    that the reader may see: one query however many clusters, for lists across them."""
    condition = Q(pk__in=[])
    for snapshot in snapshots:
        condition |= Q(cluster_id=snapshot.cluster_id, valid_from__lte=snapshot.seq) & (
            Q(valid_to__isnull=True) | Q(valid_to__gt=snapshot.seq)
        )
    return InventoryObject.objects.restrict(scope).filter(condition)


def namespace_objects(snapshots: list[Snapshot], scope: Scope):
    """The Namespace objects the reader may see, each cluster as of its snapshot: rows to page
    through and pass to `namespace_rows` (`only` their names)."""
    return inventory_as_of(snapshots, scope).filter(scope="", kind="Namespace")


def volume_records(snapshots: list[Snapshot], scope: Scope):
    """Every volume's access record (a PV's, an inline pod volume's) the reader may see, as of the
    snapshots: rows to page through and pass to `volume_rows`."""
    return inventory_as_of(snapshots, scope).filter(
        scope=DERIVED_SCOPE, kind__in=[VOLUME_ACCESS, INLINE_VOLUME_ACCESS]
    )


def volume_rows(records, snapshots: list[Snapshot], scope: Scope) -> list[dict]:
    """A page of access records (from `volume_records`) as the reader may see them: the PVC and PV,
    the array object, its gates and whom it admits with the verdicts.  Three queries per cluster on the
    page (its namespaces' tenants, its PVs' claims, the party lists its records name), whatever the
    page's size."""
    records = list(records)
    by_cluster = {s.cluster_id: s for s in snapshots}
    readers: dict[int, Reader] = {}
    claims: dict[tuple[int, str], str] = {}
    for cluster_id in sorted({r.cluster_id for r in records}):
        snapshot = by_cluster[cluster_id]
        readers[cluster_id] = reader_for(scope, snapshot.cluster)
        pvs = [r.name for r in records if r.cluster_id == cluster_id and r.kind == VOLUME_ACCESS]
        if pvs:
            claimed = (
                InventoryObject.objects.as_of(snapshot)
                .restrict(scope)
                .filter(scope="", kind="PersistentVolume", name__in=pvs)
                .values_list("name", "data__spec__claimRef__name")
            )
            claims.update({(cluster_id, pv): claim for pv, claim in claimed})
    for cluster_id, snapshot in by_cluster.items():
        with_admitted(snapshot, (r.data for r in records if r.cluster_id == cluster_id))
    rows = []
    for record in records:
        reader, data = readers[record.cluster_id], record.data or {}
        is_pv = record.kind == VOLUME_ACCESS
        rows.append(
            {
                "cluster": by_cluster[record.cluster_id].cluster.name,
                "namespace": record.namespace,
                "kind": record.kind,
                "name": record.name,
                "subject": scrub(data.get("subject") or "", reader),
                "pvc": claims.get((record.cluster_id, record.name)) if is_pv else None,
                "pv": record.name if is_pv else None,
                "namespaces": [n for n in data.get("namespaces") or [] if reader.sees(n)],
                **{key: data.get(key) for key in VOLUME_FIELDS},
                "problem": scrub(data.get("problem") or "", reader),
                "gates": data.get("gates") or [],
                "unknown": bool(data.get("unknown")),
                "admitted": data.get("admitted") or [],
            }
        )
    return rows


# What a volume's access record says of where its data lives (arrays/volume_access.py `record`).
VOLUME_FIELDS = ("path", "backend", "driver", "array", "array_status", "object", "protocol")


def grades_as_of(
    snapshot: Snapshot, scope: Scope, only: list[str] | None = None
) -> dict[str, NamespaceStatus]:
    """namespace -> its grade and open-violation counts as they were at `snapshot` (the intervals
    valid then; for the latest snapshot, the current ones)."""
    statuses = (
        NamespaceStatus.objects.restrict(scope)
        .filter(cluster_id=snapshot.cluster_id, valid_from__lte=snapshot.seq)
        .filter(Q(valid_to__isnull=True) | Q(valid_to__gt=snapshot.seq))
    )
    if only is not None:
        statuses = statuses.filter(namespace__in=only)
    return {s.namespace: s for s in statuses}


def current_grades(
    cluster: Cluster, scope: Scope, only: list[str] | None = None
) -> dict[str, NamespaceStatus]:
    """namespace -> its current grade and counts of its own exposure, with `grade_since_at` (when the
    grade took its letter).  "" (CLUSTER_WIDE) is the cluster's: admins only.  Of `only` these
    namespaces when given (a page's few, not every namespace of a large cluster)."""
    statuses = NamespaceStatus.objects.restrict(scope).filter(cluster=cluster, valid_to=None)
    if only is not None:
        statuses = statuses.filter(namespace__in=sorted(only))
    return {s.namespace: s for s in statuses}


def cluster_wide_counts(cluster: Cluster, scope: Scope, namespace: str | None = None) -> dict[str, int]:
    """severity -> open, unsuppressed cluster-wide findings (actors that reach every namespace) the
    reader may see, those that reach `namespace` when given: shown beside a namespace's own grade,
    which does not count them.  One query."""
    findings = graded_findings(cluster.pk).restrict(scope).filter(cluster_wide=True)
    if namespace is not None:
        findings = in_namespace(findings, namespace)
    counted = dict(findings.order_by().values_list("severity").annotate(n=Count("pk", distinct=True)))
    return {severity: counted[severity] for severity in reversed(SEVERITIES) if counted.get(severity)}


def cluster_grade(cluster: Cluster, scope: Scope, grades: dict | None = None) -> dict:
    """The cluster's grade as the reader may see it: for admins the cluster's own row (cluster-wide
    findings and those attributed to no namespace, with since when); for anyone else the cluster-wide
    findings that reach their namespaces (no date: the cluster's history is admins')."""
    if scope.admin:
        status = (grades if grades is not None else current_grades(cluster, scope)).get(CLUSTER_WIDE)
        if status is None:
            return {}
        return {"grade": status.grade, "counts": status.counts, "since": status.grade_since_at}
    counts = cluster_wide_counts(cluster, scope)
    return {"grade": grade_of(counts), "counts": counts, "since": None}


def worst_namespace(rows: list[dict]) -> dict | None:
    """The first graded row of `namespace_rows` (ranked worst first), if any."""
    return next((row for row in rows if row["grade"] is not None), None)


def visible_findings(scope: Scope):
    """The findings the reader may see (attributed to one of their namespaces), with what their
    `summary` reads (suppression, last seen) and what their redaction reads of their refs, in a
    constant number of queries."""
    return refs_as_needed(for_summary(Finding.objects.restrict(scope)), scope)


def refs_as_needed(findings, scope: Scope):
    """`findings` with their refs read only where the reader's redaction may decide by them
    (`deciding_refs`, none elsewhere): a finding attributed to a thousand namespaces holds a megabyte
    of refs, and reading it for each row of a list was most of a page's time.  An admin's redaction
    reads none; a tenant's, only those of a finding whose namespaces the tenant all sees (one that
    names another is redacted for that alone: tenancy/redaction.py `_involves_hidden`).  Other
    databases than PostgreSQL read them all (the same answers)."""
    none = Value([], output_field=JSONColumn())
    if scope.admin:
        deciding = none
    elif connection.vendor == "postgresql":
        # "" stands for the cluster in `namespaces` (redaction ignores it there too).
        deciding = Case(
            *(
                When(Q(cluster_id=cluster_id, namespaces__contained_by=sorted({"", *seen})), then=F("refs"))
                for cluster_id, seen in sorted(scope.namespaces.items())
            ),
            default=none,
            output_field=JSONColumn(),
        )
    else:
        deciding = F("refs")
    return findings.defer("refs").annotate(deciding_refs=deciding)


def _deciding_refs(finding: Finding) -> list:
    """The refs a finding's redaction decides by: as `refs_as_needed` read them, else all of them."""
    return finding.deciding_refs if hasattr(finding, "deciding_refs") else finding.refs


def finding_arrays(scope: Scope) -> list[str]:
    """The arrays the reader's findings rest on (`array:NAME` in their `depends`): an admin's per
    cluster, each kept while the cluster's findings stand (every finding's `depends` read otherwise)."""
    if scope.admin:
        arrays = set()
        for cluster in visible_clusters(scope):
            of_cluster = Finding.objects.restrict(scope).filter(cluster=cluster)
            arrays.update(kept_for_admins(cluster, scope, "finding-arrays", lambda f=of_cluster: _arrays(f)))
        return sorted(arrays)
    return sorted(_arrays(Finding.objects.restrict(scope)))


def _arrays(findings) -> set[str]:
    arrays = set()
    for depends in findings.order_by().values_list("depends", flat=True).distinct():
        arrays.update(token[len("array:") :] for token in depends or [] if token.startswith("array:"))
    return arrays


def redacted_findings(findings, scope: Scope):
    """Each finding (of any cluster) as a `summary`, redacted for the reader: for lists and exports.
    One reader per cluster, so the cost does not grow with the findings."""
    readers: dict[int, Reader] = {}
    for finding in findings:
        if finding.cluster_id not in readers:
            readers[finding.cluster_id] = reader_for(scope, finding.cluster)
        shown = redact_finding(
            {**summary(finding), "refs": _deciding_refs(finding)}, readers[finding.cluster_id]
        )
        yield {**shown, "cluster_id": finding.cluster_id}


class PathEnds(Func):
    """A finding's stored paths reduced to what redaction decides by (each path's `namespace` and
    `data`), by PostgreSQL: a path is a few kilobytes of hops and mitigations, decoded for nothing
    in a list.  Other databases hand the paths whole (the result is the same)."""

    output_field = JSONField()

    def as_sql(self, compiler, connection, **extra_context):
        return compiler.compile(self.source_expressions[0])

    def as_postgresql(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, template=self.ENDS, **extra_context)

    ENDS = (
        "(SELECT COALESCE(jsonb_agg(jsonb_build_object('namespace', p -> 'namespace', 'data', p -> 'data')),"
        " '[]'::jsonb) FROM jsonb_path_query(%(expressions)s, '$[*]') AS p)"
    )


# What a list or export of findings reads of each: the columns it shows, and what decides its status.
LISTED_FIELDS = (
    "id",
    "cluster_id",
    "cluster__name",
    "rule",
    "severity",
    "status",
    "namespaces",
    "title",
    "detail",
    "first_seen",
    "at_least_since",
    "resolved_at",
    "path_count",
)


def listed_findings(findings, scope: Scope) -> Iterator[dict]:
    """Each finding of `findings` (a filtered, sorted queryset with `suppressed`, as
    `dashboard.filters.FindingFilter.selected` makes it) as a list or export shows it, redacted for the
    reader (`tenancy.redaction.listed_finding`).  Only the columns shown are read (and, for a reader
    who is not an admin, the refs and the paths' namespaces and data), in chunks: the cost grows with
    the rows and nothing else, a constant few per cluster besides."""
    return listed_rows(listed_columns(findings, scope).iterator(chunk_size=2000), scope)


def listed_columns(findings, scope: Scope):
    """`findings` reading only what `listed_rows` needs of each (not their paths, evidence or detail
    beyond the columns shown)."""
    fields = LISTED_FIELDS if scope.admin else (*LISTED_FIELDS, "cluster__tenant_label")
    shown = findings.select_related("cluster").only(*fields)
    if not scope.admin:
        if "deciding_refs" not in shown.query.annotations:
            shown = refs_as_needed(shown, scope)
        shown = shown.annotate(path_ends=PathEnds("paths"))
    return shown


def listed_rows(findings: Iterable[Finding], scope: Scope, cluster: Cluster | None = None) -> Iterator[dict]:
    """Each finding read through `listed_columns`, as a list shows it to the reader.  `cluster`: the
    page's own, whose reader the page has built already (each finding's is another instance)."""
    readers: dict[int, Reader] = {cluster.pk: reader_for(scope, cluster)} if cluster else {}
    for finding in findings:
        if finding.cluster_id not in readers:
            readers[finding.cluster_id] = reader_for(scope, finding.cluster)
        row = {
            "id": finding.pk,
            "cluster_id": finding.cluster_id,
            "cluster": finding.cluster.name,
            "rule": finding.rule,
            "severity": finding.severity,
            "status": effective_status(finding),
            "namespaces": finding.namespaces,
            "title": finding.title,
            "detail": finding.detail,
            "first_seen": rfc3339(finding.first_seen),
            "at_least_since": rfc3339(finding.at_least_since),
            "resolved_at": rfc3339(finding.resolved_at),
            "path_count": finding.path_count,
        }
        decided_by = {} if scope.admin else {"refs": finding.deciding_refs, "paths": finding.path_ends}
        yield {**row, **listed_finding({**row, **decided_by}, readers[finding.cluster_id])}


def finding_history(finding: Finding, shown: dict, scope: Scope) -> list[dict]:
    """The finding's events, oldest first, redacted like the finding (`shown`: its redacted summary)."""
    reader = reader_for(scope, finding.cluster)
    events = FindingEvent.objects.restrict(scope).filter(finding=finding).order_by("at", "pk")
    return [
        {
            "at": e.at,
            "seq": e.seq,
            "kind": e.kind,
            "detail": redact_event(e.detail, reader, shown.get("redacted", False)),
        }
        for e in events
    ]


def active_suppression(finding: Finding, shown: dict, scope: Scope) -> dict | None:
    """The suppression in force on the finding (`shown`: its redacted summary), if any."""
    suppression = (
        Suppression.objects.restrict(scope)
        .filter(
            finding=finding,
            lifted_at__isnull=True,
            evidence_key=finding.evidence_key,
            expires_at__gt=timezone.now(),
        )
        .select_related("created_by")
        .first()
    )
    if suppression is None:
        return None
    return {
        # An admin's free text may name anything: not shown beside a finding that involves another tenant.
        "reason": ""
        if shown.get("redacted")
        else scrub(suppression.reason, reader_for(scope, finding.cluster)),
        "expires_at": suppression.expires_at,
        "created_at": suppression.created_at,
        "by": suppression.created_by.get_username() if suppression.created_by else "",
    }


def finding_summaries(findings, reader: Reader) -> list[dict]:
    """Findings (their cluster selected with them) as `summary` shapes, redacted for the reader."""
    return [redact_finding({**summary(f), "refs": _deciding_refs(f)}, reader) for f in findings]


def namespace_exposure(snapshot: Snapshot, namespace: str, scope: Scope) -> dict:
    """The namespace's grade, its NAMESPACE_FINDINGS_SHOWN worst findings (open, then suppressed, then
    resolved; the worst first) and how many it has, as many of the open findings that set its grade
    and how many those are, and every exposure path into its data as of `snapshot` (inside its tenant
    and from platform workloads included)."""
    cluster = snapshot.cluster
    reader = reader_for(scope, cluster)
    findings = in_namespace(visible_findings(scope).filter(cluster=cluster), namespace)
    # Sorted and cut by the database: "open" sorts before "resolved", unsuppressed before suppressed.
    ranked = (
        findings.select_related("cluster")
        .annotate(severity_rank=severity_rank())
        .order_by("status", "suppressed", "-severity_rank", "pk")
    )
    paths = namespace_paths(snapshot, namespace, scope, reader)
    status = current_grades(cluster, scope, [namespace]).get(namespace)
    grade = status.grade if status else ""
    # Its own (not cluster-wide) open findings of the severity that gives its grade.
    severity = grade_severity(grade)
    setting = ranked.filter(status="open", suppressed=False, cluster_wide=False, severity=severity)
    cluster_wide = cluster_wide_counts(cluster, scope, namespace)
    # The two lists mostly hold the same findings (the worst open ones): each read and redacted once.
    shown_ids = list(ranked.values_list("pk", flat=True)[:NAMESPACE_FINDINGS_SHOWN])
    setting_ids = list(setting.values_list("pk", flat=True)[:NAMESPACE_FINDINGS_SHOWN]) if severity else []
    read = ranked.filter(pk__in=sorted({*shown_ids, *setting_ids}))
    summaries = {shown["id"]: shown for shown in finding_summaries(read, reader)}
    return {
        "grade": grade,
        "grade_counts": status.counts if status else {},
        "grade_since": status.grade_since_at if status else None,
        # Cluster-wide exposure that reaches this namespace: shown beside its grade, not in it.
        "cluster_wide_counts": cluster_wide,
        "cluster_wide_grade": grade_of(cluster_wide),
        "findings": [summaries[pk] for pk in shown_ids],
        "findings_total": findings.count(),
        "grade_findings": [summaries[pk] for pk in setting_ids],
        "grade_findings_total": setting.count() if severity else 0,
        "outside_paths": [p for p in paths if not (p["inside_tenant"] or p["platform"])],
        "other_paths": [p for p in paths if p["inside_tenant"] or p["platform"]],
    }


def namespace_paths(
    snapshot: Snapshot, namespace: str, scope: Scope, reader: Reader | None = None
) -> list[dict]:
    """Every exposure path into the namespace's data as of `snapshot` (its records, one per rule),
    in one order whatever the rules, redacted for the reader."""
    records = (
        InventoryObject.objects.as_of(snapshot)
        .restrict(scope)
        .filter(scope=DERIVED_SCOPE, kind=EXPOSURE_PATHS, namespace=namespace)
        .values_list("data", flat=True)
    )
    paths = sorted((path for data in records for path in (data or {}).get("paths") or []), key=orjson.dumps)
    return visible_paths(paths, reader or reader_for(scope, snapshot.cluster))


def open_finding_counts(cluster: Cluster, scope: Scope) -> list[tuple[str, int]]:
    """(severity, open unsuppressed findings) worst first, over what the reader may see of `cluster`
    (an admin's, over every finding of the cluster, kept while the findings stand)."""

    def count() -> list[tuple[str, int]]:
        findings = by_status(Finding.objects.restrict(scope).filter(cluster=cluster), "open")
        counted = dict(findings.order_by().values_list("severity").annotate(n=Count("pk", distinct=True)))
        return [(severity, counted[severity]) for severity in reversed(SEVERITIES) if counted.get(severity)]

    return kept_for_admins(cluster, scope, "open-by-severity", count)


def namespace_owners(cluster: Cluster, namespace: str, scope: Scope) -> list[dict]:
    """The namespace's owners, where each came from, and who could have forged it (redacted)."""
    if not scope.sees(cluster.pk, namespace):
        return []
    reader = reader_for(scope, cluster)
    return [
        {
            "kind": owner.kind,
            "name": owner.name,
            "source": owner.source,
            "trusted": owner.trusted,
            "forgeable_by": [redact_subject(subject, reader) for subject in owner.forgeable_by],
        }
        for owner in owners_of(cluster, namespace).get(namespace, [])
    ]
