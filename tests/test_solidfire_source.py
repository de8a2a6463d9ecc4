"""The SolidFire source against the simulated Element API: real HTTPS, the real SDK, TLS verified
against the array's own CA at an IP address, and every way a cluster can fail."""

import dataclasses
import json
import logging
import socket

import orjson
import pytest

from arrays.sources.contract import SOLIDFIRE_METHODS, ArrayEndpoint
from arrays.sources.solidfire import collect_solidfire
from inventory.constants import SOLIDFIRE
from inventory.secrets import is_secret_key, without_secrets
from simulator.element_api import ElementApiServer
from simulator.names import SECRET_MARKER
from simulator.solidfire_array import solidfire_arrays
from simulator.tls import TlsMaterial
from simulator.world import Simulation
from tests.listeners import ConnectionRecorder

EVERY_METHOD = set(SOLIDFIRE_METHODS)


@pytest.fixture(scope="module")
def array():
    (array,) = solidfire_arrays(Simulation(seed=11))
    return array


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return TlsMaterial.generate(tmp_path_factory.mktemp("array-ca"))


@pytest.fixture(scope="module")
def untrusted(tmp_path_factory):
    return TlsMaterial.generate(tmp_path_factory.mktemp("someone-elses-ca"))


@pytest.fixture(scope="module")
def module_server(array, tls):
    server = ElementApiServer(array, tls).start()
    yield server
    server.stop()


@pytest.fixture
def server(module_server):
    module_server.faults.clear()
    module_server.requests.clear()
    return module_server


@pytest.fixture
def endpoint(server, array, tls):
    return ArrayEndpoint(
        SOLIDFIRE,
        "127.0.0.1",  # an IP-address MVIP, verified: what the SDK's factory cannot do
        server.port,
        username=array.admin_username,
        password=array.admin_password,
        verify=str(tls.ca_bundle),
        timeout=5.0,
    )


def expected(array, method: str) -> list[dict]:
    """What the array holds for `method`, without its secrets."""
    result = array.result(method, {})[SOLIDFIRE_METHODS[method]]
    records = [result] if isinstance(result, dict) else result
    return without_secrets(records)


def only_unread(collection, methods) -> dict:
    assert set(collection.unread) == set(methods)
    assert set(collection.objects) == EVERY_METHOD - set(methods)
    return collection.unread


def test_reads_every_method_over_verified_https(array, server, endpoint):
    collection = collect_solidfire(endpoint)
    assert collection.unread == {}
    for method in SOLIDFIRE_METHODS:
        assert collection.objects[method] == expected(array, method), method
    assert len(collection.objects["GetClusterInfo"]) == 1
    assert collection.facts["element_api_version"] == "12.3"
    log = list(server.requests)
    assert (log[0].path, log[0].query["method"]) == ("/json-rpc/7.0", "GetAPI")
    assert {r.path for r in log[1:]} == {"/json-rpc/12.3"}
    assert [r.query["method"] for r in log[1:]] == list(SOLIDFIRE_METHODS)  # one page each
    assert all(r.authenticated for r in log)


def test_ipv6_and_host_names_verify_too(array, tls, endpoint):
    server6 = ElementApiServer(array, tls, host="::1").start()
    try:
        for host, port in (("::1", server6.port), ("localhost", endpoint.port)):
            collection = collect_solidfire(dataclasses.replace(endpoint, host=host, port=port))
            assert collection.unread == {} and set(collection.objects) == EVERY_METHOD, host
    finally:
        server6.stop()


def test_chap_secrets_reach_neither_the_collection_nor_any_log(array, server, endpoint, caplog):
    raw_accounts = orjson.dumps(array.result("ListAccounts", {}))
    assert SECRET_MARKER.encode() in raw_accounts  # the array does hand them out
    # Whatever an operator configured: every logger, the SDK's included, at DEBUG.
    caplog.set_level(logging.DEBUG)
    for name in ("solidfire", "solidfire.Element", "urllib3", "requests", "inventory", "arrays"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    collections = [collect_solidfire(endpoint), collect_solidfire(endpoint, page_size=1)]
    # A garbled answer full of secrets, to a method read after others succeeded.
    server.faults.add("#ListInitiators$", status=200, message=raw_accounts[:-40].decode())
    collections.append(collect_solidfire(endpoint))
    assert "ListInitiators" in collections[-1].unread
    assert logging.getLogger("solidfire.Element").getEffectiveLevel() >= logging.WARNING
    assert caplog.records, "nothing was logged at all: the check below would prove nothing"
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        assert SECRET_MARKER not in text, record.name
        assert array.admin_password not in text, record.name
    for collection in collections:
        dumped = repr(collection)
        assert SECRET_MARKER not in dumped and array.admin_password not in dumped
        for records in collection.objects.values():
            assert not {k for r in records for k in r if is_secret_key(k) and not isinstance(r[k], bool)}


def test_an_untrusted_certificate_leaves_everything_unread_before_any_credential_is_sent(
    server, endpoint, untrusted
):
    for verify in (str(untrusted.ca_bundle), True):  # someone else's CA; the system's CAs
        collection = collect_solidfire(dataclasses.replace(endpoint, verify=verify))
        reasons = set(only_unread(collection, EVERY_METHOD).values())
        assert len(reasons) == 1
        (reason,) = reasons
        assert "TLS verification failed" in reason and "certificate" in reason
        assert reason.startswith(f"solidfire https://127.0.0.1:{endpoint.port}")
    assert len(server.requests) == 0


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # asked for here
def test_verification_is_skipped_only_when_the_admin_turned_it_off(endpoint):
    collection = collect_solidfire(dataclasses.replace(endpoint, verify=False))
    assert collection.unread == {} and set(collection.objects) == EVERY_METHOD


def test_refused_credentials(server, endpoint):
    wrong = f"{SECRET_MARKER}not-the-password"
    collection = collect_solidfire(dataclasses.replace(endpoint, password=wrong))
    reasons = set(only_unread(collection, EVERY_METHOD).values())
    assert reasons == {
        f"solidfire https://127.0.0.1:{endpoint.port}: the array refused the credentials (HTTP 401)"
    }
    assert [r.query["method"] for r in server.requests] == ["GetAPI"]  # gave up at once


def test_a_dead_port(endpoint):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    collection = collect_solidfire(dataclasses.replace(endpoint, port=port))
    (reason,) = set(only_unread(collection, EVERY_METHOD).values())
    assert reason == f"solidfire https://127.0.0.1:{port}: cannot connect: Connection refused"


def test_garbage_to_the_version_negotiation_leaves_everything_unread(server, endpoint):
    server.faults.add("#GetAPI$", status=200, message="<html>maintenance</html>")
    (reason,) = set(only_unread(collect_solidfire(endpoint), EVERY_METHOD).values())
    assert reason.endswith("GetAPI: the array's answer (HTTP 200) is not JSON-RPC")


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ({"status": 200, "message": '{"result": {"accounts": ['}, "is not JSON-RPC"),
        ({"status": 200, "message": '{"id": 1, "result": []}'}, "a result that is not an object"),
        ({"status": 200, "message": '{"id": 1, "result": {}}'}, "answered without a list of accounts"),
        ({"status": 500}, "ListAccounts failed on the array: xSimulatedFault (500)"),
        ({"status": 502, "message": "<html>Bad Gateway</html>"}, "xSimulatedFault (502)"),
        ({"drop": True}, "connection lost"),
    ],
)
def test_one_method_failing_leaves_only_that_method_unread(array, server, endpoint, fault, reason):
    server.faults.add("#ListAccounts$", **fault)
    collection = collect_solidfire(endpoint)
    assert reason in only_unread(collection, ["ListAccounts"])["ListAccounts"]
    assert collection.objects["ListVolumes"] == expected(array, "ListVolumes")


def test_a_json_rpc_error_names_the_arrays_error(server, endpoint):
    error = {"name": "xPermissionDenied", "code": 403, "message": "reporting role required"}
    server.faults.add("#ListInitiators$", status=200, message=json.dumps({"id": 5, "error": error}))
    reason = only_unread(collect_solidfire(endpoint), ["ListInitiators"])["ListInitiators"]
    assert reason.endswith(
        "ListInitiators failed on the array: xPermissionDenied (403): reporting role required"
    )


def test_a_slow_method_times_out_alone(server, endpoint):
    server.faults.add("#ListVolumeAccessGroups$", delay=1.0)
    collection = collect_solidfire(dataclasses.replace(endpoint, timeout=0.3))
    reason = only_unread(collection, ["ListVolumeAccessGroups"])["ListVolumeAccessGroups"]
    assert reason.endswith("no answer within 0.3 s")


def test_a_cluster_too_old_for_a_method(server, endpoint):
    api = {"currentVersion": "8.0", "supportedVersions": ["7.0", "8.0"]}
    server.faults.add("#GetAPI$", status=200, message=json.dumps({"id": 0, "result": api}))
    collection = collect_solidfire(endpoint)
    reason = only_unread(collection, ["ListInitiators"])["ListInitiators"]
    assert reason.endswith("ListInitiators needs Element API 9; the array offers 8")
    assert {r.path for r in server.requests} == {"/json-rpc/7.0", "/json-rpc/8.0"}


def test_paging_across_several_pages(array, server, endpoint):
    collection = collect_solidfire(endpoint, page_size=2)
    assert collection.unread == {}
    for method in SOLIDFIRE_METHODS:
        assert collection.objects[method] == expected(array, method), method
    volumes = [r.query for r in server.requests if r.query["method"] == "ListVolumes"]
    ids = [v["volumeID"] for v in expected(array, "ListVolumes")]
    assert len(ids) >= 5
    starts = ["0"] + [str(ids[i] + 1) for i in range(1, len(ids), 2)]
    assert [q["startVolumeID"] for q in volumes] == starts
    assert {q["limit"] for q in volumes} == {"2"}


def test_paging_that_does_not_advance_is_refused_not_followed_forever(server, endpoint):
    stuck = {"id": 1, "result": {"volumes": [{"volumeID": 1, "name": "a"}, {"volumeID": 2, "name": "b"}]}}
    server.faults.add("#ListVolumes$", status=200, message=json.dumps(stuck), times=None)
    reason = only_unread(collect_solidfire(endpoint, page_size=2), ["ListVolumes"])["ListVolumes"]
    assert "outside the page asked for (startVolumeID=3)" in reason
    assert sum(r.query["method"] == "ListVolumes" for r in server.requests) == 2


@pytest.fixture
def elsewhere():
    recorder = ConnectionRecorder().start()
    yield recorder
    recorder.stop()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_and_leaves_that_method_unread(array, server, endpoint, elsewhere, status):
    server.faults.add("#ListAccounts$", status=status, location=f"{elsewhere.url}/json-rpc/12.3")
    collection = collect_solidfire(endpoint)
    assert elsewhere.connections == 0
    reason = only_unread(collection, ["ListAccounts"])["ListAccounts"]
    assert reason.endswith(f"the array redirected the request (HTTP {status}); redirects are not followed")
    assert collection.objects["ListVolumes"] == expected(array, "ListVolumes")


def test_proxies_named_in_the_environment_are_not_used(array, endpoint, elsewhere, monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, elsewhere.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    collection = collect_solidfire(endpoint)
    assert elsewhere.connections == 0
    assert collection.unread == {}
