"""Namespace owners: owner keys on Namespace objects, admin RoleBindings, the manual mapping (which
wins), each with where it came from; and how owners become what a dashboard user may see."""

import dataclasses

import orjson
import pytest
from django.contrib.auth.models import Group, User

from inventory.importing import import_dump
from tenancy.access import granted_namespaces
from tenancy.models import NamespaceOwner
from tenancy.ownership import Owner, owned_namespaces, owners_of
from tests.cases.runner import CASES, TAKEN_AT, assemble, configure_cluster

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(tmp_path):
    cluster = configure_cluster("owned", {"cluster": {"owner_keys": ["owner.example.com/email"]}})
    snapshot = import_dump(cluster.name, assemble(CASES / "ownership", tmp_path, {}), taken_at=TAKEN_AT)
    assert snapshot.status == "complete"
    return cluster


@pytest.mark.postgres_too  # a page's namespaces' owners are picked by PostgreSQL (tenancy/ownership.py)
def test_owners_come_from_namespace_keys_and_admin_role_bindings(cluster):
    owners = owners_of(cluster)
    assert owners["alpha-web"] == [Owner("user", "alice@example.com", "annotation owner.example.com/email")]
    assert owners["beta-app"] == [Owner("user", "bob@example.com", "annotation owner.example.com/email")]
    assert owners["beta-jobs"] == [
        Owner("user", "carol", "RoleBinding beta-jobs/beta-admins (admin)"),
        Owner("group", "beta-devs", "RoleBinding beta-jobs/beta-admins (admin)"),
    ], "view is not admin-like, and a service account is not an owner"
    assert "sandbox" not in owners
    # One namespace's owners alone (its page), the same.
    assert owners_of(cluster, "beta-jobs") == {"beta-jobs": owners["beta-jobs"]}
    assert owners_of(cluster, "sandbox") == {}
    # A page's namespaces' owners alone (the namespaces list's), the same.
    page = ["alpha-web", "beta-jobs", "sandbox", "nowhere"]
    assert owners_of(cluster, only=page) == {ns: owners[ns] for ns in ("alpha-web", "beta-jobs")}
    assert owners_of(cluster, only=[]) == {}


def test_the_manual_mapping_wins(cluster):
    NamespaceOwner.objects.create(cluster=cluster, namespace="beta-jobs", kind="user", name="erin")
    assert owners_of(cluster)["beta-jobs"] == [Owner("user", "erin", "manual")]
    assert owners_of(cluster, "beta-jobs") == {"beta-jobs": [Owner("user", "erin", "manual")]}
    assert owners_of(cluster, only=["beta-jobs"]) == {"beta-jobs": [Owner("user", "erin", "manual")]}


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


FORGER = """
apiVersion: v1
kind: List
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: Role
  metadata: {name: relabel, namespace: alpha-web, uid: 0f0f0000-0000-4000-8000-000000000001}
  rules:
  - {apiGroups: [""], resources: [namespaces], verbs: [patch]}
- apiVersion: rbac.authorization.k8s.io/v1
  kind: RoleBinding
  metadata: {name: mallory-relabel, namespace: alpha-web, uid: 0f0f0000-0000-4000-8000-000000000002}
  roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: relabel}
  subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: mallory@example.com}
"""


@pytest.mark.parametrize(
    "trust, rule_setting",
    [
        ("admin-only", None),
        ("always", None),
        ("off", None),
        # Who could relabel a namespace is namespace-labels-writable's judgement: taken from its hits
        # when it ran, worked out anyway when the admin turned it off.
        ("admin-only", {"rule": "namespace-labels-writable", "enabled": False}),
        ("admin-only", {"rule": "namespace-labels-writable", "severity": "low"}),
    ],
)
def test_an_owner_label_a_tenant_could_have_written_is_not_trusted(tmp_path, trust, rule_setting):
    """mallory may patch Namespace alpha-web: the annotation naming alice could be mallory's own."""
    cluster = configure_cluster(
        "forged",
        {
            "cluster": {"owner_keys": ["owner.example.com/email"], "owner_label_trust": trust},
            "rule_settings": [rule_setting] if rule_setting else [],
        },
    )
    dump = assemble(CASES / "ownership", tmp_path, {})
    (dump / "kubernetes" / "forger.yaml").write_text(FORGER)
    assert import_dump(cluster.name, dump, taken_at=TAKEN_AT).status == "complete"
    owners = owners_of(cluster)
    alice = User.objects.create_user("alice", email="alice@example.com")
    if trust == "off":
        assert "alpha-web" not in owners and owned_namespaces(alice, cluster) == set()
        return
    (owner,) = owners["alpha-web"]
    assert owner.forgeable_by == ("User:mallory@example.com",), "shown on the owner it could forge"
    assert owners["beta-app"][0].forgeable_by == (), "mallory's RoleBinding reaches alpha-web only"
    assert owner.trusted is (trust == "always")
    assert ("alpha-web" in owned_namespaces(alice, cluster)) is (trust == "always")
    assert "beta-app" in owned_namespaces(User.objects.create_user("bob", email="bob@example.com"), cluster)


def test_the_namespace_page_shows_who_could_have_forged_an_owner(client, tmp_path):
    from tests.factories import dashboard_admin

    cluster = configure_cluster("forged", {"cluster": {"owner_keys": ["owner.example.com/email"]}})
    dump = assemble(CASES / "ownership", tmp_path, {})
    (dump / "kubernetes" / "forger.yaml").write_text(FORGER)
    import_dump(cluster.name, dump, taken_at=TAKEN_AT)
    client.force_login(dashboard_admin())
    page = client.get("/clusters/forged/namespaces/alpha-web/").content.decode()
    assert "alice@example.com" in page and "could have been written by User:mallory@example.com" in page
    assert "grants no access" in page


def test_an_owner_as_the_facts_keep_it_reads_back_as_itself():
    owner = Owner("user", "ann@example.com", "label owner", ("User:mallory@example.com",), False)
    assert owner.as_facts() == orjson.loads(orjson.dumps(dataclasses.asdict(owner)))
    assert Owner.from_facts(owner.as_facts()) == owner
