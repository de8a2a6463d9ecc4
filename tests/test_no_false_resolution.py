"""No false all-clear, end to end: a snapshot that could not read something resolves nothing that
rests on it.  The simulated cluster and arrays are read over loopback by the real clients (or
dumped and imported), faults are injected into the servers or the dump, and the findings and
inventory rows of a good snapshot must survive the faulty one."""

import dataclasses
import io
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import yaml
from django.contrib.auth.models import User
from django.core.management import call_command

from arrays.models import Array
from arrays.sources.contract import ONTAP_COLLECTIONS, SOLIDFIRE_METHODS
from exposure.models import Finding
from exposure.rules import ALL_RULES, RULES
from inventory.kinds import KINDS, TRIDENT_KINDS
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.tasks import snapshot_now
from simulator.serving import SimulatedEstate
from simulator.world import Simulation
from tests.test_join import register_arrays, snapshot_of

pytestmark = pytest.mark.django_db

START = datetime(2026, 1, 5, tzinfo=UTC)


@pytest.fixture
def estate(tmp_path):
    served = SimulatedEstate(Simulation(seed=0, start=START), tmp_path / "estate").start()
    yield served
    served.stop()


def open_findings(cluster) -> set[str]:
    return set(
        Finding.objects.filter(cluster=cluster, status=Finding.Status.OPEN).values_list(
            "fingerprint", flat=True
        )
    )


def current_rows(cluster) -> int:
    return InventoryObject.objects.current().filter(cluster=cluster).count()


@pytest.fixture
def analysed(estate):
    """A cluster with one complete snapshot and its open findings."""
    register_arrays(estate)
    first = snapshot_of(estate)
    assert first.status == Snapshot.Status.COMPLETE, first.unread or first.error
    cluster = first.cluster
    assert len(open_findings(cluster)) > 50
    return cluster


def assert_nothing_resolved(cluster, snapshot, before: set[str], rows_before: int) -> None:
    assert snapshot.status == Snapshot.Status.PARTIAL, snapshot.error
    assert snapshot.rows_written["closed"] == 0
    assert current_rows(cluster) == rows_before
    assert open_findings(cluster) == before
    assert not Finding.objects.filter(cluster=cluster, resolved_seq=snapshot.seq).exists()


@pytest.mark.parametrize(
    "path",
    [r"/apis/trident\.netapp\.io/v1$", r"/apis/trident\.netapp\.io/v1/tridentbackends", r"/tridentvolumes"],
)
def test_a_transient_404_on_trident_leaves_its_kinds_unread_and_resolves_nothing(estate, analysed, path):
    before, rows_before = open_findings(analysed), current_rows(analysed)
    estate.kubernetes.faults.add(path, status=404, times=1)
    snapshot = snapshot_now(analysed)
    assert_nothing_resolved(analysed, snapshot, before, rows_before)
    unread = {kind for kind in snapshot.unread if kind in TRIDENT_KINDS}
    assert unread and all("404" in snapshot.unread[kind] for kind in unread)
    assert snapshot.facts.get("trident_installed") is not False
    # The fault was transient: the next snapshot reads everything again and changes nothing.
    again = snapshot_now(analysed)
    assert again.status == Snapshot.Status.COMPLETE, again.unread
    assert open_findings(analysed) == before


def test_trident_gone_from_a_cluster_that_had_it_is_unread_not_absent(estate, analysed):
    before, rows_before = open_findings(analysed), current_rows(analysed)
    estate.simulation.trident_installed = False  # discovery and the group list both leave it out
    snapshot = snapshot_now(analysed)
    assert_nothing_resolved(analysed, snapshot, before, rows_before)
    assert set(TRIDENT_KINDS) <= set(snapshot.unread)
    assert "earlier snapshots stored" in snapshot.unread["TridentBackend"]
    assert snapshot.facts["trident_installed"] is None


def test_a_trident_kind_no_longer_served_on_a_cluster_that_stored_it_is_unread(estate, analysed):
    before, rows_before = open_findings(analysed), current_rows(analysed)
    estate.simulation.unserved_kinds = frozenset({"TridentVolume"})  # discovery no longer lists it
    snapshot = snapshot_now(analysed)
    assert_nothing_resolved(analysed, snapshot, before, rows_before)
    assert set(snapshot.unread) == {"TridentVolume"}
    assert "does not serve tridentvolumes" in snapshot.unread["TridentVolume"]


def test_a_cluster_that_never_had_trident_is_complete_without_it(tmp_path):
    simulation = Simulation(seed=0, start=START)
    simulation.trident_installed = False
    served = SimulatedEstate(simulation, tmp_path / "estate").start()
    try:
        snapshot = snapshot_of(served)
        assert snapshot.status == Snapshot.Status.COMPLETE, snapshot.unread
        assert snapshot.facts["trident_installed"] is False
        assert all(snapshot.counts[kind] == 0 for kind in TRIDENT_KINDS)
        assert snapshot_now(snapshot.cluster).status == Snapshot.Status.COMPLETE
    finally:
        served.stop()


# --- an analysis that fails is never an all-clear ---------------------------------------------------

GOLDEN_A = Path(__file__).resolve().parent / "golden" / "cluster-a"


def run_snapshot_command(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("snapshot", *args, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    raise AssertionError("snapshot must exit with its status")


def import_golden(tmp_path, cluster="offline-a", edit=None) -> tuple[int, str]:
    target = tmp_path / "dump"
    shutil.copytree(GOLDEN_A, target, dirs_exist_ok=True)
    if edit:
        edit(target)
    return run_snapshot_command("--cluster", cluster, "--from-dump", str(target))


def labels_as_text(dump) -> None:
    path = dump / "kubernetes" / "namespaces.yaml"
    namespaces = yaml.safe_load(path.read_text())
    for namespace in namespaces["items"]:
        namespace["metadata"]["labels"] = "team=a"
        namespace["metadata"]["annotations"] = ["owner.example.com/email=a@example.com"]
    path.write_text(yaml.safe_dump(namespaces))


def test_namespace_labels_that_are_text_are_analysed_like_no_labels(tmp_path):
    Cluster.objects.create(
        name="offline-a",
        source=Cluster.Source.OFFLINE,
        owner_keys=["owner.example.com/email", "group:owner.example.com/team"],
        tenant_label="tenant.example.com/name",
    )
    code, out = import_golden(tmp_path, edit=labels_as_text)
    snapshot = Cluster.objects.get(name="offline-a").latest_visible_snapshot()
    assert "error" not in snapshot.facts["analysis"], snapshot.facts["analysis"]
    assert not snapshot.facts["analysis"]["failed"]
    assert code == 0, out
    assert Finding.objects.filter(cluster=snapshot.cluster).exists()


# The analysis fails while judging (the rules, run before the run's last rows are written) or while
# recording what they found.
@pytest.mark.parametrize("step", ["exposure.analyse.label_forgers", "exposure.analyse.reconcile"])
def test_an_analysis_that_raises_makes_the_snapshot_exit_non_zero_and_shows(
    tmp_path, monkeypatch, client, step
):
    def broken(*args, **kwargs):
        raise RuntimeError("analysis broke")

    monkeypatch.setattr(step, broken)
    code, out = import_golden(tmp_path)
    snapshot = Cluster.objects.get(name="offline-a").latest_visible_snapshot()
    assert code != 0 and "analysis failed: RuntimeError: analysis broke" in out
    assert snapshot.analysis_failure == "RuntimeError: analysis broke"
    client.force_login(User.objects.create_superuser("root", "root@example.com", "unused-password"))
    page = client.get("/clusters/offline-a/").content.decode()
    assert "Analysis failed: RuntimeError: analysis broke" in page
    assert "analysis failed" in client.get("/").content.decode()


def test_a_rule_that_fails_makes_the_snapshot_exit_non_zero_and_shows(tmp_path, monkeypatch, client):
    rule = RULES["pv-visible-to-non-admins"]

    def broken(ctx):
        raise KeyError("broken rule")

    monkeypatch.setitem(RULES, rule.slug, dataclasses.replace(rule, evaluate=broken))
    monkeypatch.setattr("exposure.engine.ALL_RULES", [RULES[r.slug] for r in ALL_RULES])
    code, out = import_golden(tmp_path)
    snapshot = Cluster.objects.get(name="offline-a").latest_visible_snapshot()
    assert code != 0, out
    assert f"rule {rule.slug} failed" in snapshot.analysis_failure
    client.force_login(User.objects.create_superuser("root", "root@example.com", "unused-password"))
    page = client.get("/clusters/offline-a/").content.decode()
    assert f"rule {rule.slug} failed" in page


# --- offline dumps ----------------------------------------------------------------------------------


def findings_of(cluster) -> set[tuple[str, tuple]]:
    rows = Finding.objects.filter(cluster=cluster, status=Finding.Status.OPEN).values_list("rule", "identity")
    return {(rule, tuple(identity)) for rule, identity in rows}


def dump_of(cluster_name: str, directory: Path) -> Path:
    call_command("dump", "--cluster", cluster_name, str(directory), stdout=io.StringIO())
    return directory


def import_as(cluster_name: str, directory: Path, taken_at: datetime | None = None) -> tuple[int, Snapshot]:
    extra = ["--taken-at", taken_at.isoformat()] if taken_at else []
    code, out = run_snapshot_command("--cluster", cluster_name, "--from-dump", str(directory), *extra)
    snapshot = Cluster.objects.get(name=cluster_name).snapshots.order_by("-seq").first()
    return code, snapshot


@pytest.mark.parametrize("arrays_configured", [True, False], ids=["arrays-configured", "offline-machine"])
def test_dump_then_import_reproduces_the_live_findings(estate, analysed, tmp_path, arrays_configured):
    dump = dump_of("sim", tmp_path / "dump")
    if not arrays_configured:  # imported where no array is configured: the dump alone must say it all
        Array.objects.all().delete()
    code, imported = import_as("imported", dump)
    assert code == 0, imported.unread or imported.error or imported.analysis_failure
    live, offline = findings_of(analysed), findings_of(imported.cluster)
    assert offline - live == set() and live - offline == set()


def wide_export_array(cluster) -> tuple[str, list[str]]:
    """An array with an open export finding admitting 0.0.0.0/0, and the Trident backends using it."""
    for finding in Finding.objects.filter(cluster=cluster, rule="export-allows-foreign-hosts"):
        if "0.0.0.0/0" in str(finding.evidence) and finding.status == Finding.Status.OPEN:
            array = next(d.removeprefix("array:") for d in finding.depends if d.startswith("array:"))
            backends = cluster.latest_visible_snapshot().facts["backends"].values()
            return array, sorted(b["name"] for b in backends if b["array"] == array)
    raise AssertionError("the simulated cluster should have a 0.0.0.0/0 export finding")


def without_backend_files(dump: Path, backends: list[str]) -> None:
    for path in (dump / "backends").glob("*.json"):
        if orjson.loads(path.read_bytes())["backend"] in backends:
            path.unlink()


def renamed_backend_files(dump: Path, backends: list[str]) -> None:
    for path in (dump / "backends").glob("*.json"):
        document = orjson.loads(path.read_bytes())
        if document["backend"] in backends:
            document["backend"] = f"typo-{document['backend']}"
            path.write_bytes(orjson.dumps(document))


@pytest.mark.parametrize("fault", [without_backend_files, renamed_backend_files], ids=["missing", "renamed"])
@pytest.mark.parametrize("arrays_configured", [True, False], ids=["arrays-configured", "offline-machine"])
def test_a_dump_missing_a_backends_answers_is_partial_and_resolves_nothing(
    estate, analysed, tmp_path, fault, arrays_configured
):
    dump = dump_of("sim", tmp_path / "dump")
    if not arrays_configured:
        Array.objects.all().delete()
    code, first = import_as("offline", dump, START)
    assert code == 0, first.unread
    offline = first.cluster
    array, backends = wide_export_array(offline)
    before, rows_before = open_findings(offline), current_rows(offline)
    fault(dump, backends)
    code, second = import_as("offline", dump, START + timedelta(hours=1))
    assert code == 2
    assert_nothing_resolved(offline, second, before, rows_before)
    assert any(key.split(":")[0] in {array, *backends} for key in second.unread)
    assert all(
        second.facts["backends"][uuid].get("unread")
        for uuid, b in second.facts["backends"].items()
        if b["name"] in backends
    )


def test_a_dump_missing_any_one_kind_resolves_nothing(estate, analysed, tmp_path):
    """Each kind dropped in turn (between imports of the whole dump): nothing resting on it resolves.
    The admin's attestation text changes every time, so each import is analysed anew, not reused."""
    dump = dump_of("sim", tmp_path / "dump")
    code, first = import_as("offline", dump, START)
    assert code == 0, first.unread
    offline, when = first.cluster, START
    before = open_findings(offline)
    for info in KINDS:
        partial = tmp_path / f"without-{info.plural}"
        shutil.copytree(dump, partial)
        (partial / "kubernetes" / f"{info.plural}.json").unlink()
        for directory in (partial, dump):
            Cluster.objects.filter(pk=offline.pk).update(firewall_attestation=f"{directory.name} at {when}")
            when += timedelta(hours=1)
            code, snapshot = import_as("offline", directory, when)
            assert code == (2 if directory == partial else 0), (info.kind, snapshot.unread)
            assert snapshot.facts["analysis"].get("reused") is None
            resolved = Finding.objects.filter(cluster=offline, resolved_seq=snapshot.seq)
            assert not resolved.exists(), (
                info.kind,
                directory.name,
                list(resolved.values_list("rule", "identity")),
            )
            assert open_findings(offline) == before, (info.kind, directory.name)


def test_a_dump_missing_any_one_array_answer_resolves_nothing(estate, analysed, tmp_path):
    """Each ONTAP path / SolidFire method dropped in turn from every backend file."""
    dump = dump_of("sim", tmp_path / "dump")
    code, first = import_as("offline", dump, START)
    assert code == 0, first.unread
    offline, when = first.cluster, START
    before = open_findings(offline)
    for key in (*ONTAP_COLLECTIONS, *SOLIDFIRE_METHODS):
        partial = tmp_path / f"without-{len(list(tmp_path.iterdir()))}"
        shutil.copytree(dump, partial)
        for path in (partial / "backends").glob("*.json"):
            document = orjson.loads(path.read_bytes())
            document["responses"].pop(key, None)
            path.write_bytes(orjson.dumps(document))
        for directory in (partial, dump):
            Cluster.objects.filter(pk=offline.pk).update(firewall_attestation=f"{directory.name} at {when}")
            when += timedelta(hours=1)
            code, snapshot = import_as("offline", directory, when)
            assert code == (2 if directory == partial else 0), (key, snapshot.unread)
            resolved = Finding.objects.filter(cluster=offline, resolved_seq=snapshot.seq)
            assert not resolved.exists(), (
                key,
                directory.name,
                list(resolved.values_list("rule", "identity")),
            )
            assert open_findings(offline) == before, (key, directory.name)


def test_a_backend_file_missing_while_another_holds_its_arrays_answers(estate, analysed, tmp_path):
    """Backends sharing one array: without one backend's file the array is still read from the other's,
    whichever comes first; the backend itself is reported unread."""
    dump = dump_of("sim", tmp_path / "dump")
    code, first = import_as("offline", dump, START)
    assert code == 0, first.unread
    shared = {}
    for summary in first.facts["backends"].values():
        shared.setdefault(summary["array"], []).append(summary["name"])
    array, backends = next((a, names) for a, names in shared.items() if a and len(names) > 1)
    when = START
    for backend in backends:
        partial = tmp_path / f"without-{backend}"
        shutil.copytree(dump, partial)
        without_backend_files(partial, [backend])
        when += timedelta(hours=1)
        code, snapshot = import_as("offline", partial, when)
        assert code == 2, (backend, array, snapshot.facts["backends"], sorted(snapshot.unread))
        assert not [key for key in snapshot.unread if key.startswith(f"{array}:")]
        summary = next(b for b in snapshot.facts["backends"].values() if b["name"] == backend)
        assert "no file" in summary["unread"]
        assert not Finding.objects.filter(cluster=first.cluster, resolved_seq=snapshot.seq).exists()


def test_a_dump_taken_during_a_trident_404_leaves_trident_out_and_imports_partial(estate, analysed, tmp_path):
    estate.simulation.trident_installed = False  # the API, for this dump, does not serve Trident
    out = io.StringIO()
    call_command("dump", "--cluster", "sim", str(tmp_path / "dump"), stdout=out)
    assert "not read: TridentBackend" in out.getvalue()
    assert not (tmp_path / "dump" / "kubernetes" / "tridentbackends.json").exists()
    code, imported = import_as("imported", tmp_path / "dump")
    assert code == 2 and "TridentBackend" in imported.unread
