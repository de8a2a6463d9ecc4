"""Namespace owners: owner keys on Namespace objects, admin RoleBindings, the manual mapping (which
wins), each with where it came from; and how owners become what a dashboard user may see."""

import pytest
from django.contrib.auth.models import Group, User

from inventory.access import granted_namespaces
from inventory.importing import import_dump
from inventory.models import NamespaceOwner
from inventory.ownership import Owner, owned_namespaces, owners_of
from tests.cases.runner import CASES, TAKEN_AT, assemble, configure_cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(tmp_path):
    cluster = configure_cluster("owned", {"cluster": {"owner_keys": ["owner.example.com/email"]}})
    snapshot = import_dump(cluster.name, assemble(CASES / "ownership", tmp_path, {}), taken_at=TAKEN_AT)
    assert snapshot.status == "complete"
    return cluster


def test_owners_come_from_namespace_keys_and_admin_role_bindings(cluster):
    owners = owners_of(cluster)
    assert owners["alpha-web"] == [Owner("user", "alice@example.com", "annotation owner.example.com/email")]
    assert owners["beta-app"] == [Owner("user", "bob@example.com", "annotation owner.example.com/email")]
    assert owners["beta-jobs"] == [
        Owner("user", "carol", "RoleBinding beta-jobs/beta-admins (admin)"),
        Owner("group", "beta-devs", "RoleBinding beta-jobs/beta-admins (admin)"),
    ], "view is not admin-like, and a service account is not an owner"
    assert "sandbox" not in owners


def test_the_manual_mapping_wins(cluster):
    NamespaceOwner.objects.create(cluster=cluster, namespace="beta-jobs", kind="user", name="erin")
    assert owners_of(cluster)["beta-jobs"] == [Owner("user", "erin", "manual")]


def test_owners_see_their_namespaces_by_email_name_group_or_mapping(cluster):
    alice = User.objects.create_user("alice", email="alice@example.com")
    assert granted_namespaces(alice) == {cluster.pk: {"alpha-web", "alpha-db"}}
    frank = User.objects.create_user("frank")
    frank.groups.add(Group.objects.create(name="beta-devs"))
    assert owned_namespaces(frank, cluster) == {"beta-jobs"}
    carol = User.objects.create_user("carol.k")
    assert owned_namespaces(carol, cluster) == set()
    cluster.identity_mapping = {"users": {"carol": "carol.k"}}
    cluster.save()
    assert owned_namespaces(carol, cluster) == {"beta-jobs"}
    dave = User.objects.create_user("dave")
    assert granted_namespaces(dave) == {}, "a viewer is not an owner"


def test_owner_keys_are_read_from_namespace_objects_only(cluster):
    # sandbox's pod carries the owner key as a label and an annotation: tenant-controlled text.
    assert all("mallory" not in o.name for owners in owners_of(cluster).values() for o in owners)
    mallory = User.objects.create_user("mallory", email="mallory@example.com")
    assert granted_namespaces(mallory) == {}
