"""Liveness: the cluster lease and the dispatcher.

A second run is turned away without a failed snapshot; a run that died is restarted (its writes
undone first) by the next dispatcher tick once its lease lapses; a task lost with the broker is sent
again because the database, not the broker, says what is due; a run that lost its lease stops
writing.  The production pass (tests/test_production_path.py) does the same with real processes.
"""

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from inventory import tasks
from inventory.lease import ClusterBusy, LeaseLost, lease_alive, try_acquire
from inventory.models import Cluster, ClusterLease, InventoryObject, Snapshot
from inventory.snapshotting import queue_snapshot
from inventory.tasks import dispatch_due_snapshots, snapshot_cluster, snapshot_now
from simulator.k8s_api import KubernetesApiServer, StaticStore
from tests.factories import collection, obj, pod

pytestmark = [pytest.mark.postgres_too]

OBJECTS = [obj("Namespace", "team-a"), pod("web-1", "team-a"), pod("web-2", "team-a")]


@pytest.fixture
def api_server():
    objects: dict[str, list[dict]] = {}
    for item in OBJECTS:
        objects.setdefault(item["kind"], []).append(item)
    server = KubernetesApiServer(StaticStore(objects)).start()
    yield server
    server.stop()


@pytest.fixture
def cluster(api_server, tmp_path):
    kubeconfig = api_server.write_kubeconfig(tmp_path / "kubeconfig")
    return Cluster.objects.create(
        name="live", source=Cluster.Source.KUBECONFIG, kubeconfig_path=str(kubeconfig)
    )


@pytest.fixture
def sent(monkeypatch):
    """The tasks the dispatcher sends, recorded instead of going to a broker (tests run them)."""
    sent: list[tuple] = []
    monkeypatch.setattr(
        snapshot_cluster, "apply_async", lambda args=None, kwargs=None, **options: sent.append(args)
    )
    return sent


def run_sent(sent: list[tuple]) -> list[dict]:
    results = [snapshot_cluster(*args) for args in sent]
    sent.clear()
    return results


def died_midway(cluster: Cluster, *, dispatched_ago: timedelta) -> Snapshot:
    """A snapshot whose worker was killed after writing part of it (see test_history for the undo)."""
    dead = queue_snapshot(cluster)
    Snapshot.objects.filter(pk=dead.pk).update(
        status=Snapshot.Status.RUNNING,
        started_at=timezone.now(),
        attempts=1,
        dispatched_at=timezone.now() - dispatched_ago,
    )
    InventoryObject.objects.filter(cluster=cluster, name="web-1").update(valid_to=dead.seq)
    InventoryObject.objects.create(
        cluster=cluster, kind="Pod", namespace="team-a", name="ghost", data={}, digest="x", schema_version=1,
        valid_from=dead.seq,
    )  # fmt: skip
    return dead


@pytest.mark.django_db
def test_a_run_turned_away_by_a_running_one_is_no_failed_snapshot(cluster):
    turned_away = []

    def reading():
        try:
            turned_away.append(snapshot_now(cluster, source=lambda: collection(OBJECTS)))
        except Exception as error:
            turned_away.append(error)
        return collection(OBJECTS)

    done = snapshot_now(cluster, source=reading)
    assert done.status == Snapshot.Status.COMPLETE
    assert len(turned_away) == 1 and isinstance(turned_away[0], ClusterBusy)
    assert list(cluster.snapshots.values_list("seq", "status")) == [(1, "complete")]


@pytest.mark.django_db
def test_the_next_tick_restarts_a_run_that_died_and_undoes_it_first(cluster, sent):
    first = snapshot_now(cluster)
    assert first.status == Snapshot.Status.COMPLETE, first.error
    dead = died_midway(cluster, dispatched_ago=timedelta(seconds=40))

    dispatch_due_snapshots()
    assert sent == [(cluster.pk, dead.pk)]  # the same snapshot again, no new (or failed) one
    assert run_sent(sent) == [{"snapshot": dead.pk, "seq": dead.seq, "status": "complete"}]
    dead.refresh_from_db()
    assert (dead.status, dead.attempts) == (Snapshot.Status.COMPLETE, 2)
    assert dead.rows_written == {"inserted": 0, "closed": 0, "deleted": 0}  # the ghost was undone
    assert sorted(InventoryObject.objects.as_of(dead).filter(kind="Pod").values_list("name", flat=True)) == [
        "web-1",
        "web-2",
    ]
    assert not cluster.snapshots.filter(status=Snapshot.Status.FAILED).exists()
    dispatch_due_snapshots()
    assert sent == []  # done: not due again before its interval


@pytest.mark.django_db
def test_a_live_lease_keeps_the_dispatcher_off_a_running_snapshot(cluster, sent):
    snapshot_now(cluster)
    dead = died_midway(cluster, dispatched_ago=timedelta(minutes=5))
    holder = try_acquire(cluster.pk)  # its worker is alive after all, heartbeating
    dispatch_due_snapshots()
    assert sent == []
    ClusterLease.objects.filter(cluster=cluster, holder=holder).update(expires_at=timezone.now())
    dispatch_due_snapshots()
    assert sent == [(cluster.pk, dead.pk)]


@pytest.mark.django_db
def test_a_snapshot_run_dying_each_time_is_given_up_after_three_attempts(cluster):
    snapshot_now(cluster)
    dead = died_midway(cluster, dispatched_ago=timedelta(minutes=5))
    Snapshot.objects.filter(pk=dead.pk).update(attempts=tasks.MAX_ATTEMPTS)
    given_up = snapshot_cluster(cluster.pk, dead.pk)
    assert given_up["status"] == "failed"
    dead.refresh_from_db()
    assert dead.error.startswith("interrupted") and not InventoryObject.objects.filter(name="ghost").exists()


@pytest.mark.django_db
def test_a_queued_snapshot_whose_task_was_lost_is_sent_again(cluster, sent):
    ten_minutes_ago = timezone.now() - timedelta(minutes=10)
    lost = queue_snapshot(cluster, taken_at=ten_minutes_ago)
    Snapshot.objects.filter(pk=lost.pk).update(dispatched_at=ten_minutes_ago)  # Redis restarted empty since
    dispatch_due_snapshots()
    assert sent == [(cluster.pk, lost.pk)]
    assert run_sent(sent)[0]["status"] == "complete"
    # A snapshot sent a moment ago is waiting for a worker, not lost: it is not sent twice.
    waiting = queue_snapshot(cluster)
    Snapshot.objects.filter(pk=waiting.pk).update(dispatched_at=timezone.now())
    dispatch_due_snapshots()
    assert sent == []


@pytest.mark.django_db
def test_a_dead_holders_lease_lapses_within_one_lease(cluster, settings):
    settings.SNAPSHOT_LEASE_SECONDS = 1.0
    assert try_acquire(cluster.pk)  # then the holder is killed: no heartbeat, no release
    assert try_acquire(cluster.pk) is None
    time.sleep(1.05)
    assert not lease_alive(cluster.pk)
    assert try_acquire(cluster.pk)


@pytest.mark.django_db(transaction=True)
def test_a_long_run_keeps_its_lease_by_its_heartbeat(cluster, settings):
    settings.SNAPSHOT_LEASE_SECONDS = 1.2
    seen = {}

    def slow_reading():
        time.sleep(3)  # more than two lease lengths
        seen["alive"] = lease_alive(cluster.pk)
        with pytest.raises(ClusterBusy):
            snapshot_now(cluster, source=lambda: collection(OBJECTS))
        return collection(OBJECTS)

    done = snapshot_now(cluster, source=slow_reading)
    assert done.status == Snapshot.Status.COMPLETE, done.error
    assert seen == {"alive": True}
    assert ClusterLease.objects.get(cluster=cluster).holder == ""  # released at the end


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_lease_was_taken_over_writes_nothing_more(cluster, settings):
    settings.SNAPSHOT_LEASE_SECONDS = 0.6

    def reading_while_taken_over():
        # As if this run stalled past its lease and another run took the cluster over.
        far = timezone.now() + timedelta(hours=1)
        ClusterLease.objects.filter(cluster=cluster).update(holder="other-run", expires_at=far)
        time.sleep(0.4)  # the heartbeat notices
        return collection(OBJECTS)

    with pytest.raises(LeaseLost):
        snapshot_now(cluster, source=reading_while_taken_over)
    assert not InventoryObject.objects.filter(cluster=cluster).exists()
    assert ClusterLease.objects.get(cluster=cluster).holder == "other-run"


@pytest.mark.django_db(transaction=True)
def test_a_run_in_a_long_transaction_keeps_its_lease(cluster, settings):
    """SQLite locks the whole database for a writing transaction, so the heartbeat thread waits;
    the run renews through its own connection instead of fencing itself."""
    settings.SNAPSHOT_LEASE_SECONDS = 2

    def reading_in_one_long_transaction():
        with transaction.atomic():
            Cluster.objects.filter(pk=cluster.pk).update(context="busy")
            for _ in range(50):  # 2.5 s of short queries, past what the heartbeat's renewals cover
                Cluster.objects.filter(pk=cluster.pk).exists()
                time.sleep(0.05)
        return collection(OBJECTS)

    done = snapshot_now(cluster, source=reading_in_one_long_transaction)
    assert done.status == Snapshot.Status.COMPLETE, done.error


@pytest.mark.django_db
def test_the_snapshot_command_says_the_cluster_is_busy_and_records_nothing(cluster):
    assert try_acquire(cluster.pk)  # a worker is snapshotting it
    with pytest.raises(CommandError, match="cluster live is being snapshotted by another run"):
        call_command("snapshot", "--cluster", "live")
    assert not cluster.snapshots.exists()


@pytest.mark.django_db
def test_a_run_stopped_by_sigterm_is_undone_and_frees_its_cluster_at_once(cluster):
    def stopped_midway():
        raise SystemExit(143)  # what `manage.py snapshot` turns SIGTERM into

    with pytest.raises(SystemExit):
        snapshot_now(cluster, source=stopped_midway)
    (stopped,) = cluster.snapshots.all()
    assert stopped.status == Snapshot.Status.FAILED and stopped.error.startswith("interrupted: stopped")
    assert snapshot_now(cluster, source=lambda: collection(OBJECTS)).status == Snapshot.Status.COMPLETE
