"""The live source hands each Kubernetes kind on as soon as it has read it whole
(inventory/sources/__init__.py `KindByKindSource`), and the snapshot stores it while the next kinds
are read: the same rows as storing the whole collection once read, and a run that fails after some
kinds were stored leaves nothing of them."""

import threading
from datetime import timedelta

import pytest

import inventory.snapshotting as snapshotting
import inventory.sources.kubernetes as kubernetes_source
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.tasks import LiveSource, snapshot_now
from simulator.serving import SimulatedEstate
from simulator.world import Simulation
from tests.cases.runner import TAKEN_AT
from tests.factories import stored_rows
from tests.test_join import register_arrays

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres_too]


@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    simulation = Simulation(seed=0, start=TAKEN_AT)  # every driver family has volumes
    simulation.advance_to(TAKEN_AT + timedelta(days=1))
    served = SimulatedEstate(simulation, tmp_path_factory.mktemp("estate")).start()
    yield served
    served.stop()


def _cluster(estate, name: str) -> Cluster:
    return Cluster.objects.create(
        name=name, source=Cluster.Source.KUBECONFIG, kubeconfig_path=str(estate.kubeconfig)
    )


@pytest.fixture
def steps(monkeypatch):
    """("read", kind) as the live source starts reading a kind, ("stored", kind) as the run writes
    the versions of a Kubernetes kind, in the order they happen."""
    happened = []
    read_kind, write_versions = kubernetes_source._read_kind, snapshotting.write_versions

    def reading(api_client, info, *args):
        happened.append(("read", info.kind))
        return read_kind(api_client, info, *args)

    def storing(cluster_id, seq, kind, objects, scope="", **kwargs):
        if scope == "":
            happened.append(("stored", kind))
        return write_versions(cluster_id, seq, kind, objects, scope, **kwargs)

    monkeypatch.setattr(kubernetes_source, "_read_kind", reading)
    monkeypatch.setattr(snapshotting, "write_versions", storing)
    return happened


def test_each_kind_is_stored_before_the_next_is_read_and_the_rows_are_the_whole_collections(estate, steps):
    register_arrays(estate)
    kind_by_kind = snapshot_now(_cluster(estate, "kind-by-kind"))
    read_first = list(steps)
    steps.clear()
    whole = _cluster(estate, "whole")
    collection = LiveSource(whole)()  # read whole, then stored as any other source's collection
    at_once = snapshot_now(whole, source=lambda: collection)

    assert kind_by_kind.status == at_once.status == Snapshot.Status.COMPLETE
    read = [kind for step, kind in read_first if step == "read"]
    assert len(read) > 10
    for kind, after in zip(read, read[1:], strict=False):
        assert read_first.index(("stored", kind)) < read_first.index(("read", after)), kind
    # Stored once read whole: every kind read before the first is stored.
    assert steps.index(("stored", read[0])) > max(i for i, (step, _) in enumerate(steps) if step == "read")
    assert kind_by_kind.counts == at_once.counts and kind_by_kind.rows_written == at_once.rows_written
    assert (
        stored_rows(kind_by_kind.cluster.name) == stored_rows(whole.name)
        and len(stored_rows(whole.name)) > 100
    )
    assert {"derived", ""} < {scope for scope, *_ in stored_rows(whole.name)}


def test_a_run_that_fails_after_kinds_were_stored_leaves_nothing_of_them(estate, steps, monkeypatch):
    read_kind = kubernetes_source._read_kind

    def fifth_breaks(api_client, info, *args):
        if [step for step, _ in steps].count("read") == 4:  # the fifth kind
            raise RuntimeError("the worker's connection broke midway")
        return read_kind(api_client, info, *args)

    monkeypatch.setattr(kubernetes_source, "_read_kind", fifth_breaks)
    register_arrays(estate)
    cluster = _cluster(estate, "breaks")
    snapshot = snapshot_now(cluster)

    assert [step for step, _ in steps].count("stored") == 4  # the kinds read before the fifth
    assert snapshot.status == Snapshot.Status.FAILED and "broke midway" in snapshot.error
    assert not InventoryObject.objects.filter(cluster=cluster).exists()
    assert not any(thread.name == "rows-written-behind" for thread in threading.enumerate())
