"""The versioned inventory: changes cost rows, unchanged objects do not, and the past is exact."""

import copy

import pytest

from inventory import history
from inventory.history import stored_kinds
from inventory.kinds import KIND_NAMES
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.snapshotting import queue_snapshot, run_snapshot
from inventory.state import SnapshotState
from tests.factories import collection, obj, pod, stored_version

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]


@pytest.fixture
def cluster():
    return Cluster.objects.create(name="c1", source=Cluster.Source.OFFLINE)


def snap(cluster, objects, **kwargs):
    return run_snapshot(queue_snapshot(cluster), lambda: collection(objects, **kwargs))


def base_objects():
    return [
        obj("Namespace", "team-a", metadata={"labels": {"team": "a"}}),
        obj("Node", "worker-1", status={"addresses": [{"type": "InternalIP", "address": "192.0.2.11"}]}),
        pod("web-1", "team-a"),
        pod("web-2", "team-a"),
    ]


def churn_volatile(objects):
    """What a real cluster changes between two reads although nothing that matters changed."""
    churned = copy.deepcopy(objects)
    for item in churned:
        item["metadata"]["resourceVersion"] = str(int(item["metadata"]["resourceVersion"]) + 100)
        item["metadata"]["managedFields"] = [{"manager": "kubelet", "time": "2026-02-01T00:00:00Z"}]
        if item["kind"] == "Pod":
            item["status"]["podIP"] = "10.244.9.9"
            item["status"]["containerStatuses"] = [{"name": "app", "restartCount": 3}]
        if item["kind"] == "Node":
            item["status"]["conditions"] = [{"type": "Ready", "lastHeartbeatTime": "2026-02-01T00:00:00Z"}]
    return churned


def test_unchanged_snapshot_with_volatile_churn_writes_no_rows(cluster):
    first = snap(cluster, base_objects())
    rows_after_first = InventoryObject.objects.count()
    second = snap(cluster, churn_volatile(base_objects()))
    assert first.status == second.status == Snapshot.Status.COMPLETE
    assert second.rows_written == {"inserted": 0, "closed": 0, "deleted": 0}
    assert InventoryObject.objects.count() == rows_after_first  # derived rows (paths) unchanged too
    assert InventoryObject.objects.exclude(scope="derived").count() == 4


def test_a_change_closes_one_version_and_opens_one(cluster):
    snap(cluster, base_objects())
    changed = base_objects()
    changed[2]["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    second = snap(cluster, changed)
    assert second.rows_written["inserted"] == 1 and second.rows_written["closed"] == 1
    versions = InventoryObject.objects.filter(kind="Pod", name="web-1").order_by("valid_from")
    assert [(v.valid_from, v.valid_to) for v in versions] == [(1, 2), (2, None)]


def test_deleted_object_closes_its_version(cluster):
    snap(cluster, base_objects())
    second = snap(cluster, base_objects()[:3])
    assert second.rows_written == {"inserted": 0, "closed": 1, "deleted": 0}
    assert not InventoryObject.objects.current().filter(name="web-2").exists()


def test_cluster_as_of_an_earlier_snapshot_is_reproduced_exactly(cluster):
    states = [base_objects()]
    states.append(base_objects()[:3] + [pod("db-0", "team-a", node="worker-1")])
    third = base_objects()
    third[0]["metadata"]["labels"] = {"team": "b"}
    states.append(third)
    snapshots = [snap(cluster, state) for state in states]
    for snapshot, state in zip(snapshots, states, strict=True):
        inventory = InventoryObject.objects.as_of(snapshot).exclude(scope="derived")
        stored = {(o.kind, o.namespace, o.name): o.data for o in inventory}
        expected = {(o["kind"], o["metadata"].get("namespace", ""), o["metadata"]["name"]) for o in state}
        assert set(stored) == expected
    ns_then = InventoryObject.objects.as_of(snapshots[0]).get(kind="Namespace")
    assert ns_then.data["metadata"]["labels"] == {"team": "a"}


def test_partial_snapshot_keeps_unread_kinds_as_they_were(cluster):
    snap(cluster, base_objects())
    second = snap(cluster, base_objects()[:2], unread={"Pod": "HTTP 500 after 5 attempts"})
    assert second.status == Snapshot.Status.PARTIAL
    assert second.unread == {"Pod": "HTTP 500 after 5 attempts"}
    assert InventoryObject.objects.as_of(second).filter(kind="Pod").count() == 2


def test_failed_run_leaves_nothing_visible_and_nothing_written(cluster):
    first = snap(cluster, base_objects())

    def dies_midway():
        raise ConnectionResetError("connection dropped")

    failed = run_snapshot(queue_snapshot(cluster), dies_midway)
    assert failed.status == Snapshot.Status.FAILED and "connection dropped" in failed.error
    assert cluster.latest_visible_snapshot() == first
    assert InventoryObject.objects.filter(valid_from=failed.seq).count() == 0


def test_interrupted_run_is_undone_before_the_next_one(cluster):
    snap(cluster, base_objects())
    # Simulate a worker killed after writing part of snapshot #2.
    dead = queue_snapshot(cluster)
    dead.status = Snapshot.Status.RUNNING
    dead.save()
    InventoryObject.objects.filter(name="web-1").update(valid_to=dead.seq)
    stored_version(cluster, "Pod", "ghost", namespace="team-a", valid_from=dead.seq).save()
    assert cluster.latest_visible_snapshot().seq == 1  # the half-written run is invisible
    third = snap(cluster, base_objects())
    dead.refresh_from_db()
    assert dead.status == Snapshot.Status.FAILED and "interrupted" in dead.error
    assert third.rows_written == {"inserted": 0, "closed": 0, "deleted": 0}
    assert sorted(InventoryObject.objects.as_of(third).filter(kind="Pod").values_list("name", flat=True)) == [
        "web-1",
        "web-2",
    ]


def test_secret_fields_never_reach_the_database(cluster):
    marker = "SIMSECRET-test-9f2c"
    tvol = obj(
        "TridentVolume",
        "pvc-1",
        "trident",
        backendUUID="b-1",
        config={
            "name": "pvc-1",
            "internalName": "pvc-1",
            "accessInformation": {
                "iscsiTargetIqn": "iqn.2010-01.com.solidfire:abcd.pvc-1.101",
                "iscsiUsername": f"{marker}-user",
                "iscsiInitiatorSecret": f"{marker}-init",
                "iscsiTargetUsername": f"{marker}-tuser",
                "iscsiTargetSecret": f"{marker}-target",
                "useCHAP": True,
            },
        },
    )
    backend = obj(
        "TridentBackend",
        "tbe-1",
        "trident",
        backendUUID="b-1",
        config={
            "solidfire_config": {
                "storageDriverName": "solidfire-san",
                "EndPoint": f"https://admin:{marker}-pw@198.51.100.5/json-rpc/8.0",
                "TenantName": "tenant-a",
                "SVIP": "198.51.100.6:3260",
            }
        },
    )
    snap(cluster, base_objects() + [tvol, backend])
    stored = " ".join(str(data) for data in InventoryObject.objects.values_list("data", flat=True))
    assert marker not in stored
    kept = InventoryObject.objects.get(kind="TridentVolume").data
    assert kept["config"]["accessInformation"] == {
        "iscsiTargetIqn": "iqn.2010-01.com.solidfire:abcd.pvc-1.101",
        "useCHAP": True,
    }
    assert (
        InventoryObject.objects.get(kind="TridentBackend").data["config"]["solidfire_config"]["TenantName"]
        == "tenant-a"
    )


def test_a_run_pauses_the_cyclic_collector_and_resumes_it(cluster):
    """The collector would only rescan what the run holds (acyclic); it resumes when the run ends,
    failed or not."""
    import gc

    seen = []

    def source():
        seen.append(gc.isenabled())
        return collection(base_objects())

    assert gc.isenabled()
    run_snapshot(queue_snapshot(cluster), source)
    run_snapshot(queue_snapshot(cluster), lambda: seen.append(gc.isenabled()) or 1 / 0)
    assert seen == [False, False] and gc.isenabled()


def test_stored_kinds_are_those_with_a_current_version(cluster):
    other = Cluster.objects.create(name="c2", source=Cluster.Source.OFFLINE)

    InventoryObject.objects.bulk_create(
        [
            stored_version(cluster, "Pod", "a"),
            stored_version(cluster, "Pod", "b"),
            stored_version(cluster, "Node", "n"),
            stored_version(cluster, "ontap.Volume", "v", scope="ontap-a"),
            stored_version(cluster, "VolumeAccess", "x", scope="derived"),
            stored_version(cluster, "Role", "gone", valid_to=2),  # closed: no current version
            stored_version(other, "Service", "s"),
        ]
    )
    expected = {("", "Pod"), ("", "Node"), ("ontap-a", "ontap.Volume"), ("derived", "VolumeAccess")}
    assert stored_kinds(cluster.pk) == expected
    assert stored_kinds(other.pk) == {("", "Service")}
    assert stored_kinds(0) == set()
    assert InventoryObject._meta.db_table in history._STORED_KINDS  # the loose index scan's table


def test_the_state_a_run_hands_over_is_completed_from_the_database(cluster, django_assert_num_queries):
    """What a run stored is handed over as it is; a kind it did not write (unread, its versions
    standing) is read back, and only then does the state cost a query for it."""
    first = snap(cluster, base_objects())
    pods = {("team-a", "web-1"): {"metadata": {"name": "web-1"}}}
    written = {("", kind): {} for kind in KIND_NAMES if kind not in ("Pod", "Node")} | {("", "Pod"): pods}
    with django_assert_num_queries(4):  # the kinds stored, the Node it lacks, departed nodes (2)
        state = SnapshotState.load(first, written)
    assert state.of_kind("Pod") == pods  # as handed over, not as stored
    assert [name for _, name in state.of_kind("Node")] == ["worker-1"]
    with django_assert_num_queries(3):  # every stored kind handed over: none read back
        state = SnapshotState.load(first, written | {("", "Node"): {}})
    assert state.of_kind("Node") == {} and "Namespace" not in state.objects
