"""Who gets a digest, and what each may read: admins and cluster lists the cluster-wide one, each
owner (a user, a group's users, a bare email) exactly the namespaces they own, one digest per address."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from digest.models import ClusterDigestAddress
from digest.recipients import recipient_for, recipients
from inventory.models import Cluster
from tenancy.access import is_admin, scope_of
from tenancy.models import Grant, NamespaceOwner
from tests.factories import dashboard_admin

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]


def _owner(cluster: str, namespace: str, name: str, kind: str = "user") -> None:
    NamespaceOwner.objects.create(
        cluster=Cluster.objects.get(name=cluster), namespace=namespace, kind=kind, name=name
    )


def test_admins_with_an_email_get_the_cluster_wide_digest(clusters):
    root = User.objects.create_superuser("root-user", "Root@Example.COM", "pw")
    by_permission = dashboard_admin("lead")
    by_permission.email = "lead@example.com"
    by_permission.save()
    dashboard_admin("no-mail")  # an admin without an address: nothing to send to
    User.objects.create_user("staff", "staff@example.com", is_staff=True)  # staff is not admin
    User.objects.create_superuser("gone", "gone@example.com", "pw", is_active=False)
    found = {address: r for address, r in recipients().items() if r.kind == "admin"}
    assert set(found) == {"Root@example.com", "lead@example.com"}, "domains lower-cased, not local parts"
    assert all(r.scope.admin and r.cluster_ids == () for r in found.values())
    assert found["Root@example.com"].username == root.username


def test_admins_are_whom_is_admin_names_read_in_one_query_however_many_accounts(clusters):
    """Listing recipients reads who is an admin for every account at once (not Django's two
    permission reads per account), and names exactly the accounts tenancy.access.is_admin names."""
    admins_group = Group.objects.create(name="dashboard-admins")
    admins_group.permissions.add(
        Permission.objects.get(content_type__app_label="tenancy", codename="view_all_namespaces")
    )
    User.objects.create_user("by-group", "group@example.com").groups.add(admins_group)
    User.objects.create_user("gone-by-group", "gone@example.com", is_active=False).groups.add(admins_group)
    User.objects.create_superuser("root-user", "root@example.com", "pw")
    lead = dashboard_admin("lead")
    lead.email = "lead@example.com"
    lead.save()
    User.objects.create_user("viewer", "viewer@example.com", is_staff=True).groups.add(
        Group.objects.create(name="viewers")
    )

    def admins_and_queries() -> tuple[set[str], int]:
        with CaptureQueriesContext(connection) as captured:
            found = recipients()
        return {address for address, r in found.items() if r.kind == "admin"}, len(captured)

    admins, queries = admins_and_queries()
    accounts = User.objects.exclude(email="")
    assert admins == {u.email for u in accounts if is_admin(u)}
    assert admins == {"group@example.com", "root@example.com", "lead@example.com"}
    for n in range(5):
        User.objects.create_user(f"viewer{n}", f"viewer{n}@example.com")
    assert admins_and_queries() == (admins, queries), "no query per account"


def test_cluster_lists_get_their_clusters_and_an_admin_on_a_list_gets_one_digest(clusters):
    prod, shared = Cluster.objects.get(name="prod"), Cluster.objects.get(name="shared")
    User.objects.create_superuser("root-user", "root@example.com", "pw")
    for cluster, address in (
        (prod, "sec@example.com"),
        (shared, "sec@example.com"),
        (prod, "root@example.com"),
    ):
        ClusterDigestAddress.objects.create(cluster=cluster, address=address)
    found = recipients()
    assert found["sec@example.com"].kind == "cluster-list"
    assert found["sec@example.com"].cluster_ids == tuple(sorted([prod.pk, shared.pk]))
    assert found["sec@example.com"].username is None
    assert found["root@example.com"].kind == "admin"


def test_owners_get_exactly_the_namespaces_they_own_across_clusters(clusters):
    prod, shared = Cluster.objects.get(name="prod"), Cluster.objects.get(name="shared")
    # An account owner, who was also granted a namespace they do not own: the digest is about owning.
    alice = User.objects.create_user("alice", "alice@a.example")
    Grant.objects.create(user=alice, cluster=shared, namespace="beta-jobs")
    _owner("prod", "alpha-web", "alice")
    _owner("shared", "alpha-db", "alice@a.example")  # by email, as an owner key names people
    # A group's users; a bare address; an inactive account's address is no bare address.
    team = Group.objects.create(name="beta-team")
    bob = User.objects.create_user("bob", "bob@b.example")
    bob.groups.add(team)
    User.objects.create_user("nomail")  # in the group, but no address
    _owner("prod", "beta-app", "beta-team", kind="group")
    _owner("shared", "beta-jobs", "Carol@B.Example")
    User.objects.create_user("dave", "dave@b.example", is_active=False)
    _owner("shared", "beta-jobs", "dave@b.example")
    found = recipients()
    # alice@example.com and bob@example.com: bare owners by the case's owner keys (alpha-*, beta-app).
    assert set(found) == {
        "alice@a.example",
        "bob@b.example",
        "Carol@b.example",
        "alice@example.com",
        "bob@example.com",
    }
    assert found["alice@example.com"].username is None
    assert all(not r.scope.admin for r in found.values())
    alice_digest = found["alice@a.example"]
    assert (alice_digest.kind, alice_digest.username) == ("owner", "alice")
    assert dict(alice_digest.scope.namespaces) == {prod.pk: {"alpha-web"}, shared.pk: {"alpha-db"}}
    assert not alice_digest.scope.admin
    assert set(alice_digest.scope.namespaces[shared.pk]) < set(scope_of(alice).namespaces[shared.pk])
    assert dict(found["bob@b.example"].scope.namespaces) == {prod.pk: {"beta-app"}}
    carol = found["Carol@b.example"]
    assert (carol.kind, carol.username, carol.has_account) == ("owner", None, False)
    assert dict(carol.scope.namespaces) == {shared.pk: {"beta-jobs"}}
    assert recipient_for("carol@B.EXAMPLE") is None, "the local part is the mailbox's: not folded"
    assert recipient_for("Carol@B.EXAMPLE") == carol


def test_an_admin_who_owns_namespaces_gets_one_digest_the_admin_one(clusters):
    root = User.objects.create_superuser("root-user", "root@example.com", "pw")
    _owner("prod", "alpha-web", root.username)
    _owner("shared", "alpha-db", "root@example.com")
    User.objects.create_user("ally", "alice@example.com")  # owner by the case's owner key, now an account
    found = recipients()
    assert found["root@example.com"].kind == "admin"
    assert [r.address for r in found.values() if r.address.startswith(("root", "alice"))] == [
        "alice@example.com",
        "root@example.com",
    ]
    assert found["alice@example.com"].username == "ally", (
        "no second, bare-address digest beside the account's"
    )


def test_untrusted_owners_from_labels_get_nothing(clusters):
    """Owners read from a label anyone who may edit the namespace could have written grant no
    access (tenancy/ownership.py), so they get no digest either."""
    prod = Cluster.objects.get(name="prod")
    snapshot = prod.snapshots.order_by("-seq").first()
    owners = {
        "alpha-web": [
            {
                "kind": "user",
                "name": "forger@x.example",
                "source": "label o",
                "forgeable_by": ["x"],
                "trusted": False,
            }
        ]
    }
    snapshot.facts = {**snapshot.facts, "analysis": {**snapshot.facts["analysis"], "owners": owners}}
    snapshot.save()
    assert recipient_for("forger@x.example") is None
