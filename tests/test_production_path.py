"""The production path for real: PostgreSQL, Redis, and `celery worker` / `celery beat` processes.

These tests run in the production pass of `make test` (DATABASE_URL on PostgreSQL, broker and cache
on Redis db 15).  Workers are separate processes on the test database, so every test commits its
rows (transactional database) and reads the outcome back from the database.  The Kubernetes API
they read is the simulator, served from this process over real HTTP and steered over HTTP too.
"""

import copy
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count, F
from django.utils import timezone

from arrays.models import Array
from arrays.volume_access import VOLUME_ACCESS, records_as_of
from dashboard.celery import app as celery_app
from exposure.models import Finding
from inventory.kinds import KIND_NAMES
from inventory.models import Cluster, ClusterLease, InventoryObject, Snapshot
from inventory.snapshotting import queue_snapshot
from inventory.tasks import dispatch_due_snapshots, snapshot_cluster
from simulator.control import SimulatorControl
from simulator.k8s_api import KubernetesApiServer, StaticStore
from simulator.serving import SimulatedEstate
from simulator.world import Simulation
from tests.celery_processes import CeleryProcesses, PrivateRedis, database_url_for
from tests.factories import obj, pod

pytestmark = [pytest.mark.production, pytest.mark.django_db(transaction=True)]

# The tests empty their Redis database; only the one `make test` gives them may be emptied.
BROKER_TEST_DB = int(os.environ.get("BROKER_TEST_DB", "15"))
PODS_LIST = r"^/api/v1/pods\?"
FINISHED = (Snapshot.Status.COMPLETE, Snapshot.Status.PARTIAL, Snapshot.Status.FAILED)


def base_objects() -> list[dict]:
    return [
        obj("Namespace", "team-a"),
        obj("Namespace", "team-b"),
        obj("Node", "worker-1"),
        obj(
            "PersistentVolumeClaim",
            "data",
            "team-a",
            spec={"storageClassName": "ontap-nas", "volumeName": "pvc-1"},
            status={"phase": "Bound"},
        ),
        pod("web-1", "team-a"),
        pod("web-2", "team-a"),
        pod("api-1", "team-b"),
    ]


def by_kind(objects: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for item in objects:
        grouped.setdefault(item["kind"], []).append(copy.deepcopy(item))
    return grouped


def privileged(objects: list[dict], pod_name: str) -> list[dict]:
    changed = copy.deepcopy(objects)
    for item in changed:
        if item["kind"] == "Pod" and item["metadata"]["name"] == pod_name:
            item["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    return changed


def pods_of(objects: list[dict]) -> list[dict]:
    return [item for item in objects if item["kind"] == "Pod"]


def keys(objects: list[dict]) -> set[tuple[str, str, str]]:
    return {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in objects}


def stored_keys(snapshot: Snapshot) -> set[tuple[str, str, str]]:
    inventory = InventoryObject.objects.as_of(snapshot).exclude(scope="derived")
    return set(inventory.values_list("kind", "namespace", "name"))


def expected_counts(objects: list[dict]) -> dict[str, int]:
    counts = dict.fromkeys(KIND_NAMES, 0)
    for item in objects:
        counts[item["kind"]] += 1
    return counts


def wait_for(what: str, condition, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.1)
    return result


def lease_released_soon(cluster: Cluster) -> None:
    """The run lets go of its lease as it ends: just after its snapshot turns visible (the test sees
    the snapshot first), so the release is awaited briefly, not assumed to be there already."""
    released = ClusterLease.objects.filter(cluster=cluster, holder="")
    wait_for("the run to release its lease", released.exists, timeout=5)


def finished(snapshot_pk: int) -> Snapshot | None:
    return Snapshot.objects.filter(pk=snapshot_pk, status__in=FINISHED).first()


def finished_with_seq(cluster: Cluster, seq: int) -> Snapshot | None:
    return Snapshot.objects.filter(cluster=cluster, seq=seq, status__in=FINISHED).first()


def enqueue_snapshot(cluster: Cluster) -> tuple[Snapshot, str]:
    """Queue a snapshot and its task exactly as the dispatcher does; returns it and the task id."""
    snapshot = queue_snapshot(cluster)
    return snapshot, snapshot_cluster.delay(cluster.pk, snapshot.pk).id


def pods_list_requests(server: KubernetesApiServer) -> int:
    return sum(1 for request in server.requests if request.path == "/api/v1/pods")


def inventory_rows(cluster: Cluster) -> list[tuple]:
    return list(
        InventoryObject.objects.filter(cluster=cluster)
        .order_by("pk")
        .values_list("pk", "kind", "namespace", "name", "valid_from", "valid_to", "digest")
    )


def assert_history_consistent(cluster: Cluster) -> None:
    duplicated = (
        InventoryObject.objects.current()
        .filter(cluster=cluster)
        .values("kind", "namespace", "name")
        .annotate(versions=Count("pk"))
        .filter(versions__gt=1)
    )
    assert list(duplicated) == []
    assert not InventoryObject.objects.filter(cluster=cluster, valid_to__lte=F("valid_from")).exists()


def redeliver_unacknowledged() -> None:
    """What the broker does once a message's visibility timeout has passed: an unacknowledged
    message (its worker died) goes back on the queue."""
    with celery_app.connection_for_write(transport_options={"visibility_timeout": 0}) as broker:
        broker.default_channel.qos.restore_visible(interval=1)


@pytest.fixture(autouse=True)
def broker():
    """Skips unless the settings point at PostgreSQL and Redis; starts from an empty Redis database."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... (the production pass of `make test`)")
    if not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.skip("needs a Redis broker: set CELERY_BROKER_URL=redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    if client.connection_pool.connection_kwargs.get("db") != BROKER_TEST_DB:
        pytest.skip(f"empties its Redis database, so it runs only against db {BROKER_TEST_DB}")
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def api_server():
    server = KubernetesApiServer(StaticStore(by_kind(base_objects()))).start()
    yield server
    server.stop()


@pytest.fixture
def cluster(api_server, tmp_path):
    kubeconfig = api_server.write_kubeconfig(tmp_path / "kubeconfig")
    return Cluster.objects.create(
        name="production-path", source=Cluster.Source.KUBECONFIG, kubeconfig_path=str(kubeconfig)
    )


@pytest.fixture
def celery(transactional_db, api_server, tmp_path):
    # Set up after the database and the simulator, so the processes stop first: the test database
    # cannot be flushed or dropped under their connections, and the simulator waits on their sockets.
    processes = CeleryProcesses(
        tmp_path / "celery",
        database_url=database_url_for(connection.settings_dict["NAME"], os.environ["DATABASE_URL"]),
        broker_url=settings.CELERY_BROKER_URL,
    )
    try:
        yield processes
    finally:
        processes.stop_all()
        print(processes.logs())  # pytest shows it when the test failed


def test_beat_and_a_worker_snapshot_a_cluster_on_its_interval(api_server, cluster, celery):
    worker = celery.start_worker("worker-1")
    celery.start_beat(DISPATCH_INTERVAL_SECONDS="2")
    celery.wait_until_ready()

    first = wait_for("the first periodic snapshot", lambda: finished_with_seq(cluster, 1))
    assert first.status == Snapshot.Status.COMPLETE, first.error or first.unread
    assert first.counts == expected_counts(base_objects())
    assert stored_keys(first) == keys(base_objects())
    assert "error" not in first.facts["analysis"], "the worker analyses what it stored"

    changed = privileged(base_objects(), "web-1")
    api_server.store.replace("Pod", pods_of(changed))
    # Due again, as if the cluster's interval had passed since the first snapshot was queued.
    Snapshot.objects.filter(pk=first.pk).update(
        taken_at=F("taken_at") - timedelta(minutes=cluster.interval_minutes)
    )
    second = wait_for("the next periodic snapshot", lambda: finished_with_seq(cluster, 2))
    assert second.status == Snapshot.Status.COMPLETE, second.error or second.unread
    assert second.rows_written == {"inserted": 1, "closed": 1, "deleted": 0}
    web_1 = InventoryObject.objects.filter(cluster=cluster, kind="Pod", name="web-1")
    assert list(web_1.order_by("valid_from").values_list("valid_from", "valid_to")) == [(1, 2), (2, None)]
    assert "securityContext" not in web_1.as_of(first).get().data["spec"]["containers"][0]
    assert web_1.as_of(second).get().data["spec"]["containers"][0]["securityContext"] == {"privileged": True}
    # The worker analysed it too: the privileged container is a finding, opened by this snapshot.
    finding = Finding.objects.get(cluster=cluster, rule="privileged-container")
    assert (finding.status, finding.first_seen_seq) == ("open", second.seq)

    # Beat keeps ticking, but a cluster snapshotted within its interval is not queued again.
    dispatched = len(worker.lines_with("dispatch_due_snapshots[", "succeeded"))
    wait_for(
        "one more dispatcher tick",
        lambda: len(worker.lines_with("dispatch_due_snapshots[", "succeeded")) > dispatched,
        timeout=10,
    )
    assert Snapshot.objects.filter(cluster=cluster).count() == 2
    assert_history_consistent(cluster)


def test_two_workers_never_snapshot_one_cluster_at_once(api_server, cluster, celery):
    workers = [celery.start_worker("worker-1"), celery.start_worker("worker-2")]
    celery.wait_until_ready()
    # Every pods list answers slowly, so a second run let in beside the first would overlap it.
    SimulatorControl(api_server.url).add_fault(PODS_LIST, delay=2.5, times=None)

    task_ids = {snapshot_cluster.delay(cluster.pk).id for _ in range(2)}

    wait_for("the run to finish", lambda: cluster.snapshots.filter(status__in=FINISHED).exists())
    # The run turned away (while the other was reading) is a log line, not a failed snapshot.
    busy = wait_for("the run turned away", lambda: [w for w in workers if w.lines_with("turned away")])
    assert len(busy) == 1
    (ran,) = Snapshot.objects.filter(cluster=cluster)
    assert ran.status == Snapshot.Status.COMPLETE, ran.error or ran.unread
    # Each worker took one of the two tasks, and the cluster was read once.
    received = [[t for t in task_ids if w.lines_with(f"snapshot_cluster[{t}] received")] for w in workers]
    assert sorted(map(len, received)) == [1, 1] and set(received[0] + received[1]) == task_ids
    assert pods_list_requests(api_server) == 1
    lease_released_soon(cluster)
    assert stored_keys(ran) == keys(base_objects())
    assert_history_consistent(cluster)


def test_a_kind_failing_for_good_in_a_worker_makes_the_snapshot_partial(api_server, cluster, celery):
    celery.start_worker("worker-1")
    celery.wait_until_ready()
    first, _ = enqueue_snapshot(cluster)
    assert wait_for("the first snapshot", lambda: finished(first.pk)).status == Snapshot.Status.COMPLETE

    # Injected from this process over HTTP, the way an operator's test harness would steer it.
    SimulatorControl(api_server.url).add_fault(PODS_LIST, status=500, times=None)
    requests_before = pods_list_requests(api_server)
    partial, _ = enqueue_snapshot(cluster)
    partial = wait_for("the snapshot with failing pods", lambda: finished(partial.pk), timeout=30)

    assert partial.status == Snapshot.Status.PARTIAL, partial.error
    assert set(partial.unread) == {"Pod"}
    assert "HTTP 500 after 5 attempts" in partial.unread["Pod"]
    assert "injected fault" in partial.unread["Pod"]
    assert pods_list_requests(api_server) - requests_before == 5  # bounded retries, then give up
    others = expected_counts(base_objects())
    del others["Pod"]
    assert partial.counts == others
    # The pods not read this time are kept as they were, not dropped.
    assert stored_keys(partial) == keys(base_objects())
    assert partial.rows_written == {"inserted": 0, "closed": 0, "deleted": 0}
    assert_history_consistent(cluster)


# The liveness tests' processes: beat looks for due clusters every DISPATCH seconds and a run's lease
# lapses LEASE seconds after its last heartbeat, so a dead run is found within two intervals.
DISPATCH, LEASE = 6, 3
LIVENESS = {"DISPATCH_INTERVAL_SECONDS": str(DISPATCH), "SNAPSHOT_LEASE_SECONDS": str(LEASE)}


def dispatch_now() -> None:
    """Send the dispatcher task beat sends on each tick, now: beat's first tick comes a whole interval
    after it starts, a wait that tests nothing the interval test above does not (it waits for it)."""
    dispatch_due_snapshots.delay()


def make_due(cluster: Cluster) -> None:
    """As if the cluster's interval had passed since its latest snapshot was queued."""
    latest = cluster.snapshots.order_by("-seq").first()
    Snapshot.objects.filter(pk=latest.pk).update(
        taken_at=F("taken_at") - timedelta(minutes=cluster.interval_minutes)
    )


def test_a_worker_killed_mid_snapshot_is_recovered_within_two_intervals(api_server, cluster, celery, broker):
    doomed = celery.start_worker("doomed", **LIVENESS)
    celery.start_beat(**LIVENESS)
    celery.wait_until_ready()
    dispatch_now()
    first = wait_for("the first dispatched snapshot", lambda: finished_with_seq(cluster, 1), timeout=30)
    assert first.status == Snapshot.Status.COMPLETE, first.error or first.unread

    changed = privileged(base_objects(), "web-1")
    api_server.store.replace("Pod", pods_of(changed))
    SimulatorControl(api_server.url).add_fault(PODS_LIST, delay=5, times=1)
    make_due(cluster)
    wait_for("the worker to be inside the slow pods list", lambda: pods_list_requests(api_server) == 2)
    doomed.kill()
    killed_at = time.monotonic()

    dead = Snapshot.objects.get(cluster=cluster, seq=2)
    assert dead.status == Snapshot.Status.RUNNING
    assert cluster.latest_visible_snapshot() == first
    assert stored_keys(first) == keys(base_objects())
    # acks_late: the killed task's message is held, unacknowledged.
    (unacked,) = broker.hvals("unacked")
    dead_task = json.loads(unacked)[0]["headers"]["id"]

    survivor = celery.start_worker("survivor", **LIVENESS)
    recovered = wait_for(
        "the next snapshot", lambda: cluster.snapshots.filter(status__in=Snapshot.VISIBLE, seq__gt=1).first()
    )
    took = time.monotonic() - killed_at
    print(f"the next snapshot completed {took:.1f}s after the kill (dispatch interval {DISPATCH}s)")
    assert took < 2 * DISPATCH, f"the next snapshot completed {took:.1f}s after the kill"
    # The dead run was restarted: the same snapshot, on its second attempt (the run that restarts a
    # dead one undoes what it wrote first: tests/test_snapshot_lease.py).
    assert (recovered.pk, recovered.status, recovered.attempts) == (dead.pk, Snapshot.Status.COMPLETE, 2)
    assert recovered.rows_written == {"inserted": 1, "closed": 1, "deleted": 0}
    assert stored_keys(first) == keys(base_objects())
    assert stored_keys(recovered) == keys(changed)
    assert_history_consistent(cluster)
    # Beat kept ticking all along, yet no tick wrote a failed or skipped snapshot.
    assert not cluster.snapshots.filter(status=Snapshot.Status.FAILED).exists()
    lease_released_soon(cluster)

    # Redelivery of the killed task (the broker does it after its visibility timeout) finds its
    # snapshot finished and leaves it be, though the cluster has changed since.
    api_server.store.replace("Pod", pods_of(changed)[:-1])
    rows_before = inventory_rows(cluster)
    lists_before = len(api_server.requests)
    redeliver_unacknowledged()
    survivor.wait_for_output(f"snapshot_cluster[{dead_task}] succeeded")
    assert inventory_rows(cluster) == rows_before
    assert len(api_server.requests) == lists_before


def test_a_sigtermed_snapshot_command_frees_its_cluster_at_once(api_server, cluster, celery):
    """SIGTERM (a supervisor or a CI timeout stopping `manage.py snapshot`) undoes the run and
    releases the lease on the spot: the cluster does not wait for the lease to lapse."""
    SimulatorControl(api_server.url).add_fault(PODS_LIST, delay=5, times=1)
    command = subprocess.Popen(
        [sys.executable, "manage.py", "snapshot", "--cluster", cluster.name],
        cwd=Path(__file__).resolve().parent.parent,
        env={**celery.env, "SNAPSHOT_LEASE_SECONDS": "600"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for("the command to be inside the slow pods list", lambda: pods_list_requests(api_server) == 1)
        command.terminate()
        assert command.wait(10) == 128 + signal.SIGTERM, command.stdout.read().decode()
    finally:
        command.kill()
        command.wait()
    (stopped,) = cluster.snapshots.all()
    assert stopped.status == Snapshot.Status.FAILED and stopped.error.startswith("interrupted: stopped")
    assert ClusterLease.objects.get(cluster=cluster).holder == ""
    assert not InventoryObject.objects.filter(cluster=cluster).exists()


def pool_child_of(pid: int) -> int:
    """The one pool process a prefork worker with concurrency 1 runs tasks in."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    assert len(children) == 1, children
    return children[0]


def test_a_pool_child_killed_mid_snapshot_is_recovered_within_two_intervals(api_server, cluster, celery):
    worker = celery.start_worker("worker-1", pool="prefork", **LIVENESS)
    celery.start_beat(**LIVENESS)
    celery.wait_until_ready()
    dispatch_now()
    first = wait_for("the first dispatched snapshot", lambda: finished_with_seq(cluster, 1), timeout=30)
    assert first.status == Snapshot.Status.COMPLETE, first.error or first.unread

    SimulatorControl(api_server.url).add_fault(PODS_LIST, delay=5, times=1)
    make_due(cluster)
    wait_for("the pool child to be inside the slow pods list", lambda: pods_list_requests(api_server) == 2)
    os.kill(pool_child_of(worker.pid), signal.SIGKILL)
    killed_at = time.monotonic()

    recovered = wait_for("the next snapshot", lambda: finished_with_seq(cluster, 2))
    took = time.monotonic() - killed_at
    print(f"the next snapshot completed {took:.1f}s after the kill (dispatch interval {DISPATCH}s)")
    assert took < 2 * DISPATCH, f"the next snapshot completed {took:.1f}s after the kill"
    assert (recovered.status, recovered.attempts) == (Snapshot.Status.COMPLETE, 2)
    # The task requeued when its pool child was lost came back at once and was turned away by the
    # dead run's lease: a log line, never a failed snapshot.
    assert not cluster.snapshots.filter(status=Snapshot.Status.FAILED).exists()
    assert worker.alive()
    assert_history_consistent(cluster)


def test_a_worker_outlives_a_redis_restart_and_beat_redispatches_what_it_lost(
    api_server, cluster, celery, tmp_path
):
    redis_server = PrivateRedis(tmp_path / "redis").start()
    try:
        # Short ticks: a lost task is sent again after two of them.
        broker = {
            "CELERY_BROKER_URL": redis_server.url,
            "DISPATCH_INTERVAL_SECONDS": "3",
            "SNAPSHOT_LEASE_SECONDS": "3",
        }
        # As production runs it: a prefork pool, and event heartbeats sent on the broker connection.
        worker = celery.start_worker("worker-1", pool="prefork", chatter=True, **broker)
        celery.start_beat(**broker)
        celery.wait_until_ready()
        with celery_app.connection_for_write(redis_server.url) as connection_to_private_redis:
            dispatch_due_snapshots.apply_async(connection=connection_to_private_redis)  # as beat's tick
        first = wait_for("the first dispatched snapshot", lambda: finished_with_seq(cluster, 1), timeout=30)
        assert first.status == Snapshot.Status.COMPLETE, first.error or first.unread

        # Redis goes away while a task runs (and stays away past its end), then comes back empty.
        SimulatorControl(api_server.url).add_fault(PODS_LIST, delay=2, times=1)
        make_due(cluster)
        wait_for("the worker to be inside the slow pods list", lambda: pods_list_requests(api_server) == 2)
        redis_server.stop()
        second = wait_for("the snapshot that ran through the outage", lambda: finished_with_seq(cluster, 2))
        assert second.status == Snapshot.Status.COMPLETE, second.error or second.unread
        time.sleep(2)  # the worker finds its broker gone
        redis_server.start()
        time.sleep(2)
        assert worker.alive(), "the worker must reconnect, not exit"
        make_due(cluster)
        third = wait_for("a snapshot after the restart", lambda: finished_with_seq(cluster, 3), timeout=30)
        assert third.status == Snapshot.Status.COMPLETE, third.error or third.unread

        # A task queued in Redis when it restarts is lost; the database still says the snapshot waits.
        worker.stop()
        lost = queue_snapshot(cluster)
        with celery_app.connection_for_write(redis_server.url) as connection_to_private_redis:
            snapshot_cluster.apply_async((cluster.pk, lost.pk), connection=connection_to_private_redis)
        Snapshot.objects.filter(pk=lost.pk).update(dispatched_at=timezone.now())
        redis_server.stop()
        redis_server.start()
        celery.start_worker("worker-2", **broker).wait_until_ready()
        resent = wait_for("the lost snapshot, sent again", lambda: finished(lost.pk), timeout=30)
        assert resent.status == Snapshot.Status.COMPLETE, resent.error or resent.unread
        assert not cluster.snapshots.filter(status=Snapshot.Status.FAILED).exists()
        assert_history_consistent(cluster)
    finally:
        celery.stop_all()
        redis_server.stop()


@pytest.fixture
def estate(tmp_path):
    """The demo's simulated cluster with its ONTAP and SolidFire arrays, served on loopback."""
    served = SimulatedEstate(Simulation(seed=0), tmp_path / "estate").start()
    yield served
    served.stop()


def test_a_worker_reads_the_arrays_and_derives_who_they_let_in(estate, celery):
    for served in estate.arrays:
        Array.objects.create(**served.array_settings())
    cluster = Cluster.objects.create(
        name="estate", source=Cluster.Source.KUBECONFIG, kubeconfig_path=str(estate.kubeconfig)
    )
    celery.start_worker("worker-1")
    celery.wait_until_ready()

    snapshot, _ = enqueue_snapshot(cluster)
    done = wait_for("the snapshot with its arrays", lambda: finished(snapshot.pk), timeout=60)
    assert done.status == Snapshot.Status.COMPLETE, done.error or done.unread
    for array in ("ontap-a", "ontap-b", "solidfire-a"):
        assert any(key.startswith(f"{array}:") and count for key, count in done.counts.items()), array
    records = records_as_of(done, (VOLUME_ACCESS,))[VOLUME_ACCESS].values()
    verdicts = {party["verdict"] for record in records for party in record["admitted"]}
    assert {"node", "wildcard", "chap-account"} <= verdicts
