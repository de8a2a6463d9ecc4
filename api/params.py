"""Query parameters several endpoints share: `cluster`, `namespace` and `as_of`.

A value the caller may not see answers exactly as one that exists nowhere: a cluster is offered
only from the caller's clusters (400 otherwise, with a message that echoes nothing), a namespace
selects nothing.
"""

from datetime import UTC, datetime

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from dashboard.queries import visible_clusters, visible_snapshot
from inventory.models import Cluster, Snapshot
from tenancy.scope import Scope

NOT_OFFERED = "Not one of the values offered here."
NOT_A_TIME = "An ISO 8601 time (2026-06-01T12:00:00Z) or date."

CLUSTER = OpenApiParameter("cluster", str, description="Only this cluster (by name).")
NAMESPACE = OpenApiParameter("namespace", str, description="Only this namespace (by name).")
AS_OF = OpenApiParameter(
    "as_of",
    str,
    description="The cluster as it was: a snapshot id, or an ISO 8601 time (the latest complete or "
    "partial snapshot taken by then). Default: the latest.",
)


def invalid(parameter: str, message: str = NOT_OFFERED) -> ValidationError:
    return ValidationError({parameter: [message]})


def parse_time(value: str, parameter: str) -> datetime:
    """An ISO 8601 time (naive means UTC) or a date (its start); 400 otherwise."""
    value = value.strip()
    try:
        parsed = parse_datetime(value)
        if parsed is None and (day := parse_date(value)) is not None:
            parsed = datetime(day.year, day.month, day.day)
    except ValueError:
        parsed = None
    if parsed is None:
        raise invalid(parameter, NOT_A_TIME)
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def as_of(request) -> int | datetime | None:
    raw = request.query_params.get("as_of")
    if raw is None or raw == "":
        return None
    if raw.isascii() and raw.isdigit():
        if len(raw) > 18:
            raise invalid("as_of", "A snapshot id, or an ISO 8601 time.")
        return int(raw)
    try:
        return parse_time(raw, "as_of")
    except ValidationError:
        raise invalid("as_of", "A snapshot id, or an ISO 8601 time.") from None


def clusters(request, scope: Scope) -> list[Cluster]:
    """The caller's clusters, or the one `cluster` names (400 if it is not one of them)."""
    found = visible_clusters(scope).order_by("name")
    name = request.query_params.get("cluster")
    if name:
        found = [c for c in found if c.name == name]
        if not found:
            raise invalid("cluster")
    return list(found)


def snapshots(request, scope: Scope, of: list[Cluster]) -> list[Snapshot]:
    """Each cluster's snapshot as `as_of` asks (clusters without one then are left out); a snapshot
    id keeps only its own cluster, and must be a visible snapshot of one of them (400 otherwise)."""
    when = as_of(request)
    if isinstance(when, int):
        snapshot = Snapshot.objects.restrict(scope).filter(
            pk=when, cluster__in=of, status__in=Snapshot.VISIBLE
        )
        found = snapshot.select_related("cluster").first()
        if found is None:
            raise invalid("as_of")
        return [found]
    found = []
    for cluster in of:
        snapshot = visible_snapshot(cluster, scope, when)
        if snapshot is not None:
            snapshot.cluster = cluster
            found.append(snapshot)
    return found


def snapshot_of(request, scope: Scope, cluster: Cluster) -> Snapshot | None:
    """One cluster's snapshot as `as_of` asks; a snapshot id of another cluster is a 400."""
    when = as_of(request)
    snapshot = visible_snapshot(cluster, scope, when)
    if snapshot is None and isinstance(when, int):
        raise invalid("as_of")
    if snapshot is not None:
        snapshot.cluster = cluster
    return snapshot
