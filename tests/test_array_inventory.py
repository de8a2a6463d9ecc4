"""Array records in the snapshot: linked by configuration only, versioned, partial on failure."""

import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from arrays.array_reading import read_arrays, read_live_array, unreadable
from arrays.credentials import CredentialsError, resolve
from arrays.models import Array
from arrays.sources.contract import ONTAP_COLLECTIONS
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.snapshotting import queue_snapshot, run_snapshot
from inventory.sources import Collection
from tests.factories import collection, obj

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]


def backend(name, driver="ontap-nas", management="192.0.2.10", svm="svm_k8s"):
    if driver == "solidfire-san":
        config = {
            "solidfire_config": {"storageDriverName": driver, "SVIP": "198.51.100.6:3260", "TenantName": "t"}
        }
    elif driver == "azure-netapp-files":
        config = {"azure_config": {"storageDriverName": driver, "exportRule": "0.0.0.0/0"}}
    else:
        config = {"ontap_config": {"storageDriverName": driver, "managementLIF": management, "svm": svm}}
    return obj(
        "TridentBackend",
        f"tbe-{name}",
        "trident",
        backendName=name,
        backendUUID=f"uuid-{name}",
        config=config,
    )


def ontap_answers(policy_clients="10.20.1.11"):
    """Every collection read (most empty), the igroups failing."""
    answers = Collection(
        objects={path: [] for path in ONTAP_COLLECTIONS if path != "/api/protocols/san/igroups"},
        unread={"/api/protocols/san/igroups": "HTTP 500 after 3 attempts: injected"},
    )
    answers.objects.update(
        {
            "/api/svm/svms": [{"uuid": "s1", "name": "svm_k8s", "state": "running"}],
            "/api/protocols/nfs/export-policies": [
                {
                    "id": 1,
                    "name": "trident_pvc_1",
                    "svm": {"name": "svm_k8s"},
                    "rules": [{"index": 1, "clients": [{"match": policy_clients}], "ro_rule": ["any"]}],
                }
            ],
            "/api/storage/volumes": [
                {"uuid": "v1", "name": "trident_pvc_1", "svm": {"name": "svm_k8s"}, "space": {"used": 4096}}
            ],
        }
    )
    return answers


@pytest.fixture
def cluster():
    return Cluster.objects.create(name="c1", source=Cluster.Source.KUBECONFIG, kubeconfig_path="/dev/null")


@pytest.fixture
def ontap_array():
    return Array.objects.create(
        name="ontap-a",
        kind="ontap",
        host="127.0.0.1",
        credentials="env:ONTAP_A",
        trident_addresses=["192.0.2.10"],
    )


def snapshot_with(cluster, objects, reader):
    def source():
        result = collection(objects)
        read_arrays(cluster, result, reader=reader)
        return result

    return run_snapshot(queue_snapshot(cluster), source)


def test_linked_array_is_read_and_stored_under_its_scope(cluster, ontap_array):
    read = []

    def reader(array):
        read.append(array.name)
        return ontap_answers()

    snapshot = snapshot_with(cluster, [backend("nas"), backend("anf", "azure-netapp-files")], reader)
    assert read == ["ontap-a"]
    assert snapshot.status == Snapshot.Status.PARTIAL  # igroups failed
    assert snapshot.unread == {"ontap-a:/api/protocols/san/igroups": "HTTP 500 after 3 attempts: injected"}
    volume = InventoryObject.objects.get(scope="ontap-a", kind="ontap.Volume")
    assert volume.name == "svm_k8s/trident_pvc_1" and volume.data["has_data"] is True
    assert "space" not in volume.data  # the used size churns; only whether it holds data is kept
    assert snapshot.counts["ontap-a:ontap.ExportPolicy"] == 1
    assert snapshot.facts["backends"]["uuid-nas"]["array"] == "ontap-a"
    assert snapshot.facts["backends"]["uuid-anf"]["array"] is None
    assert snapshot.facts["backends"]["uuid-anf"]["access_rules"] == "from Trident's config (cloud)"


def test_unchanged_array_costs_no_rows_and_a_change_one_version(cluster, ontap_array):
    snapshot_with(cluster, [backend("nas")], lambda array: ontap_answers())
    again = snapshot_with(cluster, [backend("nas")], lambda array: ontap_answers())
    assert again.rows_written == {"inserted": 0, "closed": 0, "deleted": 0}
    widened = snapshot_with(cluster, [backend("nas")], lambda array: ontap_answers("0.0.0.0/0"))
    assert widened.rows_written == {"inserted": 1, "closed": 1, "deleted": 0}


def test_nul_characters_in_array_records_are_stored_replaced(cluster, ontap_array):
    def reader(array):
        answers = ontap_answers("10.20.1.11\u0000")
        answers.objects["/api/storage/volumes"][0]["name"] = "trident\u0000pvc"
        return answers

    snapshot = snapshot_with(cluster, [backend("nas", svm="svm\u0000k8s")], reader)
    assert snapshot.status == Snapshot.Status.PARTIAL, snapshot.error  # igroups failed, nothing else
    volume = InventoryObject.objects.get(scope="ontap-a", kind="ontap.Volume")
    assert volume.name == "svm_k8s/trident\ufffdpvc"
    policy = InventoryObject.objects.get(scope="ontap-a", kind="ontap.ExportPolicy")
    assert policy.data["rules"][0]["clients"] == [{"match": "10.20.1.11\ufffd"}]
    assert [w for w in snapshot.warnings if "NUL" in w] == [
        "1 TridentBackend object(s) held NUL characters (U+0000), stored as U+FFFD",
        "1 ontap-a:ontap.ExportPolicy object(s) held NUL characters (U+0000), stored as U+FFFD",
        "1 ontap-a:ontap.Volume object(s) held NUL characters (U+0000), stored as U+FFFD",
    ]


def test_unconfigured_array_is_a_fact_not_a_failure(cluster):
    snapshot = snapshot_with(
        cluster, [backend("nas", management="192.0.2.99")], lambda array: pytest.fail("read")
    )
    assert snapshot.status == Snapshot.Status.COMPLETE
    assert snapshot.facts["backends"]["uuid-nas"]["array"] is None


def test_unreachable_array_keeps_its_previous_records(cluster, ontap_array):
    snapshot_with(cluster, [backend("nas")], lambda array: ontap_answers())
    dead = snapshot_with(cluster, [backend("nas")], lambda array: unreadable("ontap", "connection refused"))
    assert dead.status == Snapshot.Status.PARTIAL
    assert dead.unread["ontap-a:/api/storage/volumes"] == "connection refused"
    assert InventoryObject.objects.as_of(dead).filter(scope="ontap-a", kind="ontap.Volume").count() == 1


def test_array_reader_crash_is_contained(cluster, ontap_array):
    def reader(array):
        raise ValueError("garbage answer")

    snapshot = snapshot_with(cluster, [backend("nas")], reader)
    assert snapshot.status == Snapshot.Status.PARTIAL
    assert snapshot.unread["ontap-a:/api/svm/svms"] == "ValueError: garbage answer"


def test_array_no_longer_linked_is_emptied(cluster, ontap_array):
    snapshot_with(cluster, [backend("nas")], lambda array: ontap_answers())
    gone = snapshot_with(cluster, [], lambda array: pytest.fail("not linked any more"))
    assert InventoryObject.objects.as_of(gone).filter(scope="ontap-a").count() == 0


def test_array_linked_by_backend_name_and_admin_added_array(cluster):
    by_name = Array.objects.create(
        name="sf", kind="solidfire", host="127.0.0.1", credentials="env:SF", trident_backends=["sf-backend"]
    )
    static = Array.objects.create(name="nfs-filer", kind="ontap", host="127.0.0.1", credentials="env:F")
    static.clusters.add(cluster)
    read = []
    snapshot_with(
        cluster,
        [backend("sf-backend", "solidfire-san")],
        lambda array: read.append(array.name) or Collection(),
    )
    assert sorted(read) == sorted([by_name.name, static.name])


def test_credentials_come_from_references_only(tmp_path, monkeypatch):
    monkeypatch.setenv("ARRAY_1_USERNAME", "admin")
    monkeypatch.setenv("ARRAY_1_PASSWORD", "s3cret-pw")
    assert resolve("env:ARRAY_1") == ("admin", "s3cret-pw")
    (tmp_path / "username").write_text("svc\n")
    (tmp_path / "password").write_text("from-a-mounted-secret\n")
    assert resolve(f"file:{tmp_path}") == ("svc", "from-a-mounted-secret")
    with pytest.raises(CredentialsError, match="ARRAY_2_USERNAME") as error:
        resolve("env:ARRAY_2")
    assert "s3cret" not in str(error.value)
    with pytest.raises(CredentialsError, match="env:PREFIX or file"):
        resolve("s3cret-pw")


# --- where a credential reference may point --------------------------------------------------------


def test_an_env_reference_outside_the_allowed_prefixes_is_refused(monkeypatch):
    """`env:DJANGO_SUPERUSER` resolved to the dashboard superuser's own password."""
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "the-superusers-pw")
    for reference in ("env:DJANGO_SUPERUSER", "env:EMAIL_HOST", "env:ARRAY", "env:ARRAY_A=B"):
        with pytest.raises(CredentialsError, match="ARRAY_CREDENTIAL_ENV_PREFIXES: ARRAY_…") as error:
            resolve(reference)
        assert "the-superusers-pw" not in str(error.value)


def test_the_env_prefixes_are_a_setting(monkeypatch, settings):
    settings.ARRAY_CREDENTIAL_ENV_PREFIXES = ["NETAPP_", "SF_"]
    monkeypatch.setenv("NETAPP_A_USERNAME", "ro")
    monkeypatch.setenv("NETAPP_A_PASSWORD", "pw")
    assert resolve("env:NETAPP_A") == ("ro", "pw")
    with pytest.raises(CredentialsError, match="NETAPP_…, SF_…"):
        resolve("env:ARRAY_A")


@pytest.fixture
def folders(tmp_path, settings):
    """The credentials folder (ARRAY_CREDENTIALS_DIR) and a folder outside it, each with a secret."""
    inside, outside = tmp_path / "credentials", tmp_path / "elsewhere"
    for folder, name in ((inside / "ontap-a", "ro"), (outside, "stolen")):
        folder.mkdir(parents=True)
        (folder / "username").write_text(name)
        (folder / "password").write_text(f"{name}-pw")
    settings.ARRAY_CREDENTIALS_DIR = inside
    return inside, outside


def test_a_file_reference_must_lie_inside_the_credentials_folder(folders):
    inside, outside = folders
    assert resolve(f"file:{inside / 'ontap-a'}") == ("ro", "ro-pw")
    for target in (outside, inside / ".." / "elsewhere", "ontap-a", "/etc"):
        with pytest.raises(CredentialsError, match="is not inside the credentials folder") as error:
            resolve(f"file:{target}")
        assert "stolen" not in str(error.value)


def test_symlinks_are_resolved_before_the_folder_is_checked(folders):
    inside, outside = folders
    (inside / "linked-dir").symlink_to(outside)
    (inside / "linked-files").mkdir()
    (inside / "linked-files" / "username").write_text("ro")
    (inside / "linked-files" / "password").symlink_to(outside / "password")
    for target in ("linked-dir", "linked-files"):
        with pytest.raises(CredentialsError, match="not inside the credentials folder"):
            resolve(f"file:{inside / target}")


def test_a_mounted_secrets_symlinks_inside_the_folder_are_followed(folders):
    """Kubernetes mounts a Secret as KEY -> ..data/KEY -> ..2026_01_01/KEY, all inside the mount."""
    inside, _ = folders
    mount = inside / "sf-a"
    (mount / "..2026_01_01").mkdir(parents=True)
    (mount / "..2026_01_01" / "username").write_text("sf-ro\n")
    (mount / "..2026_01_01" / "password").write_text("sf-pw\n")
    (mount / "..data").symlink_to("..2026_01_01")
    for key in ("username", "password"):
        (mount / key).symlink_to(f"..data/{key}")
    assert resolve(f"file:{mount}") == ("sf-ro", "sf-pw")


def test_only_small_regular_files_are_read(folders):
    inside, _ = folders
    fifo, big, device = inside / "fifo", inside / "big", inside / "device"
    for folder in (fifo, big, device):
        folder.mkdir()
        (folder / "username").write_text("ro")
    os.mkfifo(fifo / "password")  # a writer-less FIFO: reading it would wait forever
    (big / "password").write_bytes(b"x" * 100_000)
    (device / "password").symlink_to("/dev/zero")
    with pytest.raises(CredentialsError, match="is not a regular file"):
        resolve(f"file:{fifo}")
    with pytest.raises(CredentialsError, match="larger than 4096 bytes"):
        resolve(f"file:{big}")
    with pytest.raises(CredentialsError, match="not inside the credentials folder"):
        resolve(f"file:{device}")


def test_a_refused_reference_leaves_the_array_unread_with_the_reason(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "the-superusers-pw")
    array = Array(name="a", kind="ontap", host="127.0.0.1", credentials="env:DJANGO_SUPERUSER")
    collection = read_live_array(array)
    assert collection.objects == {} and set(collection.unread) == set(ONTAP_COLLECTIONS)
    assert all("ARRAY_CREDENTIAL_ENV_PREFIXES" in reason for reason in collection.unread.values())


def test_add_array_refuses_a_reference_to_a_place_not_allowed():
    with pytest.raises(CommandError, match="ARRAY_CREDENTIAL_ENV_PREFIXES"):
        call_command(
            "add_array",
            "a",
            "--kind",
            "ontap",
            "--host",
            "127.0.0.1",
            "--credentials",
            "env:DJANGO_SUPERUSER",
        )
    with pytest.raises(CommandError, match="not inside the credentials folder"):
        call_command("add_array", "a", "--kind", "ontap", "--host", "127.0.0.1", "--credentials", "file:/etc")
    assert not Array.objects.filter(name="a").exists()
