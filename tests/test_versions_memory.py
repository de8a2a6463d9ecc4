"""A worker remembers the current versions its last snapshot of a cluster left, and its next snapshot
reads back only the versions that one inserted (inventory/versions_memory.py).  The memory may only
save a read: every run must see exactly the database's current versions, and a memory the database
does not vouch for is not used."""

import logging
from datetime import timedelta

import pytest

from inventory import history, versions_memory
from inventory.history import undo_snapshot_writes
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.snapshotting import queue_snapshot, run_snapshot
from inventory.sources import SourceError
from inventory.tasks import snapshot_now
from tests.factories import collection, obj, pod, stored_version
from tests.test_kept_reuse import clusters_of_one_estate

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]


class Runs:
    """What each run saw as it began: its remembered versions checked against the database right
    then, and which kinds it read whole from the database."""

    def __init__(self, monkeypatch):
        self.remembered: list[set] = []  # per run: the (scope, kind) it began remembering
        self.read: list[set] = []  # per run: the (scope, kind) it read from the database
        real_begin, real_read = versions_memory.begin, history._read_versions

        def begin(snapshot):
            real_begin(snapshot)
            kept = versions_memory._LAST_RUN.get(snapshot.cluster_id)
            remembered = kept.versions if kept is not None else {}
            for (scope, kind), versions in remembered.items():
                assert versions == real_read(snapshot.cluster_id, kind, scope), (snapshot.seq, scope, kind)
            self.remembered.append(set(remembered))
            self.read.append(set())

        def read(cluster_id, kind, scope):
            if self.read:
                self.read[-1].add((scope, kind))
            return real_read(cluster_id, kind, scope)

        monkeypatch.setattr(versions_memory, "begin", begin)
        monkeypatch.setattr(history, "_read_versions", read)


@pytest.fixture
def runs(monkeypatch):
    return Runs(monkeypatch)


@pytest.fixture
def cluster():
    return Cluster.objects.create(name="c1", source=Cluster.Source.OFFLINE)


def snap(cluster, objects, **kwargs) -> Snapshot:
    snapshot = run_snapshot(queue_snapshot(cluster), lambda: collection(objects, **kwargs))
    assert snapshot.status != Snapshot.Status.FAILED, snapshot.error
    return snapshot


def current_pods() -> set[str]:
    return set(InventoryObject.objects.current().filter(kind="Pod").values_list("name", flat=True))


def namespace(name="team-a"):
    return obj("Namespace", name, metadata={"labels": {"team": name}})


def estate(*pods, privileged=()):
    return [
        namespace(),
        obj("Node", "worker-1", status={"addresses": [{"type": "InternalIP", "address": "192.0.2.11"}]}),
        *(
            pod(
                name,
                "team-a",
                containers=[{"name": "app", "securityContext": {"privileged": name in privileged}}],
            )
            for name in pods
        ),
    ]


def test_each_run_after_the_first_reads_no_kind_the_last_one_knew(cluster, runs):
    changes = [
        estate("web-1", "web-2"),
        estate("web-1", "web-2"),  # nothing changed
        estate("web-1", "web-2", "web-3"),  # one inserted
        estate("web-1", "web-3", privileged={"web-3"}),  # one changed, one gone (and a finding)
        estate("web-1", "web-3"),  # the finding resolved
        estate(),
    ]
    for objects in changes:
        snap(cluster, objects)
    assert runs.remembered[0] == set()
    for before, (remembered, read) in enumerate(zip(runs.remembered[1:], runs.read[1:], strict=True)):
        assert ("", "Pod") in remembered
        assert not (read & remembered), before  # nothing remembered was read again
        assert not (read & (runs.remembered[before] | runs.read[before]))
    assert ("derived", "ExposurePaths") in runs.remembered[-1]


def test_a_kind_written_again_in_the_same_run_is_judged_against_the_database(cluster, runs):
    snap(cluster, estate("web-1"))
    second = snap(cluster, estate("web-1", "web-2"))
    assert versions_memory.remembered(cluster.pk, second.seq, "", "Pod") is None  # written: not as it began
    assert versions_memory.remembered(cluster.pk, second.seq, "", "Node") is not None  # not written
    # The run (a derivation done again: tests/test_stored_parties.py) writes the pods again: nothing.
    pods = history.prepare("Pod", estate("web-1", "web-2")[2:])
    stats = history.write_versions(cluster.pk, second.seq, "Pod", pods)
    assert stats.inserted == stats.closed == 0
    snap(cluster, estate("web-2"))
    assert ("", "Pod") in runs.remembered[2]


def test_a_partial_snapshot_keeps_the_memory_true(cluster, runs):
    snap(cluster, estate("web-1"))
    snap(cluster, estate("web-1", "web-2"), unread={"Pod": "timed out"})  # the pods are not written
    snap(cluster, estate("web-2"))
    assert ("", "Pod") in runs.remembered[2]
    assert current_pods() == {"web-2"}


def test_a_run_of_another_process_in_between_makes_the_next_read_whole(cluster, runs):
    snap(cluster, estate("web-1"))
    ours = versions_memory._LAST_RUN.pop(cluster.pk)
    snap(cluster, estate("web-1", "web-2"))  # another worker's run: this one's memory missed it
    versions_memory._LAST_RUN.put(cluster.pk, ours)
    snap(cluster, estate("web-2"))
    assert runs.remembered[2] == set()
    assert ("", "Pod") in runs.read[2]
    assert current_pods() == {"web-2"}


def test_a_failed_run_in_between_makes_the_next_read_whole(cluster, runs):
    snap(cluster, estate("web-1"))
    ours = versions_memory._LAST_RUN.get(cluster.pk)

    def failing():
        raise SourceError("the API server went away")

    failed = run_snapshot(queue_snapshot(cluster), failing)
    assert failed.status == Snapshot.Status.FAILED
    assert versions_memory._LAST_RUN.get(cluster.pk) is None  # forgotten with the run's writes
    versions_memory._LAST_RUN.put(cluster.pk, ours)  # even the run before it is not the previous one
    snap(cluster, estate("web-2"))
    assert runs.remembered[2] == set()


def test_a_run_restarted_elsewhere_is_another_run(cluster, runs):
    snap(cluster, estate("web-1"))
    Snapshot.objects.filter(cluster=cluster, seq=1).update(
        started_at=Snapshot.objects.get(seq=1).started_at + timedelta(seconds=1)
    )
    snap(cluster, estate("web-2"))
    assert runs.remembered[1] == set()


def test_a_run_stopped_and_undone_is_not_remembered(cluster, runs, caplog):
    snap(cluster, estate("web-1"))
    stopped = snap(cluster, estate("web-1", "web-2"))
    undo_snapshot_writes(cluster.pk, stopped.seq)  # as snapshot_now does when the worker is stopped
    Snapshot.objects.filter(pk=stopped.pk).update(status=Snapshot.Status.FAILED)
    with caplog.at_level(logging.WARNING, logger="inventory.versions_memory"):
        snap(cluster, estate("web-1", "web-2"))
    assert runs.remembered[2] == set()
    assert "disagrees" not in caplog.text  # told by the run's status, before any row is compared


@pytest.mark.parametrize(
    "disagreement", ["inserted-row-gone", "closed-row-current-again", "row-inserted-by-another"]
)
def test_the_database_vouches_for_what_the_last_run_wrote(cluster, runs, caplog, disagreement):
    snap(cluster, estate("web-1", "web-2"))
    second = snap(cluster, estate("web-1", "web-3"))  # web-3 inserted, web-2 closed
    rows = InventoryObject.objects.filter(cluster=cluster, kind="Pod")
    if disagreement == "inserted-row-gone":
        rows.filter(name="web-3", valid_from=second.seq).delete()
    elif disagreement == "closed-row-current-again":
        rows.filter(name="web-2", valid_to=second.seq).update(valid_to=None)
    else:
        stored_version(cluster, "Pod", "web-9", namespace="team-a", valid_from=second.seq).save()
    with caplog.at_level(logging.WARNING, logger="inventory.versions_memory"):
        snap(cluster, estate("web-1", "web-3"))
    assert runs.remembered[2] == set()
    assert "the database disagrees" in caplog.text
    # Read whole, the run sets the database right: exactly the objects it read are current.
    assert current_pods() == {"web-1", "web-3"}


def test_every_kind_is_read_whole_again_after_so_many_runs(cluster, runs, monkeypatch):
    monkeypatch.setattr(versions_memory, "READ_WHOLE_EVERY", 3)
    for _ in range(6):
        snap(cluster, estate("web-1"))
    assert [bool(remembered) for remembered in runs.remembered] == [False, True, True, False, True, True]


def test_a_run_that_wrote_many_versions_is_not_remembered(cluster, runs, monkeypatch):
    monkeypatch.setattr(versions_memory, "MOST_CHECKED", 2)
    snap(cluster, estate("web-1", "web-2", "web-3"))
    kept = versions_memory._LAST_RUN.get(cluster.pk)  # nothing held of it (a first snapshot's 564,560)
    assert kept.wrote_many and kept.versions == kept.inserted == kept.closed == {}
    snap(cluster, estate("web-1", "web-2", "web-3"))  # after five versions inserted: read whole
    snap(cluster, estate())  # after none written: remembered; it closes three pods
    snap(cluster, estate())  # read whole
    snap(cluster, estate())
    assert [bool(remembered) for remembered in runs.remembered] == [False, False, True, False, True]


def test_a_worker_remembering_no_cluster_reads_every_kind(cluster, runs, settings):
    settings.KEPT_FORMS_REUSED_CLUSTERS = 0
    snap(cluster, estate("web-1"))
    snap(cluster, estate("web-1"))
    assert runs.remembered == [set(), set()]


def test_live_snapshots_of_a_churning_estate_see_the_database_s_versions(tmp_path, runs):
    """Through the real Kubernetes and array clients, a simulated estate churning: each run's
    remembered versions (its arrays' records and derived records included) are the database's, and
    the runs after the first read none of them again."""
    with clusters_of_one_estate(tmp_path, "sim") as (simulation, cluster):
        for fraction in (None, 0.0, 0.1, 0.05):
            if fraction is not None:
                simulation.advance_to(simulation.clock + timedelta(minutes=10))
                simulation.churn(fraction)
            assert snapshot_now(cluster).is_visible
    scopes = {scope for scope, _ in runs.remembered[-1]}
    assert {"", "derived"} < scopes and len(scopes) > 2  # Kubernetes, derived, and the arrays' scopes
    for remembered, read in zip(runs.remembered[1:], runs.read[1:], strict=True):
        assert remembered and not (read & remembered)
