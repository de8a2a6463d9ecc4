"""The product's ONTAP source against the simulated array, over real HTTP and HTTPS, with the real
netapp-ontap library: every path, every page, and a clear reason for each way an array fails."""

import logging
from datetime import UTC, datetime

import pytest

from arrays.sources.contract import ONTAP_COLLECTIONS, ArrayEndpoint
from arrays.sources.ontap import collect_ontap
from inventory.constants import ONTAP
from simulator.names import SECRET_MARKER
from simulator.ontap_api import OntapApiServer
from simulator.ontap_array import ontap_arrays
from simulator.tls import TlsMaterial
from simulator.world import Simulation
from tests.listeners import ConnectionRecorder, free_port

PASSWORD = "ontap-test-password-xyzzy"  # noqa: S105
FAST = {"attempts": 2, "backoff": 0.01}


@pytest.fixture(scope="module")
def arrays():
    sim = Simulation(seed=7, start=datetime(2026, 1, 5, tzinfo=UTC))
    return {a.name: a for a in ontap_arrays(sim)}


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return TlsMaterial.generate(tmp_path_factory.mktemp("ontap-tls"))


@pytest.fixture
def https(arrays, tls):
    server = OntapApiServer(arrays["ontap-b"], tls=tls, password=PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture
def http(arrays):
    server = OntapApiServer(arrays["ontap-a"], password=PASSWORD).start()
    yield server
    server.stop()


def endpoint(server, password=PASSWORD, verify=True, port=None) -> ArrayEndpoint:
    scheme, _, rest = server.url.partition("://")
    host, _, server_port = rest.rpartition(":")
    return ArrayEndpoint(ONTAP, host, port or int(server_port), scheme, "admin", password, verify, timeout=5)


def expected(array) -> dict[str, list[dict]]:
    return {path: array.records(path) for path in ONTAP_COLLECTIONS}


def without_passwords(records):
    # CHAP settings go whole (their user names too, rules.md), passwords wherever they are.
    if isinstance(records, dict):
        return {k: without_passwords(v) for k, v in records.items() if k not in ("password", "chap")}
    if isinstance(records, list):
        return [without_passwords(r) for r in records]
    return records


def test_reads_every_path_over_https_with_ca_verification(https, tls, arrays):
    collection = collect_ontap(endpoint(https, verify=str(tls.ca_bundle)), page_size=3)
    assert collection.unread == {}
    assert collection.objects == without_passwords(expected(arrays["ontap-b"]))
    assert collection.facts == {"fc_interfaces": "none"}
    # paging: every collection of more than 3 records took several pages
    assert sum(1 for r in https.requests if r.path == "/api/storage/luns") == -(
        -len(collection.objects["/api/storage/luns"]) // 3
    )


def test_reads_every_path_over_http_with_expensive_fields(http, arrays):
    collection = collect_ontap(endpoint(http, verify=False))
    assert collection.unread == {}
    assert collection.objects == expected(arrays["ontap-a"])
    assert all("is_svm_root" in v for v in collection.objects["/api/storage/volumes"])
    assert {r.query.get("fields") for r in http.requests if r.path == "/api/storage/volumes"} == {
        "*,is_svm_root"
    }


def test_pages_across_many_pages(http, arrays):
    collection = collect_ontap(endpoint(http, verify=False), page_size=1)
    assert collection.objects == expected(arrays["ontap-a"])
    volumes = len(collection.objects["/api/storage/volumes"])
    assert sum(1 for r in http.requests if r.path == "/api/storage/volumes") == volumes > 20


def test_truncated_rules_are_read_from_the_rules_collection(arrays):
    server = OntapApiServer(arrays["ontap-a"], password=PASSWORD, max_inline_rules=1).start()
    try:
        collection = collect_ontap(endpoint(server, verify=False), page_size=2)
    finally:
        server.stop()
    policies = {
        p["name"]: p
        for p in collection.objects["/api/protocols/nfs/export-policies"]
        if p["svm"]["name"] == "svm_legacy"
    }
    full = {
        p["name"]: p
        for p in arrays["ontap-a"].records("/api/protocols/nfs/export-policies")
        if p["svm"]["name"] == "svm_legacy"
    }
    assert (
        policies["k8s_nodes"]["rules"] == full["k8s_nodes"]["rules"] and len(full["k8s_nodes"]["rules"]) == 2
    )
    assert any(r.path.endswith("/rules") for r in server.requests)


def test_chap_passwords_are_dropped(https, tls):
    collection = collect_ontap(endpoint(https, verify=str(tls.ca_bundle)))
    credentials = {c["svm"]["name"]: c for c in collection.objects["/api/protocols/san/iscsi/credentials"]}
    # The CHAP settings go whole, user names too (rules.md keeps no CHAP setting but whether it is on).
    assert "chap" not in credentials["svm_san"] and credentials["svm_san"]["authentication_type"] == "chap"
    assert "k8s-chap" not in repr(collection.objects)
    assert SECRET_MARKER not in repr(collection.objects)


def all_unread_with(collection, fragment: str) -> None:
    assert collection.objects == {}
    assert set(collection.unread) == set(ONTAP_COLLECTIONS)
    reasons = set(collection.unread.values())
    assert len(reasons) == 1 and fragment in reasons.pop(), collection.unread


def test_dead_array(caplog):
    port = free_port()  # a port nothing listens on
    dead = ArrayEndpoint(ONTAP, "127.0.0.1", port, "http", "admin", PASSWORD, False, timeout=2)
    with caplog.at_level(logging.DEBUG):
        all_unread_with(collect_ontap(dead, **FAST), "unreachable (connection refused), 2 attempts")
    assert PASSWORD not in caplog.text


def test_bad_credentials(https, tls, caplog):
    with caplog.at_level(logging.DEBUG):
        collection = collect_ontap(
            endpoint(https, password="wrong-" + PASSWORD, verify=str(tls.ca_bundle)), **FAST
        )
    all_unread_with(collection, "HTTP 401: credentials refused")
    assert PASSWORD not in caplog.text and PASSWORD not in repr(collection.unread)
    assert len(https.requests) == 1  # a refused login is not retried, nor tried on every path


def test_untrusted_certificate(https, tmp_path):
    other = TlsMaterial.generate(tmp_path / "another-ca")
    all_unread_with(
        collect_ontap(endpoint(https, verify=str(other.ca_bundle)), **FAST),
        "TLS failure: certificate verify failed",
    )
    assert len(https.requests) == 0


def test_answer_that_is_not_json(https, tls):
    https.faults.add("/api/protocols/san/igroups", status=200, times=None)
    all_unread_with(
        collect_ontap(endpoint(https, verify=str(tls.ca_bundle)), **FAST),
        "the answer is not JSON (text/html)",
    )


def test_one_path_failing_for_good(https, tls, arrays, caplog):
    https.faults.add("/api/storage/luns", status=500, message="internal error", times=None)
    with caplog.at_level(logging.DEBUG):
        collection = collect_ontap(endpoint(https, verify=str(tls.ca_bundle)), **FAST)
    assert collection.unread == {"/api/storage/luns": "HTTP 500 after 2 attempts: internal error"}
    assert set(collection.objects) == set(ONTAP_COLLECTIONS) - {"/api/storage/luns"}
    assert PASSWORD not in caplog.text
    assert SECRET_MARKER not in caplog.text


def test_transient_failures_are_retried(https, tls, arrays):
    https.faults.add("/api/storage/luns", status=503, times=1)
    https.faults.add("/api/protocols/san/igroups.*start=", drop=True, times=1)  # a later page
    collection = collect_ontap(endpoint(https, verify=str(tls.ca_bundle)), page_size=2, **FAST)
    assert collection.unread == {}
    assert collection.objects == without_passwords(expected(arrays["ontap-b"]))


def test_fc_not_served_is_a_fact(https, tls):
    https.faults.add("/api/network/fc/interfaces", status=404, message="API not found", times=None)
    collection = collect_ontap(endpoint(https, verify=str(tls.ca_bundle)), **FAST)
    assert collection.unread == {}
    assert collection.objects["/api/network/fc/interfaces"] == []
    assert collection.facts == {"fc_interfaces": "not served by this array"}


def test_unknown_path_is_unread_with_the_arrays_message(https, tls):
    https.faults.add("/api/protocols/nvme/subsystems", status=404, message="API not found", times=None)
    collection = collect_ontap(endpoint(https, verify=str(tls.ca_bundle)), **FAST)
    assert collection.unread == {"/api/protocols/nvme/subsystems": "HTTP 404: API not found"}


# --- only the configured endpoint: next links, redirects, the environment ------------------------


@pytest.fixture
def elsewhere():
    recorder = ConnectionRecorder().start()
    yield recorder
    recorder.stop()


@pytest.mark.parametrize(
    "href",
    [
        "@127.0.0.1:{port}/api/storage/volumes?start=1",  # origin + href made this userinfo@another-host
        "//127.0.0.1:{port}/api/storage/volumes?start=1",
        "http://127.0.0.1:{port}/api/storage/volumes?start=1",
        "https://127.0.0.1:{port}/api/storage/volumes?start=1",
        "http://admin:guess@127.0.0.1:{port}/api/storage/volumes?start=1",
    ],
    ids=["userinfo", "scheme-relative", "absolute", "other-scheme", "credentials"],
)
def test_a_next_page_link_is_never_followed_to_another_origin(http, arrays, elsewhere, href):
    http.faults.add("/api/storage/volumes", next_href=href.format(port=elsewhere.port))
    collection = collect_ontap(endpoint(http, verify=False), page_size=1, **FAST)
    assert elsewhere.connections == 0
    assert set(collection.unread) == {"/api/storage/volumes"}, collection.unread
    if not href.startswith("@"):  # resolved properly, "@…" is a path on the array itself: a 404
        assert "next-page link" in collection.unread["/api/storage/volumes"]
        assert collection.unread["/api/storage/volumes"].endswith("not followed")
    assert collection.objects["/api/storage/luns"] == expected(arrays["ontap-a"])["/api/storage/luns"]


def test_a_next_page_link_that_is_not_text_leaves_the_collection_unread(http):
    http.faults.add("/api/storage/volumes", next_href=7)
    collection = collect_ontap(endpoint(http, verify=False), page_size=1, **FAST)
    assert collection.unread == {"/api/storage/volumes": "the array's next-page link is not a link: 7"}


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_and_leaves_the_collection_unread(http, elsewhere, status):
    http.faults.add("/api/storage/volumes", status=status, location=f"{elsewhere.url}/api/storage/volumes")
    collection = collect_ontap(endpoint(http, verify=False), **FAST)
    assert elsewhere.connections == 0
    assert set(collection.unread) == {"/api/storage/volumes"}
    reason = collection.unread["/api/storage/volumes"]
    assert reason.startswith(f"HTTP {status}: the array redirected the request (to http://127.0.0.1:")
    assert reason.endswith("redirects are not followed")


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_proxies_named_in_the_environment_are_not_used(
    scheme, http, https, tls, arrays, elsewhere, monkeypatch
):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, elsewhere.url)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    server, verify = (http, False) if scheme == "http" else (https, str(tls.ca_bundle))
    collection = collect_ontap(endpoint(server, verify=verify), **FAST)
    assert elsewhere.connections == 0
    assert collection.unread == {}


def test_a_next_page_link_with_user_information_on_the_arrays_own_origin_is_refused(http):
    origin = http.url
    http.faults.add(
        "/api/storage/volumes", next_href=origin.replace("://", "://admin:guess@") + "/api/storage/volumes"
    )
    collection = collect_ontap(endpoint(http, verify=False), page_size=1, **FAST)
    assert collection.unread == {
        "/api/storage/volumes": "the array's next-page link carries user information: not followed"
    }
