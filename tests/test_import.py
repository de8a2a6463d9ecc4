"""Offline import (`snapshot --from-dump`) on the golden fixtures: real kubectl shapes."""

import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inventory.models import Cluster, InventoryObject, Snapshot

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]

GOLDEN = Path(__file__).resolve().parent / "golden"
CLUSTER_A = GOLDEN / "cluster-a"


def import_dump(directory, *extra) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command("snapshot", "--cluster", "offline-a", "--from-dump", str(directory), *extra, stdout=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    raise AssertionError("snapshot must exit with its status")


@pytest.fixture
def dump_copy(tmp_path):
    target = tmp_path / "dump"
    shutil.copytree(CLUSTER_A, target)
    return target


def test_golden_dump_imports_complete_with_every_object(dump_copy):
    code, out = import_dump(dump_copy, "--taken-at", "2026-11-01T00:00:00Z")
    assert code == 0, out
    cluster = Cluster.objects.get(name="offline-a")
    assert cluster.source == Cluster.Source.OFFLINE
    snapshot = cluster.snapshots.get()
    assert snapshot.origin == Snapshot.Origin.DUMP and snapshot.status == Snapshot.Status.COMPLETE
    assert snapshot.taken_at.isoformat() == "2026-11-01T00:00:00+00:00"
    expected = json.loads((GOLDEN / "expected_counts.json").read_text())
    assert snapshot.counts == expected
    stored = dict.fromkeys(expected, 0)
    for kind in InventoryObject.objects.as_of(snapshot).filter(scope="").values_list("kind", flat=True):
        stored[kind] += 1
    assert stored == expected


def test_golden_secrets_never_reach_the_database(dump_copy):
    import_dump(dump_copy)
    secrets = json.loads((GOLDEN / "secret_values.json").read_text())
    raw = "".join(p.read_text() for p in (dump_copy / "kubernetes").rglob("*.*"))
    assert all(value in raw for value in secrets["values"]), "the fixture should hold the secrets"
    everything = io.StringIO()
    call_command("dumpdata", "inventory", "arrays", "exposure", "tenancy", stdout=everything)
    findings = io.StringIO()
    call_command("findings", "--status", "all", "--format", "json", stdout=findings)
    assert '"rule"' in findings.getvalue(), "the golden cluster has findings to check"
    for value in secrets["values"]:
        assert value not in everything.getvalue()
        assert value not in findings.getvalue(), "findings (their evidence and paths) hold no secret"
    for tvol in InventoryObject.objects.filter(kind="TridentVolume"):
        access = tvol.data.get("config", {}).get("accessInformation", {})
        assert not set(access) & set(secrets["dropped_keys"])


def test_reimporting_the_same_dump_writes_nothing(dump_copy):
    import_dump(dump_copy, "--taken-at", "2026-11-01T00:00:00Z")
    code, out = import_dump(dump_copy, "--taken-at", "2026-11-02T00:00:00Z")
    assert code == 0
    assert Snapshot.objects.order_by("-seq").first().rows_written == {
        "inserted": 0,
        "closed": 0,
        "deleted": 0,
    }


def test_missing_kinds_make_the_import_partial(dump_copy):
    (dump_copy / "kubernetes" / "network" / "networkpolicies.yaml").unlink()
    shutil.rmtree(dump_copy / "kubernetes" / "trident")
    code, out = import_dump(dump_copy)
    assert code == 2, out
    snapshot = Snapshot.objects.get()
    assert snapshot.status == Snapshot.Status.PARTIAL
    assert "NetworkPolicy" in snapshot.unread and "TridentVolume" in snapshot.unread
    assert "not read: NetworkPolicy: not in dump" in out


def test_a_broken_file_names_itself_and_stores_nothing(dump_copy):
    broken = dump_copy / "kubernetes" / "workloads" / "broken.json"
    broken.write_text('{"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": "x"}')
    with pytest.raises(CommandError, match=r"kubernetes/workloads/broken\.json"):
        import_dump(dump_copy)
    assert (
        not Cluster.objects.exists()
        and not Snapshot.objects.exists()
        and not InventoryObject.objects.exists()
    )


def test_an_object_without_a_name_is_named_by_position(dump_copy):
    (dump_copy / "kubernetes" / "extra.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: ok, namespace: a}\n---\napiVersion: v1\nkind: Pod\n"
        "metadata: {namespace: a}\n"
    )
    with pytest.raises(CommandError, match=r"extra\.yaml.*document 2"):
        import_dump(dump_copy)
    assert not InventoryObject.objects.exists()


def test_a_dump_older_than_the_latest_snapshot_is_refused(dump_copy):
    import_dump(dump_copy, "--taken-at", "2026-11-02T00:00:00Z")
    with pytest.raises(CommandError, match="before the cluster's latest snapshot"):
        import_dump(dump_copy, "--taken-at", "2026-11-01T00:00:00Z")
    assert Snapshot.objects.count() == 1


def test_taken_at_must_carry_a_timezone(dump_copy):
    with pytest.raises(CommandError, match="timezone"):
        import_dump(dump_copy, "--taken-at", "2026-11-01T00:00:00")


NUL = "\u0000"


def test_nul_characters_are_stored_replaced_with_one_warning_per_kind(dump_copy, caplog):
    # PostgreSQL's jsonb and text reject U+0000: one such character used to fail every snapshot.
    documents = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": "nul-tenant",
                "uid": "nul-uid-1",
                "labels": {"team": f"a{NUL}b", f"odd{NUL}key": "x"},
                "annotations": {"note": f"{NUL}{NUL}"},
            },
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": f"reader{NUL}", "namespace": "nul-tenant", "uid": "nul-uid-2"},
            "rules": [
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": [NUL]}
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": f"writer{NUL}", "namespace": "nul-tenant", "uid": "nul-uid-3"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"], "resourceNames": ["p"]}],
        },
    ]
    (dump_copy / "kubernetes" / "nul.json").write_text(json.dumps({"kind": "List", "items": documents}))
    with caplog.at_level("WARNING", logger="inventory"):
        code, out = import_dump(dump_copy)
    assert code == 0, out
    stored = io.StringIO()
    call_command("dumpdata", "inventory", "arrays", "exposure", "tenancy", stdout=stored)
    assert "\\u0000" not in stored.getvalue() and NUL not in stored.getvalue()
    namespace = InventoryObject.objects.get(kind="Namespace", name="nul-tenant")
    assert namespace.data["metadata"]["labels"] == {"team": "a\ufffdb", "odd\ufffdkey": "x"}
    role = InventoryObject.objects.get(kind="Role", name="reader\ufffd")
    assert role.data["rules"][0]["resourceNames"] == ["\ufffd"]
    snapshot = Snapshot.objects.get()
    assert not snapshot.facts["analysis"].get("error"), "findings and paths stored too"
    nul_warnings = [w for w in snapshot.warnings if "NUL" in w]
    assert nul_warnings == [
        "1 Namespace object(s) held NUL characters (U+0000), stored as U+FFFD",
        "2 Role object(s) held NUL characters (U+0000), stored as U+FFFD",
    ]
    assert sum("NUL" in r.getMessage() for r in caplog.records) == 2, "logged once per kind, not per object"


def test_a_refused_file_stops_the_import_with_an_error_naming_it(dump_copy, tmp_path):
    outside = tmp_path / "outside.json"
    outside.write_text(
        json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "smuggled"}})
    )
    (dump_copy / "kubernetes" / "more.json").symlink_to(outside)
    with pytest.raises(CommandError, match=r"kubernetes/more\.json: is a symbolic link"):
        import_dump(dump_copy)
    assert not Snapshot.objects.exists() and not InventoryObject.objects.exists()


PLANTED = {  # the four secrets that reached the database when secrets were known by exact name
    "annotation": "planted-annotation-chap-9d1e",
    "inline": "planted-inline-chap-4b7a",
    "pv": "planted-pv-password-21c8",
    "storageclass": "planted-sc-chap-77f0",
}


def plant_secrets(kubernetes: Path) -> None:
    """The four secrets, each where a kept map holds it, in one extra file of a dump."""
    documents = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": "planted",
                "labels": {"kubernetes.io/metadata.name": "planted"},
                "annotations": {"example.com/chap-secret": PLANTED["annotation"], "example.com/team": "blue"},
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "inline", "namespace": "planted"},
            "spec": {
                "containers": [{"name": "c", "image": "busybox"}],
                "volumes": [
                    {
                        "name": "data",
                        "csi": {
                            "driver": "csi.trident.netapp.io",
                            "volumeAttributes": {
                                "chap-secret": PLANTED["inline"],
                                "internalName": "inline_1",
                            },
                        },
                    }
                ],
            },
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "planted-pv"},
            "spec": {
                "csi": {
                    "driver": "csi.trident.netapp.io",
                    "volumeHandle": "planted-pv",
                    "volumeAttributes": {"backendPassword": PLANTED["pv"], "backendUUID": "nope"},
                }
            },
        },
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": "planted"},
            "provisioner": "csi.trident.netapp.io",
            "parameters": {
                "chapSecret": PLANTED["storageclass"],
                "csi.storage.k8s.io/node-stage-secret-name": "chap-credentials",
            },
        },
    ]
    (kubernetes / "planted.json").write_text(json.dumps({"kind": "List", "items": documents}))


def test_secrets_kept_by_pattern_never_reach_the_database(dump_copy):
    plant_secrets(dump_copy / "kubernetes")
    code, out = import_dump(dump_copy)
    assert code == 0, out
    rows = io.StringIO()
    call_command("dumpdata", "inventory", "arrays", "exposure", "tenancy", stdout=rows)
    assert '"planted-pv"' in rows.getvalue(), "the planted objects were stored"
    for value in PLANTED.values():
        assert value not in rows.getvalue()
    namespace = InventoryObject.objects.get(kind="Namespace", name="planted")
    assert namespace.data["metadata"]["annotations"] == {"example.com/team": "blue"}
    assert namespace.data["metadata"]["labels"] == {"kubernetes.io/metadata.name": "planted"}
    storage_class = InventoryObject.objects.get(kind="StorageClass", name="planted")
    assert storage_class.data["parameters"] == {
        "csi.storage.k8s.io/node-stage-secret-name": "chap-credentials"
    }
