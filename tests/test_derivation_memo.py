"""A worker's derivation reuses what its last derivation of the cluster worked out (arrays/join.py
`JoinMemo`, arrays/volume_access.py `RecordMemo`) only where the inputs are equal: what it stores
must be what deriving anew stores."""

import copy
from datetime import timedelta
from types import SimpleNamespace

import pytest

from arrays import volume_access
from arrays.admission import Admissions
from arrays.join import join_remembered, join_snapshot
from arrays.volume_access import VOLUME_ACCESS, RecordMemo, _Evaluation
from inventory.models import Cluster, InventoryObject, Snapshot
from inventory.state import DERIVED_SCOPE
from inventory.tasks import snapshot_now
from tests.cases.runner import TAKEN_AT
from tests.test_derivation_caches import nodes
from tests.test_incremental_analysis import assert_same_as_full_analysis
from tests.test_join_cases import lif, nfs_state, pv, rule, volume
from tests.test_kept_reuse import clusters_of_one_estate

RULES = [rule(1, "10.20.0.5")]


def two_volume_state(rules=RULES, second_path="/data"):
    """Two static NFS PVs on one export and an inline NFS volume of a pod."""
    state = nfs_state(rules)
    state.objects["PersistentVolume"][("", "other")] = pv(
        "other", "team-b", nfs={"server": "192.0.2.31", "path": second_path}
    )
    state.objects["Pod"] = {
        ("team-a", "web"): {
            "metadata": {"namespace": "team-a", "name": "web"},
            "spec": {"volumes": [{"name": "v", "nfs": {"server": "192.0.2.31", "path": "/data"}}]},
        }
    }
    return state


def resolutions(joined) -> dict:
    return {**joined.volumes, **{r.subject: r for r in joined.inline}}


def test_a_volume_whose_inputs_are_equal_keeps_its_resolution():
    first, memo = join_remembered(two_volume_state(), None)
    again, _ = join_remembered(two_volume_state(), memo)  # equal objects, not the same ones
    assert all(resolutions(again)[name] is r for name, r in resolutions(first).items())
    assert again == join_snapshot(two_volume_state())


def test_a_changed_volume_is_resolved_anew_and_the_others_kept():
    first, memo = join_remembered(two_volume_state(), None)
    changed = two_volume_state(second_path="/elsewhere")
    again, _ = join_remembered(changed, memo)
    assert again.volumes["other"] is not first.volumes["other"]
    assert again.volumes["other"].problem.startswith("no volume of svm_nfs")
    assert again.volumes["nfs"] is first.volumes["nfs"]
    assert again == join_snapshot(changed)


@pytest.mark.parametrize(
    "change",
    [
        lambda s: (
            s.arrays["a"].by_kind["ontap.ExportPolicy"]["svm_nfs/p"].update(rules=[rule(1, "0.0.0.0/0")])
        ),
        lambda s: s.arrays["a"].by_kind["ontap.Interface"].update(lif("svm_nfs", "192.0.2.99")),
        lambda s: s.arrays["a"].by_kind["ontap.Volume"].update(volume("svm_nfs", "data", "/moved", "p")),
        lambda s: s.objects.setdefault("TridentNode", {}).update({("", "n"): {"name": "n", "iqn": "iqn.x"}}),
        lambda s: s.snapshot.facts.update(backends={"u-1": {"array": "a"}}),
    ],
    ids=["export-policy", "data-lif", "junction-path", "trident-node", "backend-links"],
)
def test_anything_else_the_join_reads_changed_resolves_every_volume_anew(change):
    first, memo = join_remembered(two_volume_state(), None)
    changed = two_volume_state()
    change(changed)
    again, _ = join_remembered(changed, memo)
    assert not any(resolutions(again)[name] is r for name, r in resolutions(first).items())
    assert again == join_snapshot(changed)


def test_the_array_objects_a_kept_resolution_uses_still_count_as_used():
    state = two_volume_state(second_path="/used")
    for name in ("trident_used", "trident_spare"):
        state.arrays["a"].by_kind["ontap.Volume"].update(volume("svm_nfs", name, f"/{name[8:]}", "p"))
    state.objects["TridentBackend"] = {
        ("trident", "tbe"): {
            "metadata": {"name": "tbe", "namespace": "trident"},
            "backendName": "nas",
            "backendUUID": "u-1",
            "config": {"ontap_config": {"storageDriverName": "ontap-nas", "svm": "svm_nfs"}},
        }
    }
    state.snapshot.facts["backends"] = {"u-1": {"array": "a"}}
    first, memo = join_remembered(state, None)
    assert [u["name"] for u in first.unbacked] == ["svm_nfs/trident_spare"]
    # Another PV gone: what is used changed, and the volume the kept resolution uses is still used.
    again_state = copy.deepcopy(state)
    del again_state.objects["PersistentVolume"][("", "nfs")]
    again, _ = join_remembered(again_state, memo)
    assert again.volumes["other"] is first.volumes["other"]
    assert [u["name"] for u in again.unbacked] == ["svm_nfs/trident_spare"]
    assert again == join_snapshot(again_state)


@pytest.mark.django_db
def test_a_kept_resolution_is_evaluated_anew_against_other_nodes():
    resolution = join_snapshot(two_volume_state()).volumes["nfs"]
    key = ("team-a", "nfs")
    first = _Evaluation(0, Admissions(nodes("10.20.0.5"), "worker at .5"))
    _, whole = first(VOLUME_ACCESS, key, resolution)
    assert [p["verdict"] for p in whole["admitted"]] == ["node"]
    memo = RecordMemo("worker at .5", first.made)
    same = _Evaluation(0, Admissions(nodes("10.20.0.5"), "worker at .5"), memo)
    assert same(VOLUME_ACCESS, key, resolution)[1] is whole
    assert ("", whole["party_lists"][0]) in same.parties.segments  # its parties are stored too
    moved = _Evaluation(0, Admissions(nodes("192.0.2.9"), "worker at 192.0.2.9"), memo)
    _, anew = moved(VOLUME_ACCESS, key, resolution)
    assert [p["verdict"] for p in anew["admitted"]] != ["node"]


def _derived_versions(cluster: Cluster) -> dict:
    return {
        (o.kind, o.namespace, o.name): (o.digest, o.data)
        for o in InventoryObject.objects.current().filter(cluster=cluster, scope=DERIVED_SCOPE)
    }


@pytest.mark.django_db
def test_live_derivations_store_what_deriving_anew_gives(tmp_path):
    """Through the real clients, a simulated estate over three weeks (a claim created and deleted, a
    node retired, an export policy widened on the array, pods and claims churning): after every
    snapshot, a cluster whose worker remembers its last derivation stores the same access records,
    parties and summaries, and the same join facts, as a second cluster of the same estate derived
    anew each time; and where the arrays and nodes stood still, most resolutions were kept."""
    with clusters_of_one_estate(tmp_path, "remembering", "anew") as (simulation, remembering, anew):
        kept_shares = []
        for days, fraction in ((None, None), (6.5, 0.0), (6.6, 0.05), (20.5, 0.0), (20.6, 0.1), (22, 0.0)):
            if days is not None:
                simulation.advance_to(TAKEN_AT + timedelta(days=days))
                simulation.churn(fraction)
            before = volume_access._LAST_DERIVATION.get(remembering.pk)
            mine = snapshot_now(remembering)
            volume_access._LAST_DERIVATION.pop(anew.pk)  # nothing to reuse: derived anew
            theirs = snapshot_now(anew)
            assert mine.status == theirs.status == Snapshot.Status.COMPLETE
            assert _derived_versions(remembering) == _derived_versions(anew) != {}
            assert mine.facts["join"] == theirs.facts["join"]
            after = volume_access._LAST_DERIVATION.get(remembering.pk)
            if before is not None:
                kept = [work for name, work in after[0].pvs.items() if before[0].pvs.get(name) is work]
                kept_shares.append(len(kept) / len(after[0].pvs))
        # The first derivation remembered nothing; some later ones' arrays or nodes moved (all anew).
        assert max(kept_shares) > 0.9 and min(kept_shares) == 0.0, kept_shares


@pytest.fixture
def derivations(monkeypatch):
    """The snapshots ((cluster id, seq)) whose access records were derived, not taken from the last
    derivation."""
    derived: list[tuple[int, int]] = []
    derive_all = volume_access._derive_all

    def spy(state, cluster_id, memos):
        derived.append((state.snapshot.cluster_id, state.snapshot.seq))
        return derive_all(state, cluster_id, memos)

    monkeypatch.setattr(volume_access, "_derive_all", spy)
    return derived


def _toggle_run_as_user(pod: dict) -> None:
    security = pod["spec"].setdefault("securityContext", {})
    security["runAsUser"] = 1001 if security.get("runAsUser") == 1000 else 1000


@pytest.mark.django_db
def test_records_whose_inputs_did_not_change_are_taken_from_the_last_derivation(tmp_path, derivations):
    """Pods' runAsUser, claims' share annotations and bindings' subjects changed (fields the join
    does not read), after a quiet snapshot: the records the worker's last derivation made are the
    records, nothing derived or written, and they are what deriving anew gives."""
    with clusters_of_one_estate(tmp_path, "remembering", "anew") as (simulation, remembering, anew):
        snapshot_now(remembering)
        for fraction in (0.0, 0.05, 0.05):  # quiet, then two churns in fields the join does not read
            simulation.advance_to(simulation.clock + timedelta(minutes=10))
            simulation.churn(fraction)
            mine = snapshot_now(remembering)
            assert mine.rows_written["inserted"] > 0 or not fraction
            volume_access._LAST_DERIVATION.pop(anew.pk)
            theirs = snapshot_now(anew)
            assert _derived_versions(remembering) == _derived_versions(anew) != {}
            assert mine.facts["join"] == theirs.facts["join"]
            assert assert_same_as_full_analysis(mine)
        assert [seq for cluster_id, seq in derivations if cluster_id == remembering.pk] == [1]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "between",
    [
        "a volume's export moved",
        "a node relabelled",
        "another run in between",
        "a partial snapshot before",
    ],
)
def test_records_are_derived_anew_when_they_may_not_stand(tmp_path, derivations, between):
    with clusters_of_one_estate(tmp_path, "remembering") as (simulation, cluster):
        snapshot_now(cluster)
        simulation.advance_to(simulation.clock + timedelta(minutes=10))
        pods = [p for p in simulation.stored("Pod") if p["metadata"]["namespace"] != "kube-system"]
        simulation.change(pods[0], _toggle_run_as_user)  # a field the join does not read, and:
        if between == "a volume's export moved":
            claimed = next(pv for pv in simulation.stored("PersistentVolume") if pv["spec"].get("nfs"))
            simulation.change(claimed, lambda o: o["spec"]["nfs"].update(path="/moved"))
        elif between == "a node relabelled":
            node = next(iter(simulation.stored("Node")))
            simulation.change(
                node, lambda o: o["metadata"]["labels"].update({"node-role.kubernetes.io/x": ""})
            )
        elif between == "another run in between":
            _, memo = volume_access._LAST_DERIVATION.get(cluster.pk)
            memo.made_for = (0, 0, None)  # as if another worker had snapshotted the cluster since
        else:
            Snapshot.objects.filter(cluster=cluster).update(unread={"Role": "forbidden"}, status="partial")
        second = snapshot_now(cluster)
        assert second.status == Snapshot.Status.COMPLETE
        assert derivations == [(cluster.pk, 1), (cluster.pk, 2)]
        assert assert_same_as_full_analysis(second)


def test_the_last_records_stand_only_for_the_next_run_reading_as_much_as_the_last(monkeypatch):
    state = two_volume_state()
    monkeypatch.setattr(volume_access, "run_of", lambda snapshot: snapshot.run)
    previous = SimpleNamespace(run="last", unread={}, facts={"backends": {"u-1": {"array": "a"}}, "join": {}})

    def reused(memo=None, **now):
        now = {"run": "next", "unread": {}, "facts": {"backends": {"u-1": {"array": "a"}}}, **now}
        memo = memo or RecordMemo(volume_access._node_inputs(state), {}, made_for="last")
        return volume_access._reused(SimpleNamespace(**now), previous, state, memo)

    assert reused() is not None
    assert reused(unread={"Pod": "forbidden"}) is None  # what it did not read may have changed
    assert reused(facts={"backends": {"u-1": {"array": "b"}}}) is None  # a backend linked elsewhere
    assert reused(RecordMemo("other nodes", {}, made_for="last")) is None
    assert reused(RecordMemo(volume_access._node_inputs(state), {}, made_for="another")) is None
