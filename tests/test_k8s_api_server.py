"""The simulator's API server speaks the real Kubernetes wire format, to raw HTTP, the client and kubectl."""

import http.client
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from inventory.kinds import BY_KIND, KINDS
from simulator.control import SimulatorControl
from simulator.k8s_api import (
    CONTINUE_EXPIRED_MESSAGE,
    KubernetesApiServer,
    StaticStore,
    human_duration,
)
from tests.kube_objects import every_kind, make_object, make_pod, secret

TOKEN = "test-token-4f1c"


def _store(pods: int = 30, trident_installed: bool = True) -> StaticStore:
    objects = every_kind()
    objects["Pod"] = [
        make_pod(
            f"team-{i % 3}", f"web-{i:03d}", labels={"app": "web" if i % 2 else "db", "tier": str(i % 3)}
        )
        for i in range(pods)
    ]
    objects["Secret"] = [secret("team-0", "db-password")]
    return StaticStore(objects, trident_installed=trident_installed)


@pytest.fixture
def store():
    return _store()


def _start(store, **options) -> KubernetesApiServer:
    server = KubernetesApiServer(store, **options).start()
    server.accept_token(TOKEN)
    return server


@pytest.fixture
def server(store, tmp_path):
    server = KubernetesApiServer(store).start()
    server.write_kubeconfig(tmp_path / "kubeconfig", token=TOKEN)
    yield server
    server.stop()


def get(server, path, query=None, headers=None):
    """(status, headers, parsed JSON body) of one GET over a fresh connection."""
    target = path + ("?" + urllib.parse.urlencode(query) if query else "")
    parsed = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        connection.request("GET", target, headers={"Authorization": f"Bearer {TOKEN}", **(headers or {})})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), json.loads(response.read())
    finally:
        connection.close()


def list_all(server, path, limit, **query):
    """Every item of a list, following continue tokens, and the list metadata of each page."""
    items, pages, token = [], [], None
    while True:
        status, _, body = get(
            server, path, {"limit": limit, **query, **({"continue": token} if token else {})}
        )
        assert status == 200, body
        items += body["items"]
        pages.append(body["metadata"])
        token = body["metadata"].get("continue")
        if not token:
            return items, pages


# --- discovery ---------------------------------------------------------------------------------


def test_discovery_describes_every_kind_the_product_reads(server):
    status, _, version = get(server, "/version")
    assert status == 200 and version["major"] == "1" and version["gitVersion"].startswith("v1.")

    _, _, api = get(server, "/api")
    assert api["kind"] == "APIVersions" and api["versions"] == ["v1"]

    _, _, core = get(server, "/api/v1")
    assert core["kind"] == "APIResourceList" and core["groupVersion"] == "v1"
    resources = {r["name"]: r for r in core["resources"]}
    assert resources["pods"] == {
        "name": "pods",
        "singularName": "pod",
        "namespaced": True,
        "kind": "Pod",
        "verbs": ["get", "list"],
        "shortNames": ["po"],
    }
    assert resources["persistentvolumes"]["namespaced"] is False
    assert "secrets" in resources  # served, so tests can prove the product never asks

    _, _, groups = get(server, "/apis")
    assert groups["kind"] == "APIGroupList"
    names = {g["name"]: g for g in groups["groups"]}
    assert set(names) == {
        "storage.k8s.io",
        "networking.k8s.io",
        "rbac.authorization.k8s.io",
        "trident.netapp.io",
    }
    assert names["trident.netapp.io"]["preferredVersion"] == {
        "groupVersion": "trident.netapp.io/v1",
        "version": "v1",
    }

    for info in KINDS:
        group_version = "/api/v1" if not info.group else f"/apis/{info.group}/{info.version}"
        _, _, listed = get(server, group_version)
        served = {r["name"]: r for r in listed["resources"]}
        assert served[info.plural]["kind"] == info.kind
        assert served[info.plural]["namespaced"] == info.namespaced


def test_without_trident_its_group_is_absent_and_answers_404(tmp_path):
    server = _start(_store(trident_installed=False))
    try:
        _, _, groups = get(server, "/apis")
        assert "trident.netapp.io" not in {g["name"] for g in groups["groups"]}
        for path in ("/apis/trident.netapp.io/v1", "/apis/trident.netapp.io/v1/tridentvolumes"):
            status, headers, body = get(server, path)
            assert status == 404
            assert headers["Content-Type"] == "application/json"
            assert body["kind"] == "Status" and body["reason"] == "NotFound" and body["code"] == 404
    finally:
        server.stop()


# --- lists -------------------------------------------------------------------------------------


def test_list_has_the_real_shape(server, store):
    status, _, body = get(server, "/api/v1/pods")
    assert status == 200
    assert list(body) == ["kind", "apiVersion", "metadata", "items"]
    assert body["kind"] == "PodList" and body["apiVersion"] == "v1"
    assert body["metadata"] == {"resourceVersion": str(store.resource_version)}  # unpaged: no continue
    assert len(body["items"]) == 30
    # Items of built-in kinds carry no type of their own; custom resources keep theirs.
    assert "kind" not in body["items"][0] and "apiVersion" not in body["items"][0]
    _, _, volumes = get(server, "/apis/trident.netapp.io/v1/tridentvolumes")
    assert volumes["kind"] == "TridentVolumeList" and volumes["apiVersion"] == "trident.netapp.io/v1"
    assert {(i["kind"], i["apiVersion"]) for i in volumes["items"]} == {
        ("TridentVolume", "trident.netapp.io/v1")
    }


def test_lists_are_in_namespace_then_name_order(server):
    _, _, body = get(server, "/api/v1/pods")
    keys = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in body["items"]]
    assert keys == sorted(keys)


def test_namespaced_list_and_single_get(server):
    _, _, body = get(server, "/api/v1/namespaces/team-1/pods")
    assert {p["metadata"]["namespace"] for p in body["items"]} == {"team-1"}
    assert len(body["items"]) == 10

    status, _, pod = get(server, "/api/v1/namespaces/team-1/pods/web-001")
    assert status == 200 and pod["kind"] == "Pod" and pod["apiVersion"] == "v1"
    assert pod["metadata"]["name"] == "web-001"

    status, _, namespace = get(server, "/api/v1/namespaces/ns-0")
    assert status == 200 and namespace["kind"] == "Namespace"

    status, _, cluster_role = get(server, "/apis/rbac.authorization.k8s.io/v1/clusterroles/clusterroles-1")
    assert status == 200 and cluster_role["kind"] == "ClusterRole"


def test_errors_are_json_status_objects(server):
    status, _, body = get(server, "/api/v1/namespaces/team-1/pods/nope")
    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "pods"},
        "code": 404,
    }
    for path in (
        "/api/v1/namespaces/team-1/nodes",
        "/api/v1/pods/web-001",
        "/api/v1/widgets",
        "/apis/x.io/v1",
    ):
        status, _, body = get(server, path)
        assert (status, body["kind"], body["reason"]) == (404, "Status", "NotFound"), path


def test_paging_returns_every_item_once_with_remaining_counts(server):
    items, pages = list_all(server, "/api/v1/pods", limit=7)
    names = [p["metadata"]["name"] for p in items]
    assert sorted(names) == sorted(f"web-{i:03d}" for i in range(30))
    assert len(set(names)) == 30
    assert len(pages) == 5
    assert [p.get("remainingItemCount") for p in pages] == [23, 16, 9, 2, None]
    assert "continue" not in pages[-1]


def test_continue_token_pins_a_consistent_snapshot(server, store):
    _, _, first = get(server, "/api/v1/pods", {"limit": 10})
    old_version = first["metadata"]["resourceVersion"]
    store.replace("Pod", [make_pod("team-9", "newcomer")])

    _, _, second = get(server, "/api/v1/pods", {"limit": 10, "continue": first["metadata"]["continue"]})
    assert second["metadata"]["resourceVersion"] == old_version
    assert len(second["items"]) == 10 and "newcomer" not in {p["metadata"]["name"] for p in second["items"]}

    _, _, fresh = get(server, "/api/v1/pods", {"limit": 10})
    assert [p["metadata"]["name"] for p in fresh["items"]] == ["newcomer"]
    assert int(fresh["metadata"]["resourceVersion"]) > int(old_version)


def test_changed_objects_are_served_changed_and_unchanged_ones_as_before(server, store):
    pods = store.objects("Pod")
    _, _, before = get(server, "/api/v1/pods")
    changed = json.loads(json.dumps(pods[3]))  # a new object with a new resourceVersion, as a store writes
    changed["metadata"]["labels"]["app"] = "changed"
    changed["metadata"]["resourceVersion"] = "101"
    store.replace("Pod", [*pods[:3], changed, *pods[4:]])

    _, _, after = get(server, "/api/v1/pods")
    by_name = {p["metadata"]["name"]: p for p in after["items"]}
    assert by_name["web-003"]["metadata"]["labels"]["app"] == "changed"
    assert [p for p in after["items"] if p["metadata"]["name"] != "web-003"] == [
        p for p in before["items"] if p["metadata"]["name"] != "web-003"
    ]
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])


def test_expired_continue_token_is_410_gone(store):
    server = _start(store, continue_ttl_seconds=0.2)
    try:
        _, _, first = get(server, "/api/v1/pods", {"limit": 10})
        time.sleep(0.3)
        status, _, body = get(
            server, "/api/v1/pods", {"limit": 10, "continue": first["metadata"]["continue"]}
        )
        assert status == 410
        assert body["kind"] == "Status" and body["reason"] == "Expired" and body["code"] == 410
        assert body["message"] == CONTINUE_EXPIRED_MESSAGE
    finally:
        server.stop()


def test_continue_tokens_expire_on_demand_over_http(server):
    _, _, first = get(server, "/api/v1/pods", {"limit": 10})
    token = first["metadata"]["continue"]
    assert get(server, "/api/v1/pods", {"limit": 10, "continue": token})[0] == 200
    SimulatorControl(server.url).expire_continue_tokens()
    status, _, body = get(server, "/api/v1/pods", {"limit": 10, "continue": token})
    assert (status, body["reason"]) == (410, "Expired")


def test_bad_or_foreign_continue_token_is_400(server):
    status, _, body = get(server, "/api/v1/pods", {"limit": 10, "continue": "not-a-token"})
    assert (status, body["reason"]) == (400, "BadRequest")
    _, _, first = get(server, "/api/v1/pods", {"limit": 10})
    status, _, body = get(server, "/api/v1/nodes", {"limit": 10, "continue": first["metadata"]["continue"]})
    assert (status, body["reason"]) == (400, "BadRequest")


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=web", lambda labels: labels["app"] == "web"),
        ("app==web", lambda labels: labels["app"] == "web"),
        ("app!=web", lambda labels: labels["app"] != "web"),
        ("tier in (0, 2)", lambda labels: labels["tier"] in {"0", "2"}),
        ("tier notin (0,2)", lambda labels: labels["tier"] not in {"0", "2"}),
        ("app=db,tier in (1,2)", lambda labels: labels["app"] == "db" and labels["tier"] in {"1", "2"}),
        ("tier", lambda labels: True),
        ("!tier", lambda labels: False),
        ("missing", lambda labels: False),
        ("!missing", lambda labels: True),
    ],
)
def test_label_selectors(server, store, selector, expected):
    items, pages = list_all(server, "/api/v1/pods", limit=4, labelSelector=selector)
    want = sorted(p["metadata"]["name"] for p in store.objects("Pod") if expected(p["metadata"]["labels"]))
    assert sorted(p["metadata"]["name"] for p in items) == want
    assert all(
        "remainingItemCount" not in page for page in pages
    )  # the apiserver cannot count under a selector


def test_malformed_label_selector_is_400(server):
    status, _, body = get(server, "/api/v1/pods", {"labelSelector": "app in (web"})
    assert (status, body["kind"], body["reason"]) == (400, "Status", "BadRequest")


def test_field_selectors(server):
    _, _, body = get(server, "/api/v1/pods", {"fieldSelector": "metadata.name=web-004"})
    assert [p["metadata"]["name"] for p in body["items"]] == ["web-004"]
    _, _, body = get(
        server, "/api/v1/pods", {"fieldSelector": "metadata.namespace=team-2,metadata.name!=web-002"}
    )
    assert {p["metadata"]["namespace"] for p in body["items"]} == {"team-2"}
    assert len(body["items"]) == 9
    _, _, body = get(server, "/api/v1/pods", {"fieldSelector": "spec.nodeName=node-1"})
    assert len(body["items"]) == 30
    status, _, body = get(server, "/api/v1/pods", {"fieldSelector": "spec.bogus=x"})
    assert (status, body["reason"]) == (400, "BadRequest")
    assert body["message"] == 'field label not supported: "spec.bogus"'


def test_resource_version_on_lists(server, store):
    current = store.resource_version
    assert get(server, "/api/v1/pods", {"resourceVersion": "0"})[0] == 200
    assert get(server, "/api/v1/pods", {"resourceVersion": str(current)})[0] == 200
    status, _, body = get(server, "/api/v1/pods", {"resourceVersion": str(current + 5)})
    assert (status, body["reason"]) == (504, "Timeout")
    assert body["message"].startswith("Too large resource version")


def test_tokens_it_did_not_issue_are_refused(server):
    status, _, body = get(server, "/api/v1/pods", headers={"Authorization": "Bearer forged"})
    assert (status, body["reason"]) == (401, "Unauthorized")


def test_kubeconfig_works_with_the_official_client_and_is_private(server, tmp_path):
    path = tmp_path / "kubeconfig"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    api_client = k8s_config.new_client_from_config(str(path))
    pods = k8s_client.CoreV1Api(api_client).list_namespaced_pod("team-0", limit=3)
    assert len(pods.items) == 3 and pods.metadata._continue
    assert pods.items[0].spec.containers[0].name == "app"
    assert k8s_client.CoreV1Api(api_client).read_namespace("ns-1").status.phase == "Active"
    bindings = k8s_client.RbacAuthorizationV1Api(api_client).list_cluster_role_binding()
    assert bindings.items[0].role_ref.name == "view"


def test_table_for_kubectls_default_output(server):
    accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    status, _, table = get(server, "/api/v1/namespaces", headers={"Accept": accept})
    assert status == 200 and table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Status", "Age"]
    assert [row["cells"][:2] for row in table["rows"]] == [["ns-0", "Active"], ["ns-1", "Active"]]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert table["rows"][0]["object"]["metadata"]["name"] == "ns-0"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(5, "5s"), (119, "119s"), (150, "2m30s"), (600, "10m"), (3 * 3600 + 60, "3h1m"), (30 * 3600, "30h"),
     (3 * 86400, "3d"), (3 * 86400 + 7200, "3d2h"), (100 * 86400, "100d"), (3 * 365 * 86400, "3y")],
)  # fmt: skip
def test_age_column_matches_the_apiservers_human_duration(seconds, shown):
    assert human_duration(seconds) == shown


# --- faults ------------------------------------------------------------------------------------


def test_faults_over_http_fail_then_recover(server):
    control = SimulatorControl(server.url)
    control.add_fault(r"/api/v1/pods", status=500, times=2)
    assert get(server, "/api/v1/pods")[0] == 500
    status, _, body = get(server, "/api/v1/pods")
    assert (status, body["kind"], body["reason"], body["code"]) == (500, "Status", "InternalError", 500)
    assert get(server, "/api/v1/pods")[0] == 200
    assert get(server, "/api/v1/nodes")[0] == 200


def test_fault_with_retry_after_and_message(server):
    SimulatorControl(server.url).add_fault("pods", status=429, retry_after=2, message="slow down")
    status, headers, body = get(server, "/api/v1/pods")
    assert (status, headers["Retry-After"], body["reason"], body["message"]) == (
        429,
        "2",
        "TooManyRequests",
        "slow down",
    )


def test_fault_matches_only_continued_pages(server):
    server.faults.add(r"pods\?.*continue=", status=503, times=None)
    status, _, first = get(server, "/api/v1/pods", {"limit": 10})
    assert status == 200
    assert get(server, "/api/v1/pods", {"limit": 10, "continue": first["metadata"]["continue"]})[0] == 503
    SimulatorControl(server.url).clear_faults()
    assert get(server, "/api/v1/pods", {"limit": 10, "continue": first["metadata"]["continue"]})[0] == 200


def test_dropped_connection_and_slow_answer(server):
    control = SimulatorControl(server.url)
    control.add_fault("/api/v1/nodes", drop=True)
    with pytest.raises(http.client.RemoteDisconnected):
        get(server, "/api/v1/nodes")
    assert get(server, "/api/v1/nodes")[0] == 200

    control.add_fault("/api/v1/nodes", delay=0.3)
    started = time.monotonic()
    assert get(server, "/api/v1/nodes")[0] == 200
    assert time.monotonic() - started >= 0.3


def test_requests_are_logged_and_control_calls_are_not(server):
    SimulatorControl(server.url).clear_faults()
    get(server, "/api/v1/pods", {"limit": 5})
    assert [(r.method, r.path, r.query, r.authenticated) for r in server.requests] == [
        ("GET", "/api/v1/pods", {"limit": "5"}, True)
    ]


def test_stop_ends_keep_alive_connections(store):
    server = _start(store)
    parsed = urllib.parse.urlsplit(server.url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=5)
    connection.request("GET", "/version")
    assert connection.getresponse().read()
    server.stop()
    with pytest.raises((ConnectionError, http.client.HTTPException)):
        connection.request("GET", "/version")
        connection.getresponse()
    connection.close()


# --- kubectl -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kubectl():
    path = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if path is None:
        if os.geteuid() == 0:
            pytest.fail("kubectl is missing: `make test` installs Debian's kubernetes-client as root")
        pytest.skip("kubectl is missing and we are not root: apt-get install kubernetes-client")
    return path


def run_kubectl(kubectl, server, tmp_path, *args):
    home = tmp_path / "home"  # kubectl caches discovery under $HOME; keep each run clean
    home.mkdir(exist_ok=True)
    result = subprocess.run(
        [kubectl, "--kubeconfig", str(tmp_path / "kubeconfig"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "")},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_kubectl_get_pv_pvc_pods_as_json(kubectl, server, store, tmp_path):
    output = json.loads(run_kubectl(kubectl, server, tmp_path, "get", "pv,pvc,pods", "-A", "-o", "json"))
    assert output["kind"] == "List"
    got = sorted(
        (item["kind"], item["metadata"].get("namespace", ""), item["metadata"]["name"])
        for item in output["items"]
    )
    want = sorted(
        (kind, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        for kind in ("PersistentVolume", "PersistentVolumeClaim", "Pod")
        for obj in store.objects(kind)
    )
    assert got == want
    assert not any("/secrets" in r.path for r in server.requests)


def test_kubectl_pages_through_long_lists(kubectl, server, tmp_path):
    output = json.loads(
        run_kubectl(kubectl, server, tmp_path, "get", "pods", "-A", "--chunk-size=4", "-o", "json")
    )
    assert len(output["items"]) == 30
    continued = [r for r in server.requests if r.path == "/api/v1/pods" and "continue" in r.query]
    assert len(continued) == 7


def test_kubectl_get_namespaces_table(kubectl, server, tmp_path):
    lines = run_kubectl(kubectl, server, tmp_path, "get", "namespaces").splitlines()
    assert lines[0].split() == ["NAME", "STATUS", "AGE"]
    assert [line.split()[:2] for line in lines[1:]] == [["ns-0", "Active"], ["ns-1", "Active"]]


def test_kubectl_uses_short_names_and_trident_kinds(kubectl, server, tmp_path):
    lines = run_kubectl(kubectl, server, tmp_path, "get", "tvol", "-A").splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "AGE"]
    assert {tuple(line.split()[:2]) for line in lines[1:]} == {
        ("ns-0", "tridentvolumes-0"),
        ("ns-1", "tridentvolumes-1"),
    }


def test_store_objects_round_trip_unchanged(server, store):
    """What a client reads is what the store holds (items only lose kind/apiVersion on the wire)."""
    info = BY_KIND["ClusterRoleBinding"]
    _, _, body = get(server, info.list_path)
    expected = [make_object(info, f"{info.plural}-{i}") for i in range(2)]
    assert [{"kind": info.kind, "apiVersion": info.api_version, **item} for item in body["items"]] == expected


def test_simulate_command_serves_the_simulation_until_interrupted(tmp_path):
    kubeconfig = tmp_path / "simulated.kubeconfig"
    command = [sys.executable, "manage.py", "simulate", "--port", "0", "--kubeconfig-out", str(kubeconfig)]
    process = subprocess.Popen(
        command, cwd=Path(__file__).resolve().parent.parent, stdout=subprocess.PIPE, text=True
    )
    try:
        lines = []
        while not lines or "add_cluster" not in lines[-1]:
            line = process.stdout.readline()
            assert line, f"simulate exited early: {lines}"
            lines.append(line)
        assert lines[-1].strip() == f"python manage.py add_cluster simulated --kubeconfig {kubeconfig}"
        api_client = k8s_config.new_client_from_config(str(kubeconfig))
        namespaces = k8s_client.CoreV1Api(api_client).list_namespace(limit=500)
        assert "kube-system" in {ns.metadata.name for ns in namespaces.items}
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0


# --- the benchmark's pre-rendered pages -------------------------------------------------------


def test_with_the_response_cache_a_list_is_served_as_rendered_until_cleared(server, store):
    cache = server.cache_responses()
    first, pages = list_all(server, "/api/v1/pods", limit=10)
    assert len(pages) == 3 and cache.misses == 3 and cache.hits == 0
    store.replace("Pod", store.objects("Pod")[:5])  # the world changes: the cache does not know
    again, _ = list_all(server, "/api/v1/pods", limit=10)
    assert again == first and cache.hits == 3  # the same pages, continue tokens included
    status, _, body = get(server, "/api/v1/pods", {"limit": 10}, headers={"Authorization": "Bearer other"})
    assert status == 401  # another client's credentials are another request; refusals are not kept
    cache.clear()  # the bench clears it whenever the world changes
    fresh, _ = list_all(server, "/api/v1/pods", limit=10)
    assert len(fresh) == 5 and cache.hits == 0


def test_a_replaced_object_gets_a_new_resource_version_only_when_it_changed():
    """As Kubernetes: a write that changes an object (or creates one) gives it a new resourceVersion;
    passing it again unchanged keeps its own (inventory/kept_reuse.py relies on that)."""
    store = _store(pods=0)
    first = [make_pod("team-0", "web-0"), make_pod("team-0", "web-1")]
    store.replace("Pod", first)
    versions = {p["metadata"]["name"]: p["metadata"]["resourceVersion"] for p in store.objects("Pod")}
    changed = make_pod("team-0", "web-1")
    changed["spec"]["hostNetwork"] = True
    store.replace("Pod", [make_pod("team-0", "web-0"), changed, make_pod("team-0", "web-2")])
    after = {p["metadata"]["name"]: p["metadata"]["resourceVersion"] for p in store.objects("Pod")}
    assert after["web-0"] == versions["web-0"]
    assert after["web-1"] != versions["web-1"]
    assert after["web-2"] == after["web-1"] == str(store.resource_version)
