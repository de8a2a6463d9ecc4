"""Values over every finding of a cluster, kept in Django's cache until a finding's state can have
moved: what an admin's pages count (open findings per namespace, per severity) and chart (the
cluster's open findings over time, dashboard/timelines.py) reads every finding
of a large cluster, and those move only with a snapshot (its analysis opens, changes and resolves
them) or a suppression (made, lifted, or expiring).

The key names the cluster's latest visible snapshot (tenancy/snapshot_cache.py) and every
suppression's identity, expiry and lifting; a kept value lasts until the next expiry of a
suppression in force.  Only the admins' counts are kept (every admin sees the same); a tenant's are
read through their few namespaces, and cheap.
"""

from collections.abc import Callable
from datetime import UTC, datetime

from django.core.cache import cache
from django.utils import timezone

from exposure.models import Suppression
from inventory.models import Cluster
from tenancy.scope import Scope
from tenancy.snapshot_cache import KEPT_SECONDS, kept_key, latest_visible

_NEVER = datetime.max.replace(tzinfo=UTC)


def kept_for_admins(
    cluster: Cluster, scope: Scope, what: str, compute: Callable[[], object], at: datetime | None = None
):
    """`compute()`, for an admin kept while the cluster's findings stand (two queries to know that);
    for anyone else computed.  `at`: the moment the value describes (now, or a window's end): a kept
    value serves from the moment it was computed for until the next expiry of a suppression then in
    force."""
    if not scope.admin:
        return compute()
    latest = latest_visible(cluster)
    if latest is None or latest["finished_at"] is None:
        return compute()
    at = at or timezone.now()
    suppressions = sorted(
        Suppression.objects.filter(finding__cluster=cluster).values_list("pk", "expires_at", "lifted_at")
    )
    key = kept_key(cluster, latest, f"admin-kept|{what}|{suppressions}")
    kept = cache.get(key)
    if kept is not None and kept["computed_at"] <= at < kept["valid_until"]:
        return kept["value"]
    value = compute()
    # The next expiry of a suppression in force moves its finding back to open.
    expiring = [expires for _, expires, lifted in suppressions if lifted is None and expires > at]
    cache.set(
        key, {"value": value, "computed_at": at, "valid_until": min(expiring, default=_NEVER)}, KEPT_SECONDS
    )
    return value
