"""Every owner's digest, as the digest app builds it: one Recipient per owner (a user or a group
named by the cluster's owner keys or admin RoleBindings, trusted), scoped to the namespaces it owns."""

from datetime import UTC, datetime

from digest.content import build_digest
from digest.period import Period
from digest.recipients import Recipient
from tenancy.ownership import dashboard_name, owners_of
from tenancy.scope import Scope


def owner_recipients(cluster) -> list[Recipient]:
    owned: dict[tuple[str, str], set[str]] = {}
    for namespace, owners in owners_of(cluster).items():
        for owner in owners:
            if owner.trusted:
                owned.setdefault((owner.kind, dashboard_name(cluster, owner)), set()).add(namespace)
    return [
        Recipient(
            address=name if "@" in name else f"{kind}-{name}@owners.bench.invalid",
            kind="owner",
            scope=Scope(namespaces={cluster.pk: frozenset(namespaces)}, who=f"{kind} {name}"),
        )
        for (kind, name), namespaces in sorted(owned.items())
    ]


def render_all(recipients: list[Recipient]) -> int:
    """Builds every recipient's digest for the week ending now; returns the characters rendered."""
    period = Period.week_ending(datetime.now(UTC))
    return sum(len(d.text) + len(d.html) for d in (build_digest(r, period) for r in recipients))
