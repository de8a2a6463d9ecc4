"""The simulated SolidFire side: arrays consistent with the cluster along its month, the Element
JSON-RPC wire as solidfire-sdk-python and raw HTTPS clients see it, and the TLS material."""

import base64
import http.client
import ipaddress
import json
import logging
import socket
import stat
import time
import urllib.parse
from datetime import UTC, datetime, timedelta

import orjson
import pytest
import requests
from cryptography import x509
from solidfire.common import ApiConnectionError
from solidfire.factory import ElementFactory

from simulator.control import SimulatorControl
from simulator.element_api import ElementApiServer
from simulator.names import SECRET_MARKER
from simulator.solidfire_array import (
    FOREIGN_IQN,
    LEGACY_ACCESS_GROUP,
    LEGACY_ACCOUNT,
    ElementError,
    solidfire_arrays,
)
from simulator.tls import TlsMaterial
from simulator.world import Simulation

START = datetime(2026, 1, 5, tzinfo=UTC)
RETIRED = "worker-retiring"


def day(days: float) -> datetime:
    return START + timedelta(days=days)


@pytest.fixture
def sim():
    return Simulation(seed=7, start=START)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return TlsMaterial.generate(tmp_path_factory.mktemp("element-tls"))


@pytest.fixture
def server(sim, tls):
    server = ElementApiServer(solidfire_arrays(sim)[0], tls).start()
    yield server
    server.stop()


def records(array, method: str, key: str) -> list[dict]:
    return array.result(method, {})[key]


def solidfire_tvols(sim, array) -> list[dict]:
    uuids = {b.uuid for b in array.backends}
    return [t for t in sim.objects("TridentVolume") if t["backendUUID"] in uuids]


# --- the array follows the simulated cluster --------------------------------------------------


def test_one_array_behind_the_solidfire_backends_as_trident_names_it(sim):
    (array,) = solidfire_arrays(sim)
    configs = [
        t["config"]["solidfire_config"]
        for t in sim.objects("TridentBackend")
        if "solidfire_config" in t["config"]
    ]
    assert configs and {b.name for b in array.backends} == {c["backendName"] for c in configs}
    assert array.name == "solidfire-a"
    assert array.management_lifs == [array.mvip] == [urllib.parse.urlsplit(configs[0]["EndPoint"]).hostname]
    assert array.svip == configs[0]["SVIP"].rsplit(":", 1)[0]
    assert array.tenant == configs[0]["TenantName"]
    info = array.result("GetClusterInfo", {})["clusterInfo"]
    assert (info["mvip"], info["svip"], info["name"]) == (array.mvip, array.svip, array.name)
    for address in (array.mvip, array.svip, *info["ensemble"]):  # never dialled: documentation range
        assert ipaddress.ip_address(address) in ipaddress.ip_network("198.51.100.0/24")


@pytest.mark.parametrize("when", [0, 11, 21, 27])
def test_every_trident_volume_is_a_chap_volume_of_the_tenant_account(sim, when):
    sim.advance_to(day(when))
    (array,) = solidfire_arrays(sim)
    volumes = {v["name"]: v for v in records(array, "ListVolumes", "volumes")}
    accounts = {a["username"]: a for a in records(array, "ListAccounts", "accounts")}
    tenant = accounts[array.tenant]
    tvols = solidfire_tvols(sim, array)
    assert tvols
    for tvol in tvols:
        config, access = tvol["config"], tvol["config"]["accessInformation"]
        volume = volumes[config["internalName"]]
        assert volume["name"] == config["name"].replace("_", "-")  # reference §2.4
        assert volume["accountID"] == tenant["accountID"]
        assert volume["volumeAccessGroups"] == []  # CSI forces CHAP: no access group
        assert volume["iqn"] == access["iscsiTargetIqn"]
        assert volume["totalSize"] == int(config["size"])
        # The account's CHAP secrets are the ones Trident copied into the volume.
        assert (tenant["initiatorSecret"], tenant["targetSecret"]) == (
            access["iscsiInitiatorSecret"],
            access["iscsiTargetSecret"],
        )
    assert sorted(tenant["volumes"]) == sorted(
        volumes[t["config"]["internalName"]]["volumeID"] for t in tvols
    )
    ids = [v["volumeID"] for v in records(array, "ListVolumes", "volumes")]
    assert ids == sorted(set(ids))


def test_volumes_follow_claims_made_and_deleted(sim):
    (array,) = solidfire_arrays(sim)
    before = {v["name"] for v in records(array, "ListVolumes", "volumes")}
    claim, volume = sim.add_claim("acme-db", "ledger-block", "solidfire-gold", sim.clock)
    pv_name = volume["metadata"]["name"]
    assert {v["name"] for v in records(array, "ListVolumes", "volumes")} == before | {pv_name}
    sim.timeline._delete_claim("acme-db", claim["metadata"]["name"])
    assert {v["name"] for v in records(array, "ListVolumes", "volumes")} == before


def test_legacy_access_group_admits_nodes_an_esx_host_and_keeps_the_retired_node(sim):
    (array,) = solidfire_arrays(sim)

    def node_iqns():
        return {n["metadata"]["name"]: n["iqn"] for n in sim.objects("TridentNode")}

    iqns = node_iqns()
    retired_iqn = iqns[RETIRED]
    (group,) = records(array, "ListVolumeAccessGroups", "volumeAccessGroups")
    assert group["name"] == LEGACY_ACCESS_GROUP
    assert retired_iqn in group["initiators"] and FOREIGN_IQN in group["initiators"]
    assert FOREIGN_IQN not in iqns.values()
    assert set(group["initiators"]) - {FOREIGN_IQN} <= set(iqns.values())
    accounts = {a["accountID"]: a["username"] for a in records(array, "ListAccounts", "accounts")}
    volumes = {v["volumeID"]: v for v in records(array, "ListVolumes", "volumes")}
    assert group["volumes"]
    for volume_id in group["volumes"]:
        assert volumes[volume_id]["volumeAccessGroups"] == [group["volumeAccessGroupID"]]
        assert accounts[volumes[volume_id]["accountID"]] == LEGACY_ACCOUNT
    initiators = records(array, "ListInitiators", "initiators")
    assert [i["initiatorName"] for i in initiators] == group["initiators"]
    assert [i["initiatorID"] for i in initiators] == group["initiatorIDs"]

    sim.advance_to(day(21))  # worker-retiring left on day 20
    assert RETIRED not in node_iqns()
    (after,) = records(array, "ListVolumeAccessGroups", "volumeAccessGroups")
    assert after == group  # nobody prunes the group: a stale node's IQN stays in it
    assert retired_iqn in after["initiators"]


def test_accounts_and_initiators_carry_chap_secrets(sim):
    (array,) = solidfire_arrays(sim)
    for method, key in (("ListAccounts", "accounts"), ("ListInitiators", "initiators")):
        for record in records(array, method, key):
            assert record["initiatorSecret"].startswith(SECRET_MARKER)
            assert record["targetSecret"].startswith(SECRET_MARKER)
            assert record["initiatorSecret"] != record["targetSecret"]


def test_arrays_are_deterministic_per_seed():
    def everything(seed):
        (array,) = solidfire_arrays(Simulation(seed=seed, start=START))
        return orjson.dumps([array.records(), array.result("GetClusterInfo", {})])

    assert everything(3) == everything(3)
    assert everything(3) != everything(4)


def test_paging_as_element_pages(sim):
    (array,) = solidfire_arrays(sim)
    for method, key, start_key, id_key in (
        ("ListVolumes", "volumes", "startVolumeID", "volumeID"),
        ("ListActiveVolumes", "volumes", "startVolumeID", "volumeID"),
        ("ListAccounts", "accounts", "startAccountID", "accountID"),
        ("ListInitiators", "initiators", "startInitiatorID", "initiatorID"),
    ):
        everything = records(array, method, key)
        assert len(everything) >= 2
        paged, start = [], 0
        while page := array.result(method, {start_key: start, "limit": 2})[key]:
            assert len(page) <= 2
            paged += page
            start = page[-1][id_key] + 1
        assert paged == everything
        assert array.result(method, {"limit": 0})[key] == everything  # 0: no limit
    with pytest.raises(ElementError) as bad:
        array.result("ListVolumes", {"startVolumeID": "7"})
    assert bad.value.name == "xInvalidParameter"
    with pytest.raises(ElementError) as unknown:
        array.result("DeleteVolume", {"volumeID": 1})
    assert unknown.value.name == "xUnknownAPIMethod"


# --- the Element JSON-RPC wire ------------------------------------------------------------------


ADMIN = object()  # post() with the array's admin credentials


def post(server, tls, body, path="/json-rpc/12.3", credentials=ADMIN, method="POST"):
    """(status, headers, raw body) of one call over a fresh, verified HTTPS connection."""
    connection = http.client.HTTPSConnection(
        "127.0.0.1", server.port, timeout=10, context=tls.client_context()
    )
    headers = {"Content-Type": "application/json"}
    if credentials is ADMIN:
        credentials = (server.array.admin_username, server.array.admin_password)
    if credentials is not None:
        encoded = base64.b64encode(":".join(credentials).encode()).decode()
        headers["Authorization"] = f"Basic {encoded}"
    try:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_the_sdks_own_factory_negotiates_and_parses_every_model(server, tls, monkeypatch):
    logging.getLogger("solidfire.Element").setLevel(logging.WARNING)  # its INFO lines are noise here
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_bundle))
    array = server.array
    element = ElementFactory.create(
        f"localhost:{server.port}",  # the factory verifies TLS only at a name, never at an IP address
        array.admin_username,
        array.admin_password,
        verify_ssl=True,
        print_ascii_art=False,
    )
    assert element.api_version == 12.3
    # Typed models: ListInitiators raises KeyError if the CHAP secret keys are missing.
    assert [i.initiator_name for i in element.list_initiators().initiators] == [
        r["initiatorName"] for r in records(array, "ListInitiators", "initiators")
    ]
    assert len(element.list_volumes(start_volume_id=0, limit=2).volumes) == 2
    assert element.list_volume_access_groups().volume_access_groups[0].name == LEGACY_ACCESS_GROUP
    assert element.get_cluster_info().cluster_info.mvip == array.mvip
    assert [a.username for a in element.list_accounts().accounts] == [LEGACY_ACCOUNT, array.tenant]
    log = list(server.requests)
    assert (log[0].path, log[0].query["method"]) == ("/json-rpc/7.0", "GetAPI")
    assert {r.path for r in log[1:]} == {"/json-rpc/12.3"}
    assert all(r.authenticated for r in log)
    assert log[2].query == {"method": "ListVolumes", "startVolumeID": "0", "limit": "2"}
    with pytest.raises(ApiConnectionError, match="Bad Credentials"):
        ElementFactory.create(
            f"localhost:{server.port}", "admin", "wrong", verify_ssl=True, print_ascii_art=False
        )
    assert array.admin_password not in repr(list(server.requests))


def test_json_rpc_answers_and_errors(server, tls):
    status, _, body = post(server, tls, {"method": "GetAPI", "params": {}, "id": 41}, path="/json-rpc/7.0")
    answer = json.loads(body)
    assert status == 200 and answer["id"] == 41
    assert answer["result"]["currentVersion"] == "12.3" and "7.0" in answer["result"]["supportedVersions"]

    def error(body, **options):
        status, _, raw = post(server, tls, body, **options)
        return status, json.loads(raw)["error"]

    status, unknown = error({"method": "CreateVolume", "params": {}, "id": 1})
    assert status == 200 and unknown["name"] == "xUnknownAPIMethod" and unknown["code"] == 500
    assert error({"method": "ListInitiators", "params": {}, "id": 2}, path="/json-rpc/8.0")[1]["name"] == (
        "xUnknownAPIMethod"  # introduced in 9.0
    )
    assert error({"method": "GetAPI", "id": 3}, path="/json-rpc/99.0")[1]["name"] == "xUnknownAPIVersion"
    assert (
        error({"method": "ListVolumes", "params": {"limit": -1}, "id": 4})[1]["name"] == "xInvalidParameter"
    )
    assert error(b"{not json")[0] == 400
    assert error({"method": "GetAPI"}, method="GET")[0] == 405


def test_wrong_or_missing_credentials_get_the_clusters_401(server, tls):
    for credentials in (None, ("admin", "wrong"), (server.array.admin_username, "")):
        call = {"method": "ListAccounts", "params": {}, "id": 1}
        status, headers, body = post(server, tls, call, credentials=credentials)
        assert status == 401
        assert b"401 Unauthorized." in body  # what the SDK turns into "Bad Credentials"
        assert headers["WWW-Authenticate"].startswith("Basic")
    assert not any(r.authenticated for r in server.requests)


def test_faults_aim_at_one_method_and_can_be_steered_over_https(server, tls, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_bundle))  # how another process trusts the simulator
    control = SimulatorControl(server.url)
    control.add_fault("#ListVolumes$", status=200, message='{"result": {"volumes": [')
    control.add_fault("#ListAccounts$", status=503, times=2)
    assert len(control._call("GET", "/_sim/faults")["faults"]) == 2
    call = {"params": {}, "id": 9}
    assert post(server, tls, {"method": "ListVolumes", **call})[2] == b'{"result": {"volumes": ['
    assert post(server, tls, {"method": "ListVolumes", **call})[0] == 200  # spent after one use
    status, _, body = post(server, tls, {"method": "ListAccounts", **call})
    assert status == 503 and json.loads(body)["error"]["code"] == 503
    assert post(server, tls, {"method": "GetClusterInfo", **call})[0] == 200  # other methods unaffected
    control.clear_faults()
    assert post(server, tls, {"method": "ListAccounts", **call})[0] == 200
    server.faults.add("#GetClusterInfo", drop=True)
    with pytest.raises(http.client.RemoteDisconnected):
        post(server, tls, {"method": "GetClusterInfo", **call})
    server.faults.add("#GetAPI", status=401)
    assert post(server, tls, {"method": "GetAPI", **call}, path="/json-rpc/7.0")[0] == 401


def test_https_only_with_a_certificate_for_loopback_names(server, tls, tmp_path):
    untrusted = TlsMaterial.generate(tmp_path / "other")
    session = requests.Session()
    with pytest.raises(requests.exceptions.SSLError):
        session.post(server.url + "/json-rpc/7.0", json={"method": "GetAPI"}, verify=str(untrusted.ca_bundle))
    # A client that connects and never speaks TLS does not hold up the next one.
    idle = socket.create_connection(("127.0.0.1", server.port))
    try:
        started = time.perf_counter()
        answer = session.post(
            f"https://localhost:{server.port}/json-rpc/7.0",
            json={"method": "GetAPI"},
            auth=(server.array.admin_username, server.array.admin_password),
            verify=str(tls.ca_bundle),
            timeout=5,
        )
        assert answer.json()["result"]["currentVersion"] == "12.3"
        assert time.perf_counter() - started < 2
    finally:
        idle.close()
    with pytest.raises(requests.exceptions.ConnectionError):  # plain HTTP gets no answer
        session.post(f"http://127.0.0.1:{server.port}/json-rpc/7.0", json={"method": "GetAPI"}, timeout=5)


def test_stopping_ends_keep_alive_connections(sim, tls):
    server = ElementApiServer(solidfire_arrays(sim)[0], tls).start()
    session = requests.Session()
    url = server.url + "/json-rpc/7.0"
    assert (
        session.post(url, json={"method": "GetAPI"}, verify=str(tls.ca_bundle), timeout=5).status_code == 401
    )
    server.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        session.post(url, json={"method": "GetAPI"}, verify=str(tls.ca_bundle), timeout=5)


# --- TLS material ---------------------------------------------------------------------------------


def test_tls_material_is_per_directory_loopback_and_private(tmp_path):
    first = TlsMaterial.generate(tmp_path / "a")
    assert TlsMaterial.generate(tmp_path / "a") is first  # generated once per directory
    other = TlsMaterial.generate(tmp_path / "b")
    assert other.ca_bundle.read_bytes() != first.ca_bundle.read_bytes()
    ca = x509.load_pem_x509_certificate(first.ca_bundle.read_bytes())
    cert = x509.load_pem_x509_certificate(first.cert_file.read_bytes())
    assert cert.issuer == ca.subject
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert cert.not_valid_after_utc - cert.not_valid_before_utc < timedelta(days=3)  # short-lived
    assert stat.S_IMODE(first.key_file.stat().st_mode) == 0o600
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_with_the_response_cache_a_call_is_answered_as_rendered_with_its_own_id(server, tls):
    cache = server.cache_responses()
    call = {"method": "ListAccounts", "params": {}}
    status, _, first = post(server, tls, {**call, "id": 1})
    assert status == 200 and cache.misses == 1
    status, _, again = post(server, tls, {**call, "id": 42})
    assert status == 200 and cache.hits == 1  # the SDK numbers each call: the id is not the call
    first_body, again_body = json.loads(first), json.loads(again)
    assert again_body["id"] == 42 and again_body["result"] == first_body["result"]
