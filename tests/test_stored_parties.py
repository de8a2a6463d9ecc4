"""Access records' parties stored once per segment (arrays/stored_parties.py): what is read back is
the record the snapshot's analysis held, a segment shared by many volumes is one row, history reads
back as it was, and a segment that cannot be read back makes its records unknown, never empty."""

from datetime import timedelta

import pytest

from arrays.admission import Admissions
from arrays.join import Gate, Resolution
from arrays.stored_parties import ADMITTED_PARTIES, with_admitted
from arrays.volume_access import INLINE_VOLUME_ACCESS, VOLUME_ACCESS, derive, records_as_of
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.state import DERIVED_SCOPE
from inventory.tasks import snapshot_now
from simulator.serving import SimulatedEstate
from simulator.world import Simulation
from tests.test_derivation_caches import nodes
from tests.test_join import START, register_arrays

pytestmark = pytest.mark.django_db


def lun(name: str, *groups: tuple[str, list[str]]) -> Resolution:
    gates = [
        Gate("igroup", group, "ontap-b", f"mapped at LUN {n}", initiators=initiators)
        for n, (group, initiators) in enumerate(groups)
    ]
    return Resolution(f"PersistentVolume/{name}", ["team-a"], "trident", gates=gates)


def test_volumes_behind_the_same_groups_share_their_segments_and_their_list():
    admissions = Admissions(nodes("10.20.0.5"))
    every_node = ("k8s-all-nodes", ["iqn.a", "iqn.b", "iqn.c"])
    first = admissions.segments_of(lun("pv-1", every_node, ("own-1", ["iqn.a"])))
    second = admissions.segments_of(lun("pv-2", every_node, ("own-2", ["iqn.b"])))
    again = admissions.segments_of(lun("pv-3", every_node, ("own-1", ["iqn.a"])))
    assert first[0] is second[0] and len(first[0]) == 3  # the group of every node: one list
    assert first[1] is not second[1]
    assert admissions.joined(first) is admissions.joined(again)  # the same groups: the same list
    assert (
        admissions.joined(first)
        == [*first[0], *first[1]]
        == admissions.of(lun("pv-4", every_node, ("own-1", ["iqn.a"])))
    )
    assert admissions.segments_of(lun("pv-5")) == () and admissions.of(lun("pv-5")) == []


@pytest.fixture
def estate(tmp_path):
    simulation = Simulation(seed=0, start=START)
    served = SimulatedEstate(simulation, tmp_path / "estate").start()
    yield simulation, served
    served.stop()


def test_records_read_back_whole_each_segment_stored_once_and_history_as_it_was(estate):
    simulation, served = estate
    register_arrays(served)
    cluster = Cluster.objects.create(
        name="sim", source=Cluster.Source.KUBECONFIG, kubeconfig_path=str(served.kubeconfig)
    )
    simulation.advance_to(START + timedelta(days=13))
    first = snapshot_now(cluster)
    stored = InventoryObject.objects.as_of(first).filter(
        scope=DERIVED_SCOPE, kind__in=(VOLUME_ACCESS, INLINE_VOLUME_ACCESS)
    )
    assert stored.exists() and not any("admitted" in data for data in stored.values_list("data", flat=True))

    # What is read back is what the derivation held in memory (derived again: nothing to write).
    held = derive(first, written=None)
    assert held.stats.inserted == held.stats.closed == 0
    read_back = records_as_of(first)
    assert read_back == held.records and read_back[VOLUME_ACCESS]
    parties = sum(len(r["admitted"]) for by_key in read_back.values() for r in by_key.values())

    segments = InventoryObject.objects.as_of(first).filter(scope=DERIVED_SCOPE, kind=ADMITTED_PARTIES)
    named = {name for by_key in read_back.values() for r in by_key.values() for name in r["party_lists"]}
    assert set(segments.values_list("name", flat=True)) == named  # each named segment, once
    stored_parties = sum(len(data["parties"]) for data in segments.values_list("data", flat=True))
    references = sum(len(r["party_lists"]) for by_key in read_back.values() for r in by_key.values())
    assert len(named) < references and stored_parties < parties  # shared segments are stored once
    # Records naming the same segments share one list, as the derivation's do (the rules work a
    # list out once: exposure/analysis/node_admission.py).
    lists_by_names: dict[tuple, list] = {}
    for record in (r for by_key in read_back.values() for r in by_key.values()):
        lists_by_names.setdefault(tuple(record["party_lists"]), []).append(record["admitted"])
    shared = [lists for lists in lists_by_names.values() if len(lists) > 1]
    assert shared and all(each is lists[0] for lists in shared for each in lists)

    # A later snapshot changes a list (the flexgroup's policy widened): the first reads back as it was.
    simulation.advance_to(START + timedelta(days=15))
    second = snapshot_now(cluster)
    assert records_as_of(second) != read_back
    assert records_as_of(first) == read_back


def test_a_segment_that_cannot_be_read_back_leaves_its_records_unknown_not_empty(estate):
    simulation, served = estate
    register_arrays(served)
    cluster = Cluster.objects.create(
        name="sim", source=Cluster.Source.KUBECONFIG, kubeconfig_path=str(served.kubeconfig)
    )
    snapshot = snapshot_now(cluster)
    before = records_as_of(snapshot)[VOLUME_ACCESS]
    record = next(r for r in before.values() if r["admitted"] and not r["unknown"])
    InventoryObject.objects.filter(
        cluster=cluster, kind=ADMITTED_PARTIES, name=record["party_lists"][0]
    ).delete()
    after = records_as_of(snapshot)[VOLUME_ACCESS]
    hit = [r for r in after.values() if record["party_lists"][0] in r["party_lists"]]
    assert hit and all(r["unknown"] and r["problem"] for r in hit)
    untouched = [key for key, r in after.items() if record["party_lists"][0] not in r["party_lists"]]
    assert all(after[key] == before[key] for key in untouched)


def test_a_segment_named_by_anything_but_a_name_leaves_its_record_unknown():
    records = [{"party_lists": [["not", "a", "name"]]}, {"party_lists": []}]
    with_admitted(Snapshot(), records)
    assert records[0]["admitted"] == [] and records[0]["unknown"] and records[0]["problem"]
    assert records[1]["admitted"] == [] and "unknown" not in records[1]
