"""The join, end to end: the simulated cluster and its arrays served over loopback, read through
the real Kubernetes client, netapp-ontap and the SolidFire SDK, then every PV resolved to its
array object, its access control and each admitted party's verdict."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from arrays.models import Array
from arrays.volume_access import INLINE_VOLUME_ACCESS, VOLUME_ACCESS, records_as_of
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.tasks import snapshot_now
from simulator.serving import SimulatedEstate
from simulator.world import Simulation

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def estate(tmp_path_factory):
    simulation = Simulation(seed=0, start=START)  # the demo's seed: every driver family has volumes
    simulation.advance_to(START + timedelta(days=1))
    served = SimulatedEstate(simulation, tmp_path_factory.mktemp("estate")).start()
    yield served
    served.stop()


def register_arrays(estate) -> None:
    for served in estate.arrays:
        Array.objects.create(**served.array_settings())


def snapshot_of(estate, name="sim") -> Snapshot:
    cluster = Cluster.objects.create(
        name=name, source=Cluster.Source.KUBECONFIG, kubeconfig_path=str(estate.kubeconfig)
    )
    return snapshot_now(cluster)


@pytest.fixture
def snapshot(estate):
    register_arrays(estate)
    snapshot = snapshot_of(estate)
    assert snapshot.status == Snapshot.Status.COMPLETE, snapshot.unread or snapshot.error
    return snapshot


def access_records(snapshot) -> dict[str, dict]:
    return {name: data for (_, name), data in records_as_of(snapshot)[VOLUME_ACCESS].items()}


def by_driver(snapshot) -> dict[str, list[dict]]:
    grouped = defaultdict(list)
    for record in access_records(snapshot).values():
        grouped[record["driver"] or record["path"]].append(record)
    return grouped


def publishing_nodes(snapshot) -> dict[str, set[str]]:
    nodes = defaultdict(set)
    for row in InventoryObject.objects.as_of(snapshot).filter(kind="TridentVolumePublication"):
        nodes[row.data["volumeID"]].add(row.data["nodeID"])
    return nodes


def verdicts(record) -> set[str]:
    return {party["verdict"] for party in record["admitted"]}


def test_every_trident_pv_of_a_read_array_is_joined(snapshot):
    records = access_records(snapshot)
    assert records, "no access records derived"
    broken = set((snapshot.facts.get("join") or {}).get("broken_links") or [])
    for name, record in records.items():
        if record["path"] != "trident" or name in broken:
            continue
        assert record["problem"] == "", (name, record["problem"])
        assert record["object"] or record["array_status"].startswith("cloud"), name


def per_volume_policy_records(snapshot, backend):
    """ontap-nas volumes of `backend` on their own per-volume policy (published ones)."""
    return [
        r
        for r in by_driver(snapshot)["ontap-nas"]
        if r["backend"] == backend
        and r["object"]
        and r["gates"][0]["name"] == r["object"]["name"].split("/", 1)[1]
    ]


def test_ontap_nas_per_volume_policy_admits_exactly_the_publishing_nodes(snapshot):
    published = publishing_nodes(snapshot)
    records = per_volume_policy_records(snapshot, "nas-auto")  # autoExportCIDRs: the node network only
    assert len(records) >= 2
    for record in records:
        assert [g["role"] for g in record["gates"]] == ["volume policy", "SVM root /"]
        assert verdicts(record) == {"node"}, record["admitted"]
        admitted_nodes = {node for party in record["admitted"] for node in party["nodes"]}
        assert admitted_nodes == published[record["subject"].removeprefix("PersistentVolume/")]
        assert all(party["access"] == "root" for party in record["admitted"])


def test_open_auto_export_cidrs_admit_the_bridge_address_as_no_node(snapshot):
    records = per_volume_policy_records(snapshot, "nas-auto-open")  # autoExportCIDRs unset: 0.0.0.0/0
    assert records
    for record in records:
        by_party = {party["party"]: party for party in record["admitted"]}
        bridge = by_party["172.17.0.1"]  # docker0, listed by every node: identifies none
        assert bridge["verdict"] == "foreign" and "listed by" in bridge["detail"]
        gateways = [p for p in record["admitted"] if "CNI gateway" in p["detail"]]
        assert gateways and all(p["verdict"] == "node" for p in gateways)


def test_unpublished_nas_volume_sits_on_the_empty_policy_and_admits_no_one(snapshot):
    published = publishing_nodes(snapshot)
    empties = [
        r
        for r in by_driver(snapshot)["ontap-nas"]
        if r["gates"]
        and r["gates"][0]["name"] == "trident_empty"
        and not published[r["subject"].removeprefix("PersistentVolume/")]
    ]
    for record in empties:
        assert record["admitted"] == []


def test_static_policy_with_a_wide_rule_admits_everyone_as_root(snapshot):
    wide = [
        r for r in by_driver(snapshot)["ontap-nas"] if r["gates"] and r["gates"][0]["name"] == "k8s_nodes"
    ]
    assert wide, "the nas-legacy backend's volumes use k8s_nodes"
    for record in wide:
        everyone = [p for p in record["admitted"] if p["verdict"] == "wildcard"]
        assert everyone and everyone[0]["access"] == "root"


def test_ontap_nas_economy_qtree_goes_through_its_flexvol_and_the_root(snapshot):
    records = by_driver(snapshot)["ontap-nas-economy"]
    assert records
    for record in records:
        assert record["object"]["kind"] == "ontap.Qtree"
        roles = [g["role"] for g in record["gates"]]
        assert roles[0] == "qtree policy" and roles[-1] == "SVM root /"
        assert roles[1].startswith("parent junction /trident_qtree_pool")


def test_ontap_nas_flexgroup_uses_the_backend_policy_with_every_node(snapshot):
    records = by_driver(snapshot)["ontap-nas-flexgroup"]
    assert records
    nodes = {row.name for row in InventoryObject.objects.as_of(snapshot).filter(kind="Node")}
    for record in records:
        assert record["gates"][0]["name"].startswith("trident-")
        admitted = {node for party in record["admitted"] for node in party["nodes"]}
        assert admitted == nodes and verdicts(record) == {"node"}


def test_ontap_san_luns_admit_their_igroups_initiators(snapshot):
    records = by_driver(snapshot)["ontap-san"]
    luns = [r for r in records if r["object"]["kind"] == "ontap.Lun"]
    assert luns
    per_node = [
        r
        for r in luns
        if any(g["kind"] == "igroup" and not g["name"].startswith("trident-") for g in r["gates"])
    ]
    assert per_node, "per-node igroups"
    foreign = [p for r in luns for p in r["admitted"] if p["verdict"] == "foreign"]
    assert any("backup-host-01" in p["party"] for p in foreign), "the seeded foreign IQN"
    nested = [p for r in luns for p in r["admitted"] if "nested igroup" in p["via"]]
    assert nested, "an igroup nested in another is expanded"


def test_nvme_namespace_admits_its_subsystem_hosts(snapshot):
    nvme = [r for r in by_driver(snapshot)["ontap-san"] if r["protocol"] == "nvme"]
    assert nvme
    for record in nvme:
        assert record["object"]["kind"] == "ontap.NvmeNamespace"
        assert [g["kind"] for g in record["gates"]] == ["nvme-subsystem"]
        assert verdicts(record) <= {"node"}


def test_solidfire_csi_volumes_admit_whoever_holds_the_chap_secret(snapshot):
    records = by_driver(snapshot)["solidfire-san"]
    assert records
    for record in records:
        assert record["object"]["kind"] == "solidfire.Volume"
        assert [p["verdict"] for p in record["admitted"]] == ["chap-account"]


def test_cloud_backends_are_judged_from_tridents_export_rule(snapshot):
    records = by_driver(snapshot)["azure-netapp-files"]
    assert {r["array_status"] for r in records} == {"cloud (from Trident's config)"}
    assert any(verdicts(r) == {"wildcard"} for r in records), "anf-open admits 0.0.0.0/0"
    assert any("wildcard" not in verdicts(r) for r in records), "anf-restricted does not"


def test_static_nfs_pvs_and_inline_volumes_join_by_lif_and_junction_path(snapshot):
    static = by_driver(snapshot)["static-nfs"]
    assert static and all(r["object"] and r["object"]["kind"] == "ontap.Volume" for r in static)
    assert all(r["gates"][-1]["role"] == "SVM root /" for r in static)
    inline = records_as_of(snapshot)[INLINE_VOLUME_ACCESS].values()
    assert inline
    assert all(data["object"] for data in inline)


def test_backend_without_a_configured_array_is_shown_as_not_read(estate):
    snapshot = snapshot_of(estate, "no-arrays")
    assert snapshot.status == Snapshot.Status.COMPLETE
    records = access_records(snapshot)
    ontap = [r for r in records.values() if r["driver"] == "ontap-nas"]
    assert ontap and {r["array_status"] for r in ontap} == {"array not read"}
    assert all(r["admitted"] == [] for r in ontap)


def test_two_clusters_sharing_one_svm_both_join_it(snapshot, estate):
    second = snapshot_of(estate, "sim-2")
    assert second.status == Snapshot.Status.COMPLETE
    first_objects = {r["object"]["name"] for r in access_records(snapshot).values() if r["object"]}
    second_objects = {r["object"]["name"] for r in access_records(second).values() if r["object"]}
    assert first_objects == second_objects and any(name.startswith("svm_k8s/") for name in first_objects)
    assert snapshot.facts["backends"].keys() == second.facts["backends"].keys()


def test_unjoined_array_objects_are_reported(snapshot):
    join = snapshot.facts["join"]
    assert any(
        item["kind"] == "ontap.Volume" and item["backend"] == "nas-legacy" for item in join["unbacked"]
    )
    assert join["broken_links"], "a TridentVolume marked orphaned"
