"""The first pages: behind login, scoped by grants, tenant text escaped."""

import pytest
from django.contrib.auth.models import Group, User

from inventory.models import Cluster, InventoryObject
from inventory.snapshotting import queue_snapshot, run_snapshot
from tenancy.access import granted_namespaces, scope_of
from tenancy.models import Grant
from tests.factories import collection, dashboard_admin, obj, pod

pytestmark = pytest.mark.django_db

HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def cluster():
    cluster = Cluster.objects.create(name="prod", source=Cluster.Source.OFFLINE, tenant_label="team")
    objects = [
        obj("Namespace", "team-a", metadata={"labels": {"team": "alpha"}}),
        obj("Namespace", "team-a2", metadata={"labels": {"team": "alpha"}}),
        obj("Namespace", "team-b", metadata={"labels": {"team": HOSTILE}}),
        obj(
            "PersistentVolumeClaim",
            "data",
            "team-a",
            spec={"volumeName": "pvc-1", "storageClassName": HOSTILE},
            status={"phase": "Bound"},
        ),
        obj(
            "PersistentVolume",
            "pvc-1",
            spec={
                "claimRef": {"namespace": "team-a", "name": "data"},
                "csi": {"driver": "csi.trident.netapp.io"},
            },
            status={"phase": "Bound"},
        ),
        pod("web-1", "team-a", metadata={"labels": {"app": HOSTILE}}),
        pod("web-2", "team-b"),
    ]
    run_snapshot(queue_snapshot(cluster), lambda: collection(objects))
    return cluster


@pytest.fixture
def admin(db):
    return User.objects.create_user("root", password="pw-admin-1", is_staff=True, is_superuser=True)


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", password="pw-alice-1")


def test_every_page_needs_login(client, cluster):
    for url in ["/", "/clusters/prod/", "/clusters/prod/namespaces/team-a/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_admin_sees_clusters_namespaces_and_snapshots(client, cluster, admin):
    client.force_login(admin)
    assert b"prod" in client.get("/").content
    page = client.get("/clusters/prod/").content.decode()
    assert "team-a" in page and "team-b" in page and "complete" in page
    ns_page = client.get("/clusters/prod/namespaces/team-a/").content.decode()
    assert "pvc-1" in ns_page and "web-1" in ns_page and "data" in ns_page


def test_user_without_grants_sees_nothing(client, cluster, alice):
    client.force_login(alice)
    assert b"No cluster is visible" in client.get("/").content
    assert client.get("/clusters/prod/").status_code == 404
    assert client.get("/clusters/prod/namespaces/team-a/").status_code == 404
    assert InventoryObject.objects.restrict(scope_of(alice)).count() == 0


def test_namespace_grant_shows_only_that_namespace(client, cluster, alice):
    Grant.objects.create(user=alice, cluster=cluster, namespace="team-a")
    client.force_login(alice)
    page = client.get("/clusters/prod/").content.decode()
    assert "team-a" in page and "team-b" not in page and "team-a2" not in page
    assert client.get("/clusters/prod/namespaces/team-a/").status_code == 200
    assert client.get("/clusters/prod/namespaces/team-b/").status_code == 404
    visible = InventoryObject.objects.restrict(scope_of(alice))
    assert set(visible.exclude(namespace="").values_list("namespace", flat=True)) == {"team-a"}
    assert set(visible.filter(kind="PersistentVolume").values_list("name", flat=True)) == {"pvc-1"}
    assert set(visible.filter(kind="Namespace").values_list("name", flat=True)) == {"team-a"}


def test_tenant_grant_through_a_group_covers_the_tenants_namespaces(cluster, alice):
    group = Group.objects.create(name="alpha-owners")
    alice.groups.add(group)
    Grant.objects.create(group=group, cluster=cluster, tenant="alpha")
    assert granted_namespaces(alice) == {cluster.pk: {"team-a", "team-a2"}}


def test_tenant_controlled_text_is_escaped(client, cluster, admin):
    client.force_login(admin)
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
    for url in ["/clusters/prod/namespaces/team-a/", "/clusters/prod/"]:
        page = client.get(url).content.decode()
        assert HOSTILE not in page and "<script>" not in page
        assert escaped in page


def test_demo_cluster_says_it_is_simulated_on_every_page(client, admin):
    Cluster.objects.create(name="demo", source=Cluster.Source.DEMO)
    client.force_login(admin)
    assert b"Simulated data" in client.get("/").content
    assert b"Simulated data" in client.get("/clusters/demo/").content


def test_tenant_grants_ignore_a_snapshot_still_being_written(cluster, alice):
    from inventory.snapshotting import queue_snapshot

    Grant.objects.create(user=alice, cluster=cluster, tenant="alpha")
    running = queue_snapshot(cluster)
    running.status = "running"
    running.save()
    InventoryObject.objects.create(
        cluster=cluster,
        kind="Namespace",
        name="team-a3",
        data={"metadata": {"name": "team-a3", "labels": {"team": "alpha"}}},
        digest="d",
        schema_version=1,
        valid_from=running.seq,
    )
    assert granted_namespaces(alice) == {cluster.pk: {"team-a", "team-a2"}}


def test_the_grant_form_offers_the_clusters_namespaces_and_tenants(cluster, alice):
    from dashboard.admin import GrantForm

    form = GrantForm()
    namespaces = dict(form.fields["namespace"].choices)["prod"]
    tenants = dict(form.fields["tenant"].choices)["prod"]
    assert [n for n, _ in namespaces] == ["team-a", "team-a2", "team-b"]
    assert [t for t, _ in tenants] == [HOSTILE, "alpha"]  # labelled tenants only: no `namespace:x`

    def submit(**fields):
        return GrantForm(data={"user": alice.pk, "cluster": cluster.pk, **fields})

    assert submit(namespace="team-a").is_valid()
    assert submit(tenant="alpha").is_valid()
    refused = submit(namespace="team-z")
    assert not refused.is_valid() and "namespace" in refused.errors
    assert not submit(tenant="namespace:team-a").is_valid(), "a solo tenant is granted as its namespace"
    assert not submit(namespace="team-a", tenant="alpha").is_valid()
    assert not submit().is_valid()


def test_staff_alone_is_not_an_admin(client, cluster):
    staff = User.objects.create_user("staff", is_staff=True)
    client.force_login(staff)
    assert client.get("/clusters/prod/").status_code == 404
    assert scope_of(staff).admin is False


def test_a_tenant_grant_does_not_cover_an_unlabelled_namespace_of_that_name(cluster, alice):
    """One definition of a tenant: an unlabelled namespace `alpha` is its own tenant, not tenant alpha."""
    from inventory.snapshotting import queue_snapshot, run_snapshot

    objects = [
        obj("Namespace", "team-a", metadata={"labels": {"team": "alpha"}}),
        obj("Namespace", "alpha"),
    ]
    run_snapshot(queue_snapshot(cluster), lambda: collection(objects))
    Grant.objects.create(user=alice, cluster=cluster, tenant="alpha")
    assert granted_namespaces(alice) == {cluster.pk: {"team-a"}}


def test_the_admin_site_is_for_dashboard_admins_only(client, cluster):
    """Its tables are unscoped: a staff user holding a model permission still may not enter."""
    from django.contrib.auth.models import Permission

    staff = User.objects.create_user("staff", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_finding"))
    client.force_login(staff)
    assert client.get("/admin/exposure/finding/").status_code == 302  # to the admin's login
    admin = dashboard_admin()
    admin.user_permissions.add(Permission.objects.get(codename="view_finding"))
    client.force_login(admin)
    assert client.get("/admin/exposure/finding/").status_code == 200
