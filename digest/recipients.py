"""Who gets a digest and what each may read in it (issue 12).

`Recipient` is the one value the content (digest/content.py) and the delivery (scheduling,
claiming, sending) pass between them.  Its `scope` is computed by tenancy's one mechanism
(tenancy.access for accounts, ownership for bare addresses): the digest never widens it.
"""

from dataclasses import dataclass

from tenancy.scope import Scope


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
