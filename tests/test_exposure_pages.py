"""The exposure on the pages: grades on the cluster page; findings, their paths and every path into a
namespace's data on its page; escaped; and only for those who may see the namespace."""

import re

import pytest
from django.contrib.auth.models import User

from exposure.findings import by_status
from exposure.models import Finding
from inventory.importing import import_dump
from tests.cases.runner import CASES, TAKEN_AT, assemble, configure_cluster
from tests.factories import dashboard_admin

pytestmark = pytest.mark.django_db


@pytest.fixture
def cluster(tmp_path):
    cluster = configure_cluster("prod", {"cluster": {"owner_keys": ["owner.example.com/email"]}})
    dump = assemble(CASES / "web" / "hostile-share", tmp_path, {})
    assert import_dump(cluster.name, dump, taken_at=TAKEN_AT).is_visible
    return cluster


def page(client, user, url) -> str:
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_cluster_page_grades_each_namespace(client, cluster):
    admin = dashboard_admin()
    html = page(client, admin, "/clusters/prod/")
    row = r'grade-([A-F])"[^>]*>[A-F]</span></td>\s*<td><a href="/clusters/prod/namespaces/([\w-]+)/"'
    by_namespace = {ns: grade for grade, ns in re.findall(row, html)}
    assert by_namespace.get("sandbox") == "D", html  # shared with every namespace: high
    assert by_namespace.get("alpha-web") == "D"  # shared into another tenant: high


def test_namespace_page_shows_grade_findings_and_paths_escaped(client, cluster):
    admin = dashboard_admin()
    html = page(client, admin, "/clusters/prod/namespaces/sandbox/")
    assert 'class="grade grade-D"' in html
    assert "volume-shared-by-annotation" in html and "Who outside its trust boundary" in html
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)" in html, "the hostile value is shown, escaped"


def test_an_owner_sees_only_their_namespaces_exposure(client, cluster):
    bob = User.objects.create_user("bob", email="bob@example.com")  # owner of beta-app (base namespaces)
    html = page(client, bob, "/clusters/prod/namespaces/beta-app/")
    assert "privileged-container" in html
    client.force_login(bob)
    assert client.get("/clusters/prod/namespaces/sandbox/").status_code == 404
    listing = page(client, bob, "/clusters/prod/")
    assert "/clusters/prod/namespaces/beta-app/" in listing and "/namespaces/sandbox/" not in listing


def test_overview_counts_open_findings_over_what_each_user_may_see(client, cluster):
    admin = dashboard_admin()
    bob = User.objects.create_user("bob", email="bob@example.com")
    everything = by_status(Finding.objects.filter(cluster=cluster), "open")
    bobs = everything.filter(attributions__namespace="beta-app").distinct()
    assert 0 < bobs.count() < everything.count()
    for user, findings in ((admin, everything), (bob, bobs)):
        html = page(client, user, "/")
        shown = sum(int(n) for n in re.findall(r'<span class="sev sev-\w+">(\d+) \w+</span>', html))
        assert shown == findings.count(), user.username
