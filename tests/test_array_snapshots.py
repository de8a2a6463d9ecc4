"""Arrays inside snapshots, end to end over loopback: failures make snapshots partial with a clear
reason, secrets never leave the array, a dump reads back to the same inventory, and the arrays'
evolution shows in the verdicts."""

import io
import json
import logging
import stat
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command

from arrays.models import Array
from arrays.volume_access import VOLUME_ACCESS, records_as_of
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.tasks import snapshot_now
from simulator.names import SECRET_MARKER
from simulator.serving import SimulatedEstate
from simulator.tls import TlsMaterial
from simulator.world import Simulation
from tests.factories import dashboard_admin
from tests.test_join import register_arrays, snapshot_of

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture
def estate(tmp_path):
    simulation = Simulation(seed=0, start=START)
    served = SimulatedEstate(simulation, tmp_path / "estate").start()
    yield served
    served.stop()


def unread_of(snapshot, array: str) -> dict[str, str]:
    return {k: v for k, v in snapshot.unread.items() if k.startswith(f"{array}:")}


def test_a_dead_array_makes_the_snapshot_partial_for_it_only(estate):
    register_arrays(estate)
    snapshot_of(estate)  # a good one first: its records must survive the failure
    ontap_a = next(a for a in estate.arrays if a.name == "ontap-a")
    ontap_a.server.stop()
    snapshot = snapshot_now(Cluster.objects.get())
    assert snapshot.status == Snapshot.Status.PARTIAL
    reasons = set(unread_of(snapshot, "ontap-a").values())
    assert len(reasons) == 1 and "unreachable" in reasons.pop()
    assert not unread_of(snapshot, "ontap-b") and not unread_of(snapshot, "solidfire-a")
    assert "Pod" in snapshot.counts
    assert InventoryObject.objects.as_of(snapshot).filter(scope="ontap-a", kind="ontap.Volume").exists()


def test_refused_credentials_are_a_clear_reason(estate, tmp_path):
    register_arrays(estate)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "username").write_text("admin")
    (wrong / "password").write_text("not-the-password")
    Array.objects.filter(name="ontap-b").update(credentials=f"file:{wrong}")
    snapshot = snapshot_of(estate)
    assert snapshot.status == Snapshot.Status.PARTIAL
    reason = next(iter(unread_of(snapshot, "ontap-b").values()))
    assert "401" in reason or "credentials" in reason.lower()
    assert "not-the-password" not in str(snapshot.unread)


def test_an_untrusted_certificate_is_refused(estate, tmp_path):
    register_arrays(estate)
    stranger = TlsMaterial.generate(tmp_path / "other-ca")
    Array.objects.filter(name="solidfire-a").update(ca_bundle=str(stranger.ca_bundle))
    snapshot = snapshot_of(estate)
    reason = next(iter(unread_of(snapshot, "solidfire-a").values()))
    assert snapshot.status == Snapshot.Status.PARTIAL and "certificate" in reason.lower()


def test_a_malformed_answer_is_a_clear_reason(estate):
    register_arrays(estate)
    ontap_a = next(a for a in estate.arrays if a.name == "ontap-a")
    ontap_a.server.faults.add(
        r"/api/protocols/nfs/export-policies", status=200, times=None, message="<html>oops"
    )
    snapshot = snapshot_of(estate)
    assert snapshot.status == Snapshot.Status.PARTIAL
    reason = snapshot.unread["ontap-a:/api/protocols/nfs/export-policies"]
    assert "JSON" in reason or "json" in reason


def test_no_credential_or_chap_secret_reaches_the_database_a_log_a_page_or_a_dump(
    estate, client, caplog, tmp_path
):
    caplog.set_level(logging.DEBUG)
    register_arrays(estate)
    snapshot = snapshot_of(estate)
    assert snapshot.status == Snapshot.Status.COMPLETE, snapshot.unread
    secrets = {SECRET_MARKER}
    for served in estate.arrays:
        secrets.add((served.credentials_dir / "password").read_text())
    database = io.StringIO()
    call_command("dumpdata", stdout=database)
    client.force_login(dashboard_admin())
    pages = [client.get("/clusters/sim/").content.decode()]
    for namespace in (
        InventoryObject.objects.as_of(snapshot).filter(kind="Namespace").values_list("name", flat=True)
    ):
        pages.append(client.get(f"/clusters/sim/namespaces/{namespace}/").content.decode())
    call_command("dump", "--cluster", "sim", str(tmp_path / "dump"), stdout=io.StringIO())
    dumped = "".join(p.read_text() for p in (tmp_path / "dump").rglob("*.json"))
    assert "solidfire.Account" in database.getvalue() and "chap-account" in "".join(pages)
    for secret in secrets:
        assert secret not in database.getvalue()
        assert secret not in caplog.text
        assert all(secret not in page for page in pages)
        assert secret not in dumped


def plant_secrets(simulation) -> dict[str, str]:
    """The four secrets that reached the database when secrets were known by exact name, each where
    a kept map holds it: a Namespace annotation, a pod's inline CSI volumeAttributes, a PV's
    volumeAttributes and a StorageClass parameter.  Returns what was planted."""
    planted = {
        "annotation": "planted-annotation-chap-9d1e",
        "inline": "planted-inline-chap-4b7a",
        "pv": "planted-pv-password-21c8",
        "storageclass": "planted-sc-chap-77f0",
    }
    namespace = simulation.objects("Namespace")[0]
    pod = next(p for p in simulation.objects("Pod") if p["spec"].get("volumes"))
    pv = next(p for p in simulation.objects("PersistentVolume") if "csi" in p["spec"])
    storage_class = simulation.objects("StorageClass")[0]

    def annotate(obj):
        obj["metadata"].setdefault("annotations", {})["example.com/chap-secret"] = planted["annotation"]

    def inline(obj):
        attributes = {"chap-secret": planted["inline"]}
        volume = {
            "name": "planted",
            "csi": {"driver": "csi.trident.netapp.io", "volumeAttributes": attributes},
        }
        obj["spec"]["volumes"] = [*obj["spec"]["volumes"], volume]

    def pv_password(obj):
        obj["spec"]["csi"]["volumeAttributes"] = {
            **obj["spec"]["csi"].get("volumeAttributes", {}),
            "backendPassword": planted["pv"],
        }

    def parameter(obj):
        obj["parameters"] = {**obj.get("parameters", {}), "chapSecret": planted["storageclass"]}

    with simulation.lock:
        for obj, mutate in (
            (namespace, annotate),
            (pod, inline),
            (pv, pv_password),
            (storage_class, parameter),
        ):
            simulation.change(obj, mutate)
    return planted


def test_secrets_kept_by_pattern_reach_neither_the_database_nor_a_dump(estate, tmp_path):
    planted = plant_secrets(estate.simulation)
    register_arrays(estate)
    snapshot = snapshot_of(estate)
    assert snapshot.status == Snapshot.Status.COMPLETE, snapshot.unread
    call_command("dump", "--cluster", "sim", str(tmp_path / "dump"), stdout=io.StringIO())
    raw_everywhere = "".join(
        str(obj)
        for kind in ("Namespace", "Pod", "PersistentVolume", "StorageClass")
        for obj in estate.simulation.objects(kind)
    )
    assert all(value in raw_everywhere for value in planted.values()), "the cluster serves them"
    try:
        call_command(
            "snapshot", "--cluster", "imported", "--from-dump", str(tmp_path / "dump"), stdout=io.StringIO()
        )
    except SystemExit as exit_:
        assert exit_.code == 0
    database = io.StringIO()
    call_command("dumpdata", "inventory", "arrays", "exposure", "tenancy", stdout=database)
    files = [p for p in (tmp_path / "dump").rglob("*") if p.is_file()]
    dumped = "".join(p.read_text() for p in files)
    assert '"example.com/chap-secret"' not in dumped and "chapSecret" not in dumped
    for value in planted.values():
        assert value not in database.getvalue()
        assert value not in dumped
    # A dump tells who can reach which data: only its owner may read it.
    assert {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    folders = [tmp_path / "dump", *(p for p in (tmp_path / "dump").rglob("*") if p.is_dir())]
    assert {stat.S_IMODE(p.stat().st_mode) for p in folders} == {0o700}
    # What it holds is what the database holds: the kept fields, no raw object.
    pods = json.loads((tmp_path / "dump" / "kubernetes" / "pods.json").read_text())["items"]
    assert pods and all("managedFields" not in p["metadata"] and "status" in p for p in pods)
    assert all(set(p["status"]) <= {"phase"} for p in pods)


def test_dump_then_import_reproduces_the_inventory(estate, tmp_path):
    register_arrays(estate)
    live = snapshot_of(estate)
    call_command("dump", "--cluster", "sim", str(tmp_path / "dump"), stdout=io.StringIO())
    assert (tmp_path / "dump" / "backends").is_dir()
    try:
        call_command(
            "snapshot", "--cluster", "imported", "--from-dump", str(tmp_path / "dump"), stdout=io.StringIO()
        )
    except SystemExit as exit_:
        assert exit_.code == 0
    imported = Cluster.objects.get(name="imported").latest_visible_snapshot()

    def inventory(snapshot):
        rows = InventoryObject.objects.as_of(snapshot).values_list(
            "scope", "kind", "namespace", "name", "digest"
        )
        return set(rows)

    assert inventory(imported) == inventory(live)
    assert imported.counts == live.counts


def test_the_arrays_evolution_shows_in_the_verdicts(tmp_path):
    """An export rule widened on day 14 and fixed on day 17; a node gone on day 20 left in an igroup."""
    simulation = Simulation(seed=0, start=START)
    estate = SimulatedEstate(simulation, tmp_path / "estate").start()
    try:
        register_arrays(estate)
        cluster = Cluster.objects.create(
            name="sim", source=Cluster.Source.KUBECONFIG, kubeconfig_path=str(estate.kubeconfig)
        )

        def flexgroup_verdicts_on(day):
            simulation.advance_to(START + timedelta(days=day))
            snapshot = snapshot_now(cluster)
            records = list(records_as_of(snapshot)[VOLUME_ACCESS].values())
            flexgroup = [r for r in records if r["driver"] == "ontap-nas-flexgroup"]
            assert flexgroup
            return {p["verdict"] for r in flexgroup for p in r["admitted"]}, records

        before, _ = flexgroup_verdicts_on(13)
        widened, _ = flexgroup_verdicts_on(15)
        fixed, _ = flexgroup_verdicts_on(18)
        assert "wildcard" not in before and "wildcard" in widened and "wildcard" not in fixed
        _, records = flexgroup_verdicts_on(21)
        stale = [p for r in records for p in r["admitted"] if p["verdict"] == "stale-node"]
        assert any("worker-retiring" in p["stale_nodes"] for p in stale)
    finally:
        estate.stop()


def test_a_quiet_cluster_costs_no_rows_and_keeps_its_access_records(estate):
    register_arrays(estate)
    first = snapshot_of(estate)
    estate.simulation.advance_to(estate.simulation.clock + timedelta(minutes=10))  # volatile churn only
    second = snapshot_now(Cluster.objects.get())
    assert second.rows_written == {"inserted": 0, "closed": 0, "deleted": 0}
    assert second.facts["join"] == first.facts["join"]
    records = InventoryObject.objects.as_of(second).filter(scope="derived")
    assert records.count() == InventoryObject.objects.as_of(first).filter(scope="derived").count() > 0


def test_records_whose_inputs_did_not_change_are_not_rewritten_and_each_chain_is_evaluated_once(
    estate, monkeypatch
):
    from arrays import admission

    register_arrays(estate)
    evaluated = []
    original = admission._policy_parties
    monkeypatch.setattr(
        admission,
        "_policy_parties",
        lambda policies, nodes: evaluated.append(tuple(policies)) or original(policies, nodes),
    )
    admission._CHAIN_PARTIES.clear()  # what earlier tests' snapshots left in this process
    snapshot_of(estate)
    first = list(evaluated)
    assert first and len(first) == len(set(first))  # shared by every volume behind them
    estate.simulation.churn(0.2)  # pods, claims and bindings change; no volume's gates or nodes do
    changed = snapshot_now(Cluster.objects.get())
    assert changed.rows_written["inserted"] > 0
    records = InventoryObject.objects.filter(kind__in=["VolumeAccess", "InlineVolumeAccess"])
    assert not records.filter(valid_from=changed.seq).exists()
    assert evaluated == first  # the worker kept each chain's parties for its next snapshot


def test_each_namespaces_summary_counts_its_access_records(estate):
    """The arrays page counts volumes from the summaries alone: they must add up to the records, group
    by group, and each group's example be one of its own volumes in its namespace."""
    from collections import Counter

    from arrays.access_summary import ACCESS_SUMMARY, group_of

    register_arrays(estate)
    snapshot = snapshot_of(estate)
    derived = InventoryObject.objects.as_of(snapshot).filter(scope="derived")
    records = {
        (kind, namespace, name): data
        for kind, by_key in records_as_of(snapshot).items()
        for (namespace, name), data in by_key.items()
    }
    expected = Counter((namespace, group_of(data)) for (_, namespace, _), data in records.items())
    counted = Counter()
    for namespace, data in derived.filter(kind=ACCESS_SUMMARY).values_list("namespace", "data"):
        for array, backend, status, unknown, verdicts, n, (kind, name) in data["groups"]:
            group = (array, backend, status, unknown, tuple(verdicts))
            counted[(namespace, group)] += n
            assert group_of(records[(kind, namespace, name)]) == group, "the example is one of the group's"
    assert counted == expected and len(expected) > 1
    assert {verdict for _, (*_, verdicts) in expected for verdict in verdicts} >= {"node", "foreign"}
