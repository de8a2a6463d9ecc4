"""A worker reuses the kept form of an object whose uid and resourceVersion did not move since it last
read the cluster (inventory/kept_reuse.py).  That memory may only save work: what is stored must be
what keeping every object anew gives, and the database, not the memory, decides."""

from contextlib import contextmanager
from datetime import timedelta

import orjson
import pytest

from arrays.array_kinds import BY_STORED_KIND
from inventory import cluster_memory, kept_reuse
from inventory.history import StoredObject, prepare_array_records, stored_form
from inventory.kept_fields import SCHEMA_VERSION, digest
from inventory.kept_reuse import REUSED_FOR, KeptFormReuse
from inventory.kinds import KINDS
from inventory.models import Cluster, InventoryObject
from inventory.tasks import snapshot_now
from simulator.serving import SimulatedEstate
from simulator.world import Simulation
from tests.cases.runner import TAKEN_AT
from tests.test_join import register_arrays

KEY = ("team-a", "web-0")


def pod(uid="u-1", version="7", user=1000) -> dict:
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {"namespace": KEY[0], "name": KEY[1], "uid": uid, "resourceVersion": version},
        "spec": {"securityContext": {"runAsUser": user}},
    }


def read_once(cluster_id: int, raw: dict, current) -> tuple[KeptFormReuse, StoredObject, bool]:
    """One read of one pod as StoredForms does it; whether its form was reused."""
    reuse = KeptFormReuse(cluster_id)
    stored = reuse.form("Pod", KEY, raw, current)
    reused = stored is not None
    stored = stored or stored_form("Pod", raw, current)
    reuse.note("Pod", KEY, raw, stored)
    reuse.remember()
    return reuse, stored, reused


def stored_as(stored: StoredObject, schema_current: bool = True):
    return {KEY: (1, stored.digest, schema_current)}


def test_an_unmoved_object_that_is_the_stored_version_keeps_its_form():
    _, first, _ = read_once(1, pod(), {})
    _, second, reused = read_once(1, pod(), stored_as(first))
    assert reused and second is first


@pytest.mark.parametrize(
    "raw",
    [
        pod(version="8"),  # written since
        pod(uid="u-2"),  # deleted and created again under the same name
        pod(version=""),  # no version: nothing to go by
        {**pod(), "metadata": "odd"},
    ],
    ids=["new-resource-version", "new-uid", "no-version", "odd-metadata"],
)
def test_a_moved_or_unversioned_object_is_kept_anew(raw):
    _, first, _ = read_once(1, pod(), {})
    _, _, reused = read_once(1, raw, stored_as(first))
    assert not reused


@pytest.mark.parametrize(
    "current",
    [
        {},  # the database has no current version (emptied, or the write was undone)
        {KEY: (1, "another-digest", True)},  # another version is current
        "older-schema",  # stored under older rules of what is kept
    ],
    ids=["not-stored", "other-digest", "older-schema"],
)
def test_the_database_decides(current):
    _, first, _ = read_once(1, pod(), {})
    current = stored_as(first, schema_current=False) if current == "older-schema" else current
    _, _, reused = read_once(1, pod(), current)
    assert not reused


def read_lazily(cluster_id: int, raw: dict, current) -> tuple[StoredObject | None, bool]:
    """One read of one pod as the lazy page reader does it: known by its key, uid and version only
    (inventory/sources/lazy_pages.py); the reused form, and whether the next read may reuse it."""
    reuse = KeptFormReuse(cluster_id)
    metadata = raw["metadata"] if isinstance(raw["metadata"], dict) else {}
    found = reuse.finder("Pod", current)(KEY, metadata.get("uid", ""), metadata.get("resourceVersion", ""))
    noted = reuse.read.get("Pod", {}).get(KEY)
    return found, noted is not None and noted == (metadata["uid"], metadata["resourceVersion"], found)


@pytest.mark.parametrize(
    "raw", [pod(), pod(version="8"), pod(uid="u-2"), pod(version="")], ids=["same", "version", "uid", "none"]
)
@pytest.mark.parametrize("database", ["agrees", "not-stored", "other-digest", "older-schema"])
def test_the_lazy_reader_reuses_exactly_what_the_whole_reader_does(raw, database):
    _, first, _ = read_once(1, pod(), {})
    current = {
        "agrees": stored_as(first),
        "not-stored": {},
        "other-digest": {KEY: (1, "another-digest", True)},
        "older-schema": stored_as(first, schema_current=False),
    }[database]
    found, noted = read_lazily(1, raw, current)
    assert (found is first) == noted == (raw == pod() and database == "agrees")
    assert found is None or found is first


def test_another_cluster_never_reuses_the_form():
    _, first, _ = read_once(1, pod(), {})
    _, _, reused = read_once(2, pod(), stored_as(first))
    assert not reused


def test_every_object_is_kept_anew_after_so_many_reads():
    _, first, _ = read_once(1, pod(), {})
    reused = [read_once(1, pod(), stored_as(first))[2] for _ in range(REUSED_FOR + 1)]
    # Read 1 kept anew; reads 2 to REUSED_FOR reused; then one kept anew, and reuse resumes.
    assert reused == [True] * (REUSED_FOR - 1) + [False, True]


def test_a_read_that_fails_leaves_the_older_forms():
    _, first, _ = read_once(1, pod(), {})
    KeptFormReuse(1).note("Pod", KEY, pod(version="9"), first)  # never remembered: it failed
    assert read_once(1, pod(), stored_as(first))[2]


def test_how_many_clusters_a_worker_remembers(settings):
    settings.KEPT_FORMS_REUSED_CLUSTERS = 2
    firsts = {cluster: read_once(cluster, pod(), {})[1] for cluster in (1, 2, 3)}
    # Cluster 1, read longest ago, was forgotten (read last here: reading it first would evict 2).
    assert [read_once(c, pod(), stored_as(firsts[c]))[2] for c in (3, 2, 1)] == [True, True, False]
    settings.KEPT_FORMS_REUSED_CLUSTERS = 0
    cluster_memory.forget_all()
    first = read_once(1, pod(), {})[1]
    assert not read_once(1, pod(), stored_as(first))[2]


def volume(size="1g", uuid="v-1") -> dict:
    return {"uuid": uuid, "name": "trident_pvc_1", "svm": {"name": "svm0"}, "comment": size}


def prepare_once(record: dict, current) -> tuple[StoredObject, bool]:
    """One read of one ONTAP volume record as the store does it; whether its form was reused."""
    kind = BY_STORED_KIND["ontap.Volume"]
    reuse = KeptFormReuse(1)
    before = reuse.reused
    stored = prepare_array_records(kind, [record], current, reuse, "ontap-a")[("", "svm0/trident_pvc_1")]
    reuse.remember()
    return stored, reuse.reused > before


def test_an_array_record_answered_as_before_keeps_its_form_while_the_database_agrees():
    first, _ = prepare_once(volume(), {})
    current = {("", "svm0/trident_pvc_1"): (1, first.digest, True)}
    second, reused = prepare_once(volume(), current)
    assert reused and second is first
    # Any byte of the answer changed (even a field not kept): kept anew, to the same stored form.
    third, reused = prepare_once(volume(size="2g"), current)
    assert not reused and third is not first and third.digest == first.digest
    # The database holds another version: kept anew.
    _, reused = prepare_once(volume(size="2g"), {("", "svm0/trident_pvc_1"): (1, "another", True)})
    assert not reused


def listed(simulation: Simulation, info) -> list[dict]:
    """The kind's objects as the reader gets them from a list: copies, each typed."""
    return [
        {**orjson.loads(orjson.dumps(raw)), "kind": info.kind, "apiVersion": info.api_version}
        for raw in simulation.objects(info.kind)
    ]


@pytest.mark.django_db
def test_live_snapshots_store_what_keeping_anew_gives(tmp_path):
    """Through the real client, a simulated cluster churning: after each snapshot every current
    version is what keeping the object anew gives, forms of objects that did not move were reused
    (the very same objects), and nothing the derivation or the rules did changed one of them."""
    with clusters_of_one_estate(tmp_path, "sim") as (simulation, cluster):
        previous: dict = {}
        for fraction in (None, 0.0, 0.1, 0.05):
            if fraction is not None:
                simulation.advance_to(simulation.clock + timedelta(minutes=10))
                simulation.churn(fraction)
            assert snapshot_now(cluster).is_visible
            remembered, _ = kept_reuse._REMEMBERED.get(cluster.pk)
            for info in KINDS:
                if info.kind == "Secret":
                    continue
                stored = {
                    (o.namespace, o.name): (o.data, o.digest, o.schema_version)
                    for o in InventoryObject.objects.current().filter(
                        cluster=cluster, scope="", kind=info.kind
                    )
                }
                anew = {key: (s.data, s.digest, SCHEMA_VERSION) for key, s in _kept_anew(simulation, info)}
                assert stored == anew, info.kind
                for form in (f for _, _, f in remembered.get(info.kind, {}).values()):
                    assert digest(form.data) == form.digest  # not changed since it was made
            if previous:
                assert _share_reused(previous, remembered) > 0.8
            previous = remembered


@pytest.mark.django_db
def test_array_records_answered_as_before_keep_their_forms(tmp_path):
    """Array records have no resourceVersion: a record the array answers byte for byte as at the last
    read keeps its form.  Through the real array clients, a simulated estate churning: what a cluster
    reusing forms stores of the arrays is what a second cluster of the same estate, whose every
    record is kept anew, stores; and most unchanged records' forms were reused."""
    with clusters_of_one_estate(tmp_path, "reusing", "anew") as (simulation, reusing, anew):
        previous: dict = {}
        for fraction in (None, 0.0, 0.1):
            if fraction is not None:
                simulation.advance_to(simulation.clock + timedelta(minutes=10))
                simulation.churn(fraction)
            assert snapshot_now(reusing).is_visible
            remembered, _ = kept_reuse._REMEMBERED.get(reusing.pk)
            kept_reuse._REMEMBERED.pop(anew.pk)  # nothing to reuse: every record kept anew
            assert snapshot_now(anew).is_visible
            assert _array_versions(reusing) == _array_versions(anew) != {}
            records = {kind: forms for kind, forms in remembered.items() if ":" in kind}
            assert records  # array records were remembered, under `<array>:<kind>`
            if previous:
                assert _share_reused(previous, records) > 0.5
            previous = records


@contextmanager
def clusters_of_one_estate(tmp_path, *names: str):
    """A simulated estate served on loopback, its arrays registered, and clusters of these names
    reading it: (the simulation, *the clusters)."""
    simulation = Simulation(seed=5, start=TAKEN_AT)
    estate = SimulatedEstate(simulation, tmp_path / "estate").start()
    try:
        register_arrays(estate)
        clusters = [
            Cluster.objects.create(
                name=name, source=Cluster.Source.KUBECONFIG, kubeconfig_path=str(estate.kubeconfig)
            )
            for name in names
        ]
        yield simulation, *clusters
    finally:
        estate.stop()


def _share_reused(previous: dict, remembered: dict) -> float:
    """The share of the forms remembered now that are the very objects the last read remembered."""
    same = sum(
        form is previous[kind][key][2]
        for kind, forms in remembered.items()
        for key, (_, _, form) in forms.items()
        if key in previous.get(kind, {})
    )
    return same / max(1, sum(map(len, remembered.values())))


def _array_versions(cluster: Cluster) -> dict:
    return {
        (o.scope, o.kind, o.name): (o.digest, o.data, o.uid)
        for o in InventoryObject.objects.current().filter(cluster=cluster).exclude(scope__in=["", "derived"])
    }


def _kept_anew(simulation: Simulation, info):
    for raw in listed(simulation, info):
        stored = stored_form(info.kind, raw)
        yield ((raw["metadata"].get("namespace") or "", raw["metadata"]["name"]), stored)
