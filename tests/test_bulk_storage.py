"""The bulk paths of the store (inventory/bulk_insert.py, inventory/json_column.py): what they write
and read back is what Django's own paths would, on both databases, and the schema is Django's."""

import io
from importlib import import_module

import orjson
import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from arrays.volume_access import derive
from exposure.models import Finding, FindingNamespace
from inventory.bulk_insert import insert_keyed, insert_rows, insert_values
from inventory.json_column import SerialisedJSON
from inventory.models import Cluster, InventoryObject
from inventory.state import SnapshotState
from tests.factories import obj
from tests.test_history import base_objects, snap

pytestmark = [pytest.mark.django_db, pytest.mark.postgres_too]

LZ4_SUPPORTED = import_module("inventory.migrations.0003_inventory_data_lz4").LZ4_SUPPORTED

AWKWARD = {
    "quotes": 'say "hi" \\ back\\slash',
    "unicode": "naïve ☃ \U0001f600",
    "tab": "a\tb\nc",
    "big": 2**70,  # beyond 64 bits: orjson refuses it, the standard encoder and decoder do not
    "float": 1.5,
    "nested": [{"k": None, "b": True}, [], {}],
}


def row(cluster, name, data, **fields):
    return InventoryObject(
        cluster=cluster,
        kind="ConfigMap",
        namespace="ns",
        name=name,
        data=data,
        digest="d",
        schema_version=1,
        valid_from=1,
        **fields,
    )


def test_rows_inserted_in_bulk_read_back_as_written():
    cluster = Cluster.objects.create(name="c1", source=Cluster.Source.OFFLINE)
    insert_rows(InventoryObject, [row(cluster, "a", AWKWARD), row(cluster, "b", {}, scope="arr", valid_to=2)])
    stored = {o.name: o for o in InventoryObject.objects.filter(cluster=cluster)}
    assert stored["a"].data == AWKWARD and stored["a"].valid_to is None and stored["a"].scope == ""
    assert stored["b"].data == {} and stored["b"].valid_to == 2 and stored["b"].scope == "arr"


def test_documents_given_serialised_are_stored_as_the_documents_they_serialise():
    cluster = Cluster.objects.create(name="c1", source=Cluster.Source.OFFLINE)
    document = {key: value for key, value in AWKWARD.items() if key != "big"}
    insert_rows(InventoryObject, [row(cluster, "bulk", SerialisedJSON(orjson.dumps(document)))])
    row(cluster, "saved", SerialisedJSON(orjson.dumps(document))).save()  # Django's own path
    stored = dict(InventoryObject.objects.filter(cluster=cluster).values_list("name", "data"))
    assert stored == {"bulk": document, "saved": document}


def test_rows_inserted_keyed_get_their_keys_and_rows_referring_to_them_follow():
    cluster = Cluster.objects.create(name="c1", source=Cluster.Source.OFFLINE)
    earlier = Finding.objects.create(**_finding_fields(cluster, "earlier"))
    made = [Finding(**_finding_fields(cluster, name)) for name in ("a\tb\nc", 'say "hi" \\ x', "naïve ☃")]
    insert_keyed(Finding, made)
    assert all(f.pk and not f._state.adding for f in made)
    assert len({earlier.pk, *(f.pk for f in made)}) == 4  # drawn from the table's own keys
    insert_values(FindingNamespace, [{"finding_id": f.pk, "namespace": f.title} for f in made])
    for finding in made:
        stored = Finding.objects.get(pk=finding.pk)
        assert (stored.title, stored.evidence, stored.first_seen) == (
            finding.title,
            AWKWARD,
            finding.first_seen,
        )
        assert list(stored.attributions.values_list("namespace", flat=True)) == [finding.title]
    Finding.objects.create(**_finding_fields(cluster, "later"))  # the sequence moved past them


def _finding_fields(cluster, title: str) -> dict:
    return {
        "cluster": cluster,
        "rule": "privileged-container",
        "fingerprint": f"fp-{title}",
        "identity": [title],
        "severity": "high",
        "title": title,
        "evidence": AWKWARD,
        "evidence_key": "k",
        "first_seen": timezone.now(),
        "first_seen_seq": 1,
        "changed_seq": 1,
    }


def test_the_json_column_needs_no_migration():
    call_command("makemigrations", "--check", "--dry-run", stdout=io.StringIO())  # exits non-zero on changes


def test_large_kept_fields_are_compressed_with_lz4_and_the_cluster_has_no_index_of_its_own():
    """What a first snapshot costs PostgreSQL (inventory/migrations/0003): lz4 where the server has
    it, and no index beside the ones that start with the cluster."""
    cluster = Cluster.objects.create(name="c1", source=Cluster.Source.OFFLINE)
    insert_rows(InventoryObject, [row(cluster, "big", {"items": [f"value {i}" for i in range(4000)]})])
    columns = {
        tuple(constraint["columns"])
        for constraint in connection.introspection.get_constraints(
            connection.cursor(), InventoryObject._meta.db_table
        ).values()
        if constraint["index"] and not constraint["primary_key"]
    }
    assert ("cluster_id",) not in columns and all(c[0] == "cluster_id" for c in columns if c), columns
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(LZ4_SUPPORTED)
        if not cursor.fetchone()[0]:
            return  # a server built without lz4 keeps pglz
        cursor.execute(
            "SELECT pg_column_compression(data) FROM inventory_inventoryobject WHERE name = %s", ["big"]
        )
        assert cursor.fetchone()[0] == "lz4"


def test_the_state_a_run_hands_to_the_derivation_is_the_state_read_back(monkeypatch):
    handed = []

    def spy(snapshot, inventory_changed=True, written=None, changed=None):
        derivation = derive(snapshot, inventory_changed, written, changed)
        handed.append(derivation.state)
        return derivation

    monkeypatch.setattr("inventory.snapshotting.derive_volume_access", spy)
    cluster = Cluster.objects.create(name="c1", source=Cluster.Source.OFFLINE)
    worker_2 = obj(
        "Node", "worker-2", status={"addresses": [{"type": "InternalIP", "address": "192.0.2.12"}]}
    )
    snap(cluster, [*base_objects(), worker_2])
    snap(cluster, base_objects())  # worker-2 departs
    # Pods not read: the derivation's state takes them from the store, the rest as the run kept them.
    third = snap(
        cluster,
        [*base_objects(), obj("Namespace", "odd", metadata={"labels": {"q": AWKWARD["quotes"]}})],
        unread={"Pod": "x"},
    )
    loaded = SnapshotState.load(third)
    assert handed[-1].objects == loaded.objects and len(loaded.of_kind("Pod")) == 2
    assert handed[-1].departed_nodes == loaded.departed_nodes and set(loaded.departed_nodes) == {"worker-2"}
    assert handed[-1].arrays == loaded.arrays
