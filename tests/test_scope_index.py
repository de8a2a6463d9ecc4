"""A tenant's scope read through the per-snapshot owner index and tenant map (tenancy/snapshot_cache.py)
is exactly the scope read the long way: every namespace's owners decoded from the latest snapshot's
facts (`owners_of`) and every Namespace object's tenant, over the two-tenant clusters and the canary
world, with trusted and untrusted owners, group, email and mapped owners, and manual owners winning.
What changes without a snapshot (manual owners, grants, the identity mapping, the tenant label) is
read live; a new snapshot is read at once."""

from collections import defaultdict
from dataclasses import asdict
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from inventory.models import Cluster, InventoryObject, Snapshot
from tenancy.access import granted_namespaces
from tenancy.boundaries import tenant_of_namespace
from tenancy.models import Grant, NamespaceOwner
from tenancy.ownership import Owner, owned_namespaces, owners_of
from tests.test_canary import world  # noqa: F401 (the canary world, a fixture)

pytestmark = pytest.mark.django_db

EMAIL = "owner.example.com/email annotation"


def _reference(user) -> dict[int, set[str]]:
    """The scope as computed before the index: owners_of decoded whole, every Namespace read."""
    visible: dict[int, set[str]] = defaultdict(set)
    tenants: dict[int, set[str]] = defaultdict(set)
    for grant in Grant.objects.filter(Q(user=user) | Q(group__in=user.groups.all())):
        if grant.namespace:
            visible[grant.cluster_id].add(grant.namespace)
        else:
            tenants[grant.cluster_id].add(grant.tenant)
    for cluster in Cluster.objects.all():
        visible[cluster.pk] |= owned_namespaces(user, cluster, owners_of(cluster))
        latest = cluster.latest_visible_snapshot()
        namespaces = InventoryObject.objects.as_of(latest).filter(scope="", kind="Namespace")
        for name, data in namespaces.values_list("name", "data"):
            if tenant_of_namespace(name, data, cluster.tenant_label) in tenants[cluster.pk]:
                visible[cluster.pk].add(name)
    return {cluster_id: names for cluster_id, names in visible.items() if names}


def _owner(kind: str, name: str, trusted: bool = True) -> dict:
    return asdict(Owner(kind, name, EMAIL, ("User:mallory",) if not trusted else (), trusted))


def _plant_owners(cluster: Cluster) -> list[str]:
    """Derived owners of every kind in the latest snapshot's facts, and manual owners (one winning
    over a derived owner, one where nothing was derived); the namespaces, sorted."""
    latest = cluster.snapshots.filter(status__in=Snapshot.VISIBLE).order_by("-seq").first()
    names = sorted(latest.facts["analysis"]["namespaces"])
    assert len(names) >= 5
    owners = {
        names[0]: [_owner("user", "ann@example.com")],  # the manual owner below replaces her
        names[1]: [_owner("user", "ann@example.com"), _owner("group", "team-x")],
        names[2]: [_owner("user", "bo", trusted=False), _owner("group", "team-y", trusted=False)],
        names[3]: [_owner("user", "k8s-dee"), _owner("user", "cy")],
    }
    latest.facts = {**latest.facts, "analysis": {**latest.facts["analysis"], "owners": owners}}
    latest.save(update_fields=["facts"])
    cluster.identity_mapping = {"users": {"k8s-dee": "dee", "cy": "not-cy"}}
    cluster.save(update_fields=["identity_mapping"])
    NamespaceOwner.objects.create(cluster=cluster, namespace=names[0], kind="user", name="eve")
    NamespaceOwner.objects.create(cluster=cluster, namespace=names[4], kind="group", name="team-x")
    cache.clear()  # the facts were rewritten in place, which no snapshot's are after it is visible
    return names


def _people() -> list[User]:
    people = [
        User.objects.create_user("ann.u", email="ann@example.com"),
        User.objects.create_user("bo"),
        User.objects.create_user("cy"),
        User.objects.create_user("not-cy"),
        User.objects.create_user("dee"),
        User.objects.create_user("k8s-dee"),
        User.objects.create_user("eve"),
        User.objects.create_user("nobody"),
    ]
    for group in ("team-x", "team-y"):
        member = User.objects.create_user(f"member-of-{group}")
        member.groups.add(Group.objects.get_or_create(name=group)[0])
        people.append(member)
    return people


def _assert_same(people: list[User]) -> None:
    for person in people:
        expected = _reference(person)
        assert granted_namespaces(person) == expected, f"{person} (cold)"
        assert granted_namespaces(person) == expected, f"{person} (kept)"


def test_the_index_gives_the_scope_owners_of_gives_on_the_two_tenant_clusters(clusters):
    planted = {cluster.pk: _plant_owners(cluster) for cluster in Cluster.objects.all()}
    people = _people()
    alpha = User.objects.create_user("alpha-tenant")
    grantees = Group.objects.create(name="beta-grantees")
    alpha.groups.add(grantees)
    for cluster in Cluster.objects.all():
        Grant.objects.create(user=alpha, cluster=cluster, tenant="alpha")
        Grant.objects.create(group=grantees, cluster=cluster, namespace=planted[cluster.pk][2])
    _assert_same([*people, alpha])
    # Not vacuous: each kind of owner counted as it should.
    by_name = {person.username: granted_namespaces(person) for person in people}
    for cluster_id, names in planted.items():
        assert by_name["ann.u"][cluster_id] == {names[1]}, "by email; the manual owner wins on names[0]"
        assert by_name["eve"][cluster_id] == {names[0]}
        assert by_name["member-of-team-x"][cluster_id] == {names[1], names[4]}
        assert by_name["dee"][cluster_id] == {names[3]} and by_name["not-cy"][cluster_id] == {names[3]}
    for unowned in ("bo", "member-of-team-y", "k8s-dee", "cy", "nobody"):
        assert by_name[unowned] == {}, f"{unowned}: untrusted, mapped away or no owner"
    assert granted_namespaces(alpha) and all(granted_namespaces(alpha).values())


def test_the_index_gives_the_scope_owners_of_gives_in_the_canary_world(world):  # noqa: F811
    for cluster in Cluster.objects.all():
        _plant_owners(cluster)
    _assert_same([world, *_people()])


def test_what_changes_without_a_snapshot_is_read_live(clusters):
    cluster = Cluster.objects.get(name="prod")
    names = _plant_owners(cluster)
    eve, ann = (
        User.objects.get_or_create(username="eve")[0],
        User.objects.create_user("ann", email="ann@x.io"),
    )
    assert owned_namespaces(eve, cluster) == {names[0]}  # the index is kept now
    NamespaceOwner.objects.filter(cluster=cluster, name="eve").delete()
    assert owned_namespaces(eve, cluster) == set(), "a removed manual owner loses the namespace at once"
    NamespaceOwner.objects.create(cluster=cluster, namespace=names[1], kind="user", name="eve")
    assert owned_namespaces(eve, cluster) == {names[1]}
    assert owned_namespaces(User.objects.create_user("ann2", email="ann@example.com"), cluster) == {names[0]}
    cluster.identity_mapping = {"users": {"ann@example.com": "ann@x.io"}}
    cluster.save(update_fields=["identity_mapping"])
    assert owned_namespaces(ann, cluster) == {names[0]}, "the identity mapping is read live"

    tenant = User.objects.create_user("tenant")
    Grant.objects.create(user=tenant, cluster=cluster, tenant="alpha")
    before = granted_namespaces(tenant)[cluster.pk]
    assert before and all(name.startswith("alpha") for name in before)
    cluster.tenant_label = "no-such-label"
    cluster.save(update_fields=["tenant_label"])
    assert granted_namespaces(User.objects.get(pk=tenant.pk)) == {}, "the tenant label is read live"


def test_a_new_snapshot_is_read_at_once(clusters):
    cluster = Cluster.objects.get(name="prod")
    names = _plant_owners(cluster)
    eve, zed = User.objects.get_or_create(username="eve")[0], User.objects.create_user("zed")
    assert owned_namespaces(eve, cluster) == {names[0]} and owned_namespaces(zed, cluster) == set()
    latest = cluster.snapshots.filter(status__in=Snapshot.VISIBLE).order_by("-seq").first()
    analysis = {**latest.facts["analysis"], "owners": {names[2]: [_owner("user", "zed")]}}
    Snapshot.objects.create(
        cluster=cluster,
        seq=latest.seq + 1,
        status=Snapshot.Status.COMPLETE,
        taken_at=latest.taken_at + timedelta(minutes=5),
        finished_at=timezone.now(),
        facts={**latest.facts, "analysis": analysis},
    )
    assert owned_namespaces(zed, cluster) == {names[2]}
    assert owned_namespaces(User.objects.create_user("ann.u", email="ann@example.com"), cluster) == set()
