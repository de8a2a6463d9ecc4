"""The canary: nothing of tenant B ever reaches tenant A, or anyone not logged in, on any URL.

Tenant B's namespace carries a unique marker in its name and labels (with an HTML payload); B's objects
share nodes and a volume with tenant A (one cluster, from the hostile-share case) and an export policy
(another cluster, from policy-shared), where B also has a PersistentVolume with the marker in its
own name, nested under A's export: every path from B into A's data goes through it.  Logged in as A,
and anonymously, every URL of the URL configuration is requested with real ids, enumerated from the
resolver (tests/url_crawl.py): a page added later is crawled without editing this test, and a URL
whose parameters the crawl cannot fill fails it.
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
# B's PV (policy-shared): a static NFS PV whose own name carries the marker (a PV is cluster-scoped:
# only its claim says it is B's), on a path nested under the export of A's volume `ledger` (alpha-db).
CANARY_PV = f"{MARKER}-nfs-reports"
A_EXPORT = "/trident_pvc_ec0cbf80_c716_582d_bb82_d648ecb34112"  # policy-shared's TridentVolume for ledger
A_EXPORT_SERVER = "192.0.2.41"  # its backend's data LIF


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


def _plant_pv(dump: Path, namespace: str) -> None:
    """B's claim `nested-reports` in `namespace`, bound to CANARY_PV, a directory of A's export."""
    objects = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": "nested-reports",
                "namespace": namespace,
                "uid": "c0ffee00-0000-4000-8000-0000000000b1",
            },
            "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "", "volumeName": CANARY_PV},
            "status": {"phase": "Bound"},
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": CANARY_PV, "uid": "c0ffee00-0000-4000-8000-0000000000b2"},
            "spec": {
                "accessModes": ["ReadWriteMany"],
                "capacity": {"storage": "1Gi"},
                "claimRef": {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "name": "nested-reports",
                    "namespace": namespace,
                    "uid": "c0ffee00-0000-4000-8000-0000000000b1",
                },
                "nfs": {"server": A_EXPORT_SERVER, "path": f"{A_EXPORT}/reports"},
                "persistentVolumeReclaimPolicy": "Retain",
            },
            "status": {"phase": "Bound"},
        },
    ]
    document = {"apiVersion": "v1", "kind": "List", "items": objects}
    (dump / "kubernetes" / "canary-pv.yaml").write_text(yaml.safe_dump(document), encoding="utf-8")


@pytest.fixture(autouse=True)
def _no_api_rate_limit(settings):
    settings.API_THROTTLE_RATE = None  # the crawl asks hundreds of URLs in a few seconds


@pytest.fixture
def world(tmp_path):
    """Two clusters with tenant B's canary namespace; tenant A (alpha) granted on both."""
    tenant_a = User.objects.create_user("alice", password="pw-alice-1")
    for name, folder in CASE_FOLDERS.items():
        cluster = configure_cluster(name, {"cluster": {"owner_keys": ["owner.example.com/email"]}})
        dump = assemble(folder, tmp_path / name, {})
        _plant_canary(dump, *CANARY[name])
        if name == "policy-shared":
            _plant_pv(dump, CANARY[name][1])
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
    assert any(
        "alpha-db" in f.namespaces and f"PersistentVolume/{CANARY_PV}" in f.refs
        for f in Finding.objects.filter(cluster__name="policy-shared", rule="volume-shared-across-tenants")
    ), "B's marked PV reaches A's data"
    # An admin sees the marker: the crawl below would notice it.
    client.force_login(dashboard_admin())
    page = client.get("/clusters/policy-shared/namespaces/alpha-db/")
    assert f"PersistentVolume/{CANARY_PV}" in page.content.decode(), "on a path into A's data"
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


# URL names whose query string filters what they list (the pages' and the API's lists).
FILTERED = {
    "findings",
    "findings_csv",
    "namespaces",
    "cluster_namespaces",
    "api-finding-list",
    "api-namespace-list",
    "api-volume-list",
    "api-timeline-list",
}


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
        assert statuses[f"/api/v1/namespaces/{name}/{canary}/"] == 404
        # A's cluster-level pages answer, with B's names taken out (not the whole page refused).
        for page in ("", "snapshots/", "arrays/"):
            assert statuses[f"/clusters/{name}/{page}"] == 200
    assert statuses["/api/v1/namespaces/hostile-share/alpha-web/paths/"] == 200
    assert statuses["/rules/"] == 200 and statuses["/settings/"] == 404
    history = client.get("/clusters/hostile-share/snapshots/").content.decode()
    assert "in namespace (a name of another tenant)" in history and "rule host-network failed" in history
    # A still learns that another tenant reaches its data, and how: redacted, not dropped.
    page = client.get("/clusters/hostile-share/namespaces/alpha-web/").content.decode()
    assert "another tenant" in page
    shared = client.get("/clusters/policy-shared/namespaces/alpha-db/").content.decode()
    assert "volume-shared-across-tenants" in shared and "PersistentVolume of another tenant" in shared
    # A's own volume is named, though B's PV reaches it too: an array object is its users'.
    assert f"array:nas-legacy/ontap.Volume/svm_legacy/{A_EXPORT.lstrip('/')}" in shared
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
