"""Values derived from a cluster's latest visible snapshot, kept in Django's cache under that
snapshot's identity: what every tenant page asks (who owns what, each namespace's tenant) without
decoding a large cluster's whole facts or Namespace objects each time.

A visible snapshot's facts and objects are written once, with its status, and never after; the key
names the snapshot by cluster, row id, sequence number and finish time, so a restored database or a
test database reusing ids cannot hit another snapshot's value.  A snapshot without a finish time (a
test factory's) is never kept.  What changes without a snapshot (manual owners, grants, the cluster's
settings) is never part of a kept value: callers read it live, or put it in `what`.
"""

import hashlib
from collections.abc import Callable

from django.core.cache import cache

from inventory.models import Cluster, Snapshot

VERSION = 1  # of the kept values' shapes: bump when one changes
# A superseded snapshot's values are never asked again: they expire rather than pile up.
KEPT_SECONDS = 24 * 3600


def latest_visible(cluster: Cluster) -> dict | None:
    """The latest visible snapshot's pk, seq and finished_at (not its facts: a large document)."""
    return (
        cluster.snapshots.filter(status__in=Snapshot.VISIBLE)
        .order_by("-seq")
        .values("pk", "seq", "finished_at")
        .first()
    )


def kept_key(cluster: Cluster, latest: dict, what: str) -> str:
    """The cache key of `what` for snapshot `latest` (which has a finish time) of `cluster`."""
    identity = f"{what}|{cluster.pk}|{latest['pk']}|{latest['seq']}|{latest['finished_at'].isoformat()}"
    return f"snapshot-derived:{VERSION}:{hashlib.sha256(identity.encode()).hexdigest()}"


def derived(cluster: Cluster, latest: dict, what: str, compute: Callable[[], object]):
    """`compute()` for snapshot `latest` of `cluster`, kept under (`what`, the snapshot)."""
    if latest["finished_at"] is None:
        return compute()
    key = kept_key(cluster, latest, what)
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, timeout=KEPT_SECONDS)
    return value
