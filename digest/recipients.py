"""Who gets a digest and what each may read in it (issue 12).

`Recipient` is the one value the content (digest/content.py) and the delivery (scheduling,
claiming, sending) pass between them.  Its `scope` is computed by tenancy's one mechanism
(tenancy.access for accounts, ownership for bare addresses): the digest never widens it.
"""

import logging
from collections import defaultdict
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Q

from digest.models import ClusterDigestAddress
from inventory.models import Cluster
from tenancy.access import ADMIN_PERMISSION, ownership_scope
from tenancy.ownership import dashboard_name, normalise_address, owners_of
from tenancy.scope import Scope

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    address: str  # where the digest goes (normalised: lower-case domain)
    kind: str  # "admin" | "cluster-list" | "owner"
    scope: Scope  # what the digest may show: everything for admins, owned namespaces for owners
    username: str | None = None  # the dashboard account, if the address has one
    cluster_ids: tuple[int, ...] = ()  # a cluster list's clusters; empty: every cluster the scope sees

    @property
    def has_account(self) -> bool:
        """A bare owner address without an account is told how to ask for access; its links lead
        to the sign-in page."""
        return self.username is not None


def recipients(only: str | None = None) -> dict[str, Recipient]:
    """address -> its one digest, now.  An address gets one digest whatever it is to how many: an
    admin's (everything) before a cluster list's (those clusters, cluster-wide) before an owner's
    (exactly the namespaces it owns).  Unsubscribed addresses are still listed (digest/schedule.py
    leaves them out), so `send_digest --dry-run` can say why they get nothing.  `only`: the one
    (normalised) address asked about, read without reading every account."""
    found: dict[str, Recipient] = {}
    accounts = _accounts_by_address(only)
    admins = _admin_ids(accounts.values())
    for address, user in accounts.items():
        if user.pk in admins:
            found[address] = Recipient(
                address, "admin", Scope.everything(who=user.get_username()), user.get_username()
            )
    _add_cluster_lists(found, accounts, only)
    _add_owners(found, accounts, only)
    return dict(sorted(found.items()))


def recipient_for(address: str) -> Recipient | None:
    address = normalise_address(address)
    return recipients(only=address).get(address)


def _accounts_by_address(only: str | None) -> dict:
    """normalised email -> the active account that has it (the oldest, if several share it)."""
    accounts = {}
    users = get_user_model().objects.filter(is_active=True).exclude(email="").order_by("pk")
    if only is not None:
        users = users.filter(email__iexact=only)
    for user in users.prefetch_related("groups"):
        address = normalise_address(user.email)
        if only is not None and address != only:
            continue
        if address in accounts:
            logger.warning(
                "accounts %s and %s share %s: the digest goes to the first", accounts[address], user, address
            )
            continue
        accounts[address] = user
    return accounts


def _admin_ids(users) -> set[int]:
    """The pks of `users` that tenancy.access.is_admin says are admins, in one query rather than
    Django's two permission reads per account: active, and a superuser or holding ADMIN_PERMISSION
    directly or through a group (django.contrib.auth's ModelBackend, the one that grants it)."""
    app_label, codename = ADMIN_PERMISSION.split(".")
    held = {"content_type__app_label": app_label, "codename": codename}
    return set(
        get_user_model()
        .objects.filter(pk__in=[user.pk for user in users], is_active=True)
        .filter(
            Q(is_superuser=True)
            | Q(**{f"user_permissions__{k}": v for k, v in held.items()})
            | Q(**{f"groups__permissions__{k}": v for k, v in held.items()})
        )
        .values_list("pk", flat=True)
        .distinct()
    )


def _add_cluster_lists(found: dict[str, Recipient], accounts: dict, only: str | None) -> None:
    lists: dict[str, set[int]] = defaultdict(set)
    rows = ClusterDigestAddress.objects.all()
    if only is not None:
        rows = rows.filter(address__iexact=only)
    for address, cluster_id in rows.values_list("address", "cluster_id"):
        if only is None or normalise_address(address) == only:
            lists[normalise_address(address)].add(cluster_id)
    for address, cluster_ids in lists.items():
        if address not in found:
            user = accounts.get(address)
            found[address] = Recipient(
                address,
                "cluster-list",
                Scope.everything(who=f"cluster list {address}"),
                user.get_username() if user else None,
                tuple(sorted(cluster_ids)),
            )


def _add_owners(found: dict[str, Recipient], accounts: dict, only: str | None) -> None:
    """Owners by account (a user named by an owner, or a member of an owning group) and by bare
    address (an owner that names an email no account has): their scopes from tenancy, one reading of
    each cluster's owners for all of them."""
    owners = {cluster: owners_of(cluster) for cluster in Cluster.objects.order_by("pk")}
    user_names, group_names = set(), set()
    for cluster, by_namespace in owners.items():
        for owner in (o for found_owners in by_namespace.values() for o in found_owners if o.trusted):
            (user_names if owner.kind == "user" else group_names).add(dashboard_name(cluster, owner))
    known = _account_names(only)  # inactive accounts too: a disabled person is not a bare address
    for address, user in accounts.items():
        if address in found:
            continue
        names = {user.get_username(), user.email}
        if names & user_names or {g.name for g in user.groups.all()} & group_names:
            scope = ownership_scope(user, owners=owners)
            if scope.namespaces:
                found[address] = Recipient(address, "owner", scope, user.get_username())
    for name in sorted(user_names):
        address = normalise_address(name)
        if "@" not in name or address in found or address in known or name in known:
            continue
        if only is not None and address != only:
            continue
        scope = ownership_scope(address=address, owners=owners)
        if scope.namespaces:
            found[address] = Recipient(address, "owner", scope)


def _account_names(only: str | None) -> set[str]:
    known = set()
    users = get_user_model().objects.all()
    if only is not None:
        users = users.filter(Q(username__iexact=only) | Q(email__iexact=only))
    for username, email in users.values_list("username", "email"):
        known.add(username)
        if email:
            known.add(normalise_address(email))
    return known
