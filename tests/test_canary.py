"""The canary: nothing of tenant B ever reaches tenant A, or anyone not logged in, on any URL.

Tenant B's namespace carries a unique marker in its name and labels (with an HTML payload); B's objects
share nodes and a volume with tenant A (one cluster, from the hostile-share case) and an export policy
(another cluster, from policy-shared).  Logged in as A, and anonymously, every URL of the URL
configuration is requested with real ids, enumerated from the resolver (tests/url_crawl.py): a page
added later is crawled without editing this test, and a URL whose parameters the crawl cannot fill
fails it.
"""

import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml
from django.contrib.auth.models import User

from exposure.models import Finding
from inventory.importing import import_dump
from inventory.models import InventoryObject
from tenancy.models import Grant
from tests.cases.runner import CASES, TAKEN_AT, assemble, configure_cluster
from tests.factories import dashboard_admin
from tests.url_crawl import expand, leaf_patterns

pytestmark = pytest.mark.django_db

MARKER = "zq7x"
PAYLOAD = f"<img src=x onerror=\"alert('{MARKER}')\">"
# B's namespace in each cluster: renamed from the case's, everywhere its files name it.
CANARY = {
    "hostile-share": ("beta-app", f"{MARKER}-beta-app"),
    "policy-shared": ("beta-jobs", f"{MARKER}-jobs"),
}
CASE_FOLDERS = {
    "hostile-share": CASES / "web" / "hostile-share",
    "policy-shared": CASES / "exports" / "policy-shared",
}


def _plant_canary(dump: Path, original: str, canary: str) -> None:
    for path in dump.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            path.write_text(re.sub(rf"\b{original}\b", canary, text), encoding="utf-8")
    listing = dump / "kubernetes" / "namespaces.yaml"
    namespaces = yaml.safe_load(listing.read_text(encoding="utf-8"))
    for item in namespaces["items"]:
        if item["metadata"]["name"] == canary:
            item["metadata"]["labels"].update(
                {"team": f"beta-{MARKER}", "note": PAYLOAD, "kubernetes.io/metadata.name": canary}
            )
            item["metadata"]["annotations"] = {"owner.example.com/email": f"{MARKER}@b.example"}
    listing.write_text(yaml.safe_dump(namespaces), encoding="utf-8")


@pytest.fixture
def world(tmp_path):
    """Two clusters with tenant B's canary namespace; tenant A (alpha) granted on both."""
    tenant_a = User.objects.create_user("alice", password="pw-alice-1")
    for name, folder in CASE_FOLDERS.items():
        cluster = configure_cluster(name, {"cluster": {"owner_keys": ["owner.example.com/email"]}})
        dump = assemble(folder, tmp_path / name, {})
        _plant_canary(dump, *CANARY[name])
        snapshot = import_dump(cluster.name, dump, taken_at=TAKEN_AT)
        assert snapshot.is_visible
        _plant_in_what_the_snapshot_says(snapshot, CANARY[name][1])
        Grant.objects.create(user=tenant_a, cluster=cluster, tenant="alpha")
    return tenant_a


def _plant_in_what_the_snapshot_says(snapshot, canary: str) -> None:
    """Sources and rules write free text that may quote any name: B's, in why something was not read,
    why a rule failed and a warning."""
    snapshot.unread = {**snapshot.unread, "TridentVolumeReference": f"403: cannot list in namespace {canary}"}
    analysis = {**snapshot.facts["analysis"], "failed": {"host-network": f"KeyError: '{canary}/app-0'"}}
    snapshot.facts = {**snapshot.facts, "analysis": analysis}
    snapshot.warnings = [*snapshot.warnings, f"skipped {canary}-notes.txt"]
    snapshot.save()


def test_the_canary_is_planted_and_shares_with_tenant_a(world, client):
    """The canary only proves something if B's data is really in the database and tied to A's."""
    for name, (_, canary) in CANARY.items():
        assert InventoryObject.objects.filter(cluster__name=name, kind="Namespace", name=canary).exists()
    b_share = CANARY["hostile-share"][1]
    assert any(
        "alpha-web" in f.namespaces and any(b_share in ref for ref in f.refs)
        for f in Finding.objects.filter(cluster__name="hostile-share", rule="volume-shared-by-annotation")
    ), "B shares a volume with A"
    assert any(
        {"alpha-db", CANARY["policy-shared"][1]} <= set(f.namespaces)
        for f in Finding.objects.filter(cluster__name="policy-shared", rule="export-policy-shared")
    ), "B shares an export policy with A"
    # An admin sees the marker: the crawl below would notice it.
    client.force_login(dashboard_admin())
    page = client.get(f"/clusters/hostile-share/namespaces/{CANARY['hostile-share'][1]}/")
    assert page.status_code == 200 and MARKER in page.content.decode()
    page = client.get("/clusters/hostile-share/namespaces/alpha-web/")
    assert MARKER in page.content.decode(), "A's page, seen by an admin, names B: redaction is per reader"
    for name in CANARY:
        page = client.get(f"/clusters/{name}/snapshots/").content.decode()
        assert page.count(MARKER) == 3, "why it was not read, why a rule failed, a warning: all name B"
        assert MARKER in client.get(f"/clusters/{name}/").content.decode()


# --- the crawl ------------------------------------------------------------------------------------


def _filter_queries() -> list[str]:
    """Query strings that name B (its namespace, its tenant, both clusters), for the filtered lists."""
    queries = ["", "?status=all"]
    for cluster, (_, canary) in CANARY.items():
        for status in ("open", "all"):
            queries.append(f"?namespace={canary}&status={status}")
            queries.append(f"?cluster={cluster}&namespace={canary}&status={status}")
        queries.append(f"?tenant=beta-{MARKER}&status=all")
        queries.append(f"?cluster={cluster}&tenant=beta-{MARKER}&status=all")
        queries.append(f"?cluster={cluster}&tenant=beta&status=all")
        queries.append(f"?q={canary}")  # the namespaces list's text search
        queries.append(f"?cluster={cluster}&q={MARKER}&sort=name")
    return queries


# URL names whose query string filters what they list
FILTERED = {"findings", "findings_csv", "namespaces", "cluster_namespaces"}


def crawl(client) -> dict[str, int]:
    """URL -> status, for every URL of the URL configuration (and the filtered lists with query
    strings that name tenant B)."""
    statuses = {}
    for parts, name in leaf_patterns():
        urls = expand(parts)
        assert urls, f"the crawl reached no URL of {parts}"
        if name in FILTERED:
            urls = [url + query for url in urls for query in _filter_queries()]
        for url in urls:
            status, body, location = _get(client, url)
            if MARKER in url.partition("?")[2]:
                # A filter form shows back what the reader typed: B's name is echoed, so the answer
                # must be exactly the one for a name that exists nowhere.
                twin_status, twin_body, _ = _get(client, url.replace(MARKER, UNKNOWN))
                assert (status, body.replace(MARKER, UNKNOWN)) == (twin_status, twin_body), (
                    f"{url} answers differently for tenant B's name than for a name that exists nowhere"
                )
            else:
                assert MARKER not in body and MARKER not in location, f"{url} shows tenant B's marker"
            assert "onerror=" not in body, f"{url} shows the HTML payload unescaped"
            statuses[url] = status
    return statuses


UNKNOWN = "nx0q"  # a marker-shaped name of nothing
CSRF_TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


def _get(client, url) -> tuple[int, str, str]:
    """Status, body (CSRF tokens blanked: they differ per response) and Location, minus the echo of
    the URL asked for (the login redirect's `?next=` is the reader's own)."""
    response = client.get(url)
    content = b"".join(response.streaming_content) if response.streaming else response.content
    body = CSRF_TOKEN.sub('name="csrfmiddlewaretoken" value=""', content.decode("utf-8", "replace"))
    return response.status_code, body, unquote(response.get("Location", "")).replace(url, "")


def test_tenant_a_never_sees_tenant_b_on_any_url(world, client):
    client.force_login(world)
    statuses = crawl(client)
    ok = [url for url, status in statuses.items() if status == 200]
    # The crawl really read A's pages (else a leak-free 404 everywhere would pass).
    assert "/clusters/hostile-share/namespaces/alpha-web/" in ok
    assert "/clusters/policy-shared/namespaces/alpha-db/" in ok
    for name, (_, canary) in CANARY.items():
        assert statuses[f"/clusters/{name}/namespaces/{canary}/"] == 404
        # A's cluster-level pages answer, with B's names taken out (not the whole page refused).
        for page in ("", "snapshots/", "arrays/"):
            assert statuses[f"/clusters/{name}/{page}"] == 200
    assert statuses["/rules/"] == 200 and statuses["/settings/"] == 404
    history = client.get("/clusters/hostile-share/snapshots/").content.decode()
    assert "in namespace (a name of another tenant)" in history and "rule host-network failed" in history
    # A still learns that another tenant reaches its data, and how: redacted, not dropped.
    page = client.get("/clusters/hostile-share/namespaces/alpha-web/").content.decode()
    assert "another tenant" in page
    # The pages' chart data (json_script) was crawled too, with findings that involve B: redacted.
    charts = dict(
        re.findall(r'<script id="(chart-[\w-]+)" type="application/json">(.*?)</script>', page, re.S)
    )
    assert "another tenant" in charts["chart-namespace-lives"]


def test_tenant_a_diagram_names_nothing_of_tenant_b(world, client):
    """B's volume is shared into A's namespace: A's exposure diagram shows that another tenant
    reaches it, from the redacted paths only (its JSON is crawled above as part of the page, too)."""
    client.force_login(world)
    page = client.get("/clusters/hostile-share/namespaces/alpha-web/").content.decode()
    found = re.search(
        r'<script id="chart-exposure-sankey" type="application/json">(.*?)</script>', page, re.S
    )
    assert found, "A's namespace is reached from outside its trust boundary: the diagram is drawn"
    labels = json.loads(found.group(1))["data"][0]["node"]["label"]
    assert "RBAC subjects" in labels and "volume-shared-by-annotation" in labels
    assert MARKER not in found.group(1) and "beta" not in found.group(1)


def test_nobody_logged_out_sees_anything_on_any_url(world, client):
    statuses = crawl(client)
    assert statuses["/clusters/hostile-share/namespaces/alpha-web/"] == 302
