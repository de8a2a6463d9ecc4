"""The live Kubernetes source against the simulator's API server, over real HTTP."""

import gc
import logging

import pytest

from inventory.kept_fields import keep
from inventory.kinds import BY_KIND, KINDS, TRIDENT_KINDS
from inventory.sources import SourceError
from inventory.sources.kubernetes import (
    MAX_RETRY_AFTER_SECONDS,
    api_client_from_kubeconfig,
    collect_kubernetes,
    iter_list_pages,
)
from simulator.k8s_api import KubernetesApiServer, StaticStore
from tests.kube_objects import every_kind, make_pod, secret

TOKEN = "source-test-token-9b7e2d"


class Sleeps(list):
    """Records the backoff the source asks for instead of waiting it out."""

    def __call__(self, seconds):
        self.append(seconds)


def _objects(pods: int = 0) -> dict:
    objects = every_kind()
    if pods:
        objects["Pod"] = [make_pod(f"team-{i % 7}", f"app-{i:05d}") for i in range(pods)]
    objects["Secret"] = [secret("ns-0", "db-password")]
    return objects


@pytest.fixture
def cluster(tmp_path):
    """Start a server on a store; returns (server, api_client).  Servers are stopped afterwards, and no
    test may have caused a request for Secrets."""
    servers = []

    def start(objects=None, trident_installed=True, unserved_kinds=frozenset(), **options):
        store = StaticStore(objects or _objects(), trident_installed, unserved_kinds)
        server = KubernetesApiServer(store, **options).start()
        servers.append(server)
        kubeconfig = server.write_kubeconfig(tmp_path / f"kubeconfig-{len(servers)}", token=TOKEN)
        return server, api_client_from_kubeconfig(str(kubeconfig))

    yield start
    for server in servers:
        server.stop()
        assert not [r for r in server.requests if "secrets" in r.path]


def collect(api_client, **options):
    options.setdefault("sleep", Sleeps())
    options.setdefault("backoff_base", 0.001)
    return collect_kubernetes(api_client, **options)


def names(objects):
    return [(o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects]


def requests_to(server, path):
    return [r for r in server.requests if r.path == path]


def test_reads_every_kind_with_its_type(cluster):
    server, api_client = cluster()
    collection = collect(api_client)
    expected = _objects()
    assert collection.unread == {}
    assert set(collection.objects) == {info.kind for info in KINDS}
    for info in KINDS:
        assert sorted(names(collection.objects[info.kind])) == sorted(names(expected[info.kind])), info.kind
        assert {(o["kind"], o["apiVersion"]) for o in collection.objects[info.kind]} == {
            (info.kind, info.api_version)
        }
    assert collection.facts["trident_installed"] is True
    assert collection.facts["kubernetes_version"].startswith("v1.")
    assert set(collection.facts["list_seconds"]) == {info.kind for info in KINDS}
    # Cluster-wide lists, one per kind, each paged.
    lists = [r for r in server.requests if r.path in {info.list_path for info in KINDS}]
    assert len(lists) == len(KINDS) and all(r.query["limit"] == "500" for r in lists)


def test_pages_through_long_lists_without_losing_or_repeating(cluster):
    server, api_client = cluster(_objects(pods=1234))
    collection = collect(api_client, page_size=50)
    pods = names(collection.objects["Pod"])
    assert len(pods) == 1234 and len(set(pods)) == 1234
    assert set(pods) == {(f"team-{i % 7}", f"app-{i:05d}") for i in range(1234)}
    pod_requests = requests_to(server, "/api/v1/pods")
    assert len(pod_requests) == 25
    assert sum("continue" in r.query for r in pod_requests) == 24


def test_each_page_is_reduced_as_it_arrives(cluster):
    """The snapshot keeps only the kept fields of each object, page by page: a kind's raw list is never
    held whole, and what is kept is what keeping the raw list would have kept."""
    server, api_client = cluster(_objects(pods=120))
    raw = collect(api_client, page_size=50)
    reduced_pages = []

    def reduce(kind, obj):
        if kind == "Pod":
            reduced_pages.append(len(requests_to(server, "/api/v1/pods")))
        return keep(kind, obj)

    kept = collect(api_client, page_size=50, reduce=reduce)
    assert kept.kept and not raw.kept
    assert {kind: [keep(kind, o) for o in objects] for kind, objects in raw.objects.items()} == kept.objects
    # Reduced while the list was still being read: the first page's pods before the last page came.
    assert reduced_pages[0] < reduced_pages[-1]


def test_parsed_pages_for_the_floor(cluster):
    server, api_client = cluster(_objects(pods=120))
    pages = list(iter_list_pages(api_client, BY_KIND["Pod"], page_size=50))
    assert [page["kind"] for page in pages] == ["PodList"] * 3
    assert [len(page["items"]) for page in pages] == [50, 50, 20]


def test_expired_continue_token_restarts_the_list(cluster):
    server, api_client = cluster(_objects(pods=300), continue_ttl_seconds=0.5)
    # The second page arrives after the token expired: a real 410 from the server, then a fresh list.
    server.faults.add(r"/api/v1/pods\?.*continue=", delay=0.6, times=1)
    collection = collect(api_client, page_size=50)
    pods = names(collection.objects["Pod"])
    assert len(pods) == 300 and len(set(pods)) == 300
    first_pages = [r for r in requests_to(server, "/api/v1/pods") if "continue" not in r.query]
    assert len(first_pages) == 2
    assert collection.unread == {}


def test_a_list_that_keeps_expiring_is_unread(cluster):
    server, api_client = cluster(_objects(pods=120))
    server.faults.add(r"/api/v1/pods\?.*continue=", status=410, times=None)
    collection = collect(api_client, page_size=50)
    assert collection.unread["Pod"].startswith("HTTP 410 on 4 list attempts in a row: The provided continue")
    assert "Node" in collection.objects


def test_429_honours_retry_after_then_succeeds(cluster):
    server, api_client = cluster()
    server.faults.add("/api/v1/nodes", status=429, retry_after=0.25, times=2)
    sleeps = Sleeps()
    collection = collect(api_client, sleep=sleeps)
    assert len(collection.objects["Node"]) == 2 and collection.unread == {}
    assert len(requests_to(server, "/api/v1/nodes")) == 3
    assert sleeps == [0.25, 0.25]  # the server's wish outweighs our tiny backoff


def test_retry_after_is_capped(cluster):
    server, api_client = cluster()
    server.faults.add("/api/v1/nodes", status=429, retry_after=86400, times=1)
    sleeps = Sleeps()
    collect(api_client, sleep=sleeps)
    assert sleeps == [MAX_RETRY_AFTER_SECONDS]


def test_500_is_retried_with_growing_backoff(cluster):
    server, api_client = cluster()
    server.faults.add("/api/v1/persistentvolumes", status=500, times=3)
    sleeps = Sleeps()
    collection = collect(api_client, sleep=sleeps, backoff_base=0.1)
    assert len(collection.objects["PersistentVolume"]) == 2 and collection.unread == {}
    assert len(sleeps) == 3
    # Exponential with jitter: attempt n waits between half and all of base * 2**(n-1).
    for attempt, delay in enumerate(sleeps, start=1):
        assert 0.05 * 2 ** (attempt - 1) <= delay <= 0.1 * 2 ** (attempt - 1)


def test_a_kind_failing_for_good_is_unread_and_the_rest_is_read(cluster):
    server, api_client = cluster()
    server.faults.add(
        "/api/v1/persistentvolumes", status=500, times=None, message="etcdserver: request timed out"
    )
    collection = collect(api_client, max_attempts=5)
    assert collection.unread == {
        "PersistentVolume": "HTTP 500 after 5 attempts: etcdserver: request timed out"
    }
    assert len(requests_to(server, "/api/v1/persistentvolumes")) == 5
    assert set(collection.objects) == {info.kind for info in KINDS} - {"PersistentVolume"}


def test_a_failure_midway_through_a_list_is_retried_from_that_page(cluster):
    server, api_client = cluster(_objects(pods=120))
    server.faults.add(r"/api/v1/pods\?.*continue=", status=503, times=2)
    collection = collect(api_client, page_size=50)
    assert len(names(collection.objects["Pod"])) == 120
    pod_requests = requests_to(server, "/api/v1/pods")
    assert sum("continue" not in r.query for r in pod_requests) == 1  # no restart: the token stayed valid
    assert len(pod_requests) == 5


def test_forbidden_is_unread_at_once(cluster):
    server, api_client = cluster()
    message = 'clusterroles.rbac.authorization.k8s.io is forbidden: User "snap" cannot list resource'
    server.faults.add("/clusterroles", status=403, times=None, message=message)
    collection = collect(api_client)
    assert collection.unread == {"ClusterRole": f"HTTP 403: {message}"}
    assert len(requests_to(server, BY_KIND["ClusterRole"].list_path)) == 1


def test_dropped_connection_is_retried(cluster):
    server, api_client = cluster(_objects(pods=120))
    server.faults.add(r"/api/v1/pods\?.*continue=", drop=True, times=1)
    collection = collect(api_client, page_size=50)
    assert len(names(collection.objects["Pod"])) == 120 and collection.unread == {}


def test_dropped_connection_every_time_is_unread_with_the_reason(cluster):
    server, api_client = cluster()
    server.faults.add("/api/v1/nodes", drop=True, times=None)
    collection = collect(api_client, max_attempts=3)
    assert collection.unread["Node"].startswith("connection error after 3 attempts: ProtocolError")
    assert "Namespace" in collection.objects


def test_slow_answer_times_out_and_is_retried(cluster):
    server, api_client = cluster()
    server.faults.add("/api/v1/nodes", delay=1.0, times=1)
    collection = collect(api_client, request_timeout=(2, 0.3))
    assert len(collection.objects["Node"]) == 2 and collection.unread == {}
    assert len(requests_to(server, "/api/v1/nodes")) == 2


def test_trident_not_installed_is_a_fact_not_an_error(cluster):
    server, api_client = cluster(trident_installed=False)
    collection = collect(api_client)
    assert collection.facts["trident_installed"] is False
    assert collection.unread == {}
    assert all(collection.objects[kind] == [] for kind in TRIDENT_KINDS)
    assert set(collection.absent) == set(TRIDENT_KINDS)  # so a cluster that had Trident can distrust it
    assert len(collection.objects["Pod"]) == 2
    trident_requests = [r.path for r in server.requests if "trident" in r.path]
    assert trident_requests == ["/apis/trident.netapp.io/v1"]


def test_trident_release_without_a_crd_reads_that_kind_as_empty(cluster):
    server, api_client = cluster(unserved_kinds=frozenset({"TridentVolumeReference"}))
    collection = collect(api_client)
    assert collection.objects["TridentVolumeReference"] == [] and collection.unread == {}
    assert collection.warnings == [
        "TridentVolumeReference: this cluster's Trident does not serve tridentvolumereferences"
    ]
    assert set(collection.absent) == {"TridentVolumeReference"}
    assert not requests_to(server, "/apis/trident.netapp.io/v1/tridentvolumereferences")


@pytest.mark.parametrize("plural", ["tridentbackends", "tridentvolumes"])
def test_a_404_on_a_trident_kind_that_discovery_lists_is_unread_not_empty(cluster, plural):
    server, api_client = cluster()
    server.faults.add(f"/{plural}", status=404, times=1)
    collection = collect(api_client)
    kind = next(info.kind for info in KINDS if info.plural == plural)
    assert kind not in collection.objects and not collection.absent
    assert "HTTP 404" in collection.unread[kind]
    assert collection.warnings == []
    assert len(collection.objects["TridentNode"]) == len(every_kind()["TridentNode"])


def test_a_404_on_trident_discovery_while_the_group_is_listed_is_unread_not_absent(cluster):
    server, api_client = cluster()
    server.faults.add(r"/apis/trident\.netapp\.io/v1$", status=404, times=1)
    collection = collect(api_client)
    assert set(collection.unread) == set(TRIDENT_KINDS) and not collection.absent
    assert "trident_installed" not in collection.facts
    assert "HTTP 404" in collection.unread["TridentBackend"]
    assert "/apis lists trident.netapp.io" in collection.unread["TridentBackend"]


def test_trident_discovery_failing_leaves_trident_kinds_unread(cluster):
    server, api_client = cluster()
    server.faults.add(r"/apis/trident\.netapp\.io/v1$", status=503, times=None)
    collection = collect(api_client, max_attempts=2)
    assert set(collection.unread) == set(TRIDENT_KINDS)
    assert "trident_installed" not in collection.facts
    assert collection.unread["TridentVolume"].startswith(
        "discovery of /apis/trident.netapp.io/v1 failed: HTTP 503"
    )
    assert len(collection.objects["Pod"]) == 2


def test_unreachable_api_fails_the_source_as_a_whole(cluster):
    server, api_client = cluster()
    port = int(server.url.rsplit(":", 1)[1])
    server.stop()
    with pytest.raises(
        SourceError, match=rf"127\.0\.0\.1:{port} cannot be used: connection error after 2 attempts"
    ):
        collect(api_client, max_attempts=2)


def test_bad_kubeconfig_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="cannot load kubeconfig"):
        api_client_from_kubeconfig(str(tmp_path / "missing"))
    (tmp_path / "empty").write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(SourceError, match="cannot load kubeconfig"):
        api_client_from_kubeconfig(str(tmp_path / "empty"))


def test_the_token_is_sent_but_never_logged_or_reported(cluster, caplog):
    server, api_client = cluster(_objects(pods=120))
    server.faults.add("/api/v1/nodes", status=500, times=None)
    server.faults.add("/persistentvolumeclaims", status=401, times=None)
    server.faults.add(r"/api/v1/pods\?.*continue=", drop=True, times=1)
    with caplog.at_level(logging.DEBUG):
        collection = collect(api_client, page_size=50, max_attempts=2)
    assert set(collection.unread) == {"Node", "PersistentVolumeClaim"}
    assert "retrying" in caplog.text
    assert TOKEN not in caplog.text
    assert not [reason for reason in collection.unread.values() if TOKEN in reason]
    # And the client did present it.
    assert all(r.authenticated for r in server.requests)


@pytest.mark.parametrize("enabled", [True, False])
def test_garbage_collector_state_is_restored(cluster, enabled):
    _, api_client = cluster(_objects(pods=120))
    if not enabled:
        gc.disable()
    try:
        collect(api_client, page_size=50)
        list(iter_list_pages(api_client, BY_KIND["Pod"], page_size=50))
        assert gc.isenabled() is enabled
    finally:
        gc.enable()


def test_client_does_not_retry_behind_our_back(cluster):
    _, api_client = cluster()
    assert api_client.configuration.retries is False
