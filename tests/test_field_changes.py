"""The change set at the grain of a field: which kept fields of an object changed, which rules read
each, and what a snapshot's writes of a kind add to the change set (inventory/field_changes.py,
inventory/history.py)."""

import copy

import pytest

from exposure.rules import ALL_RULES
from inventory import history
from inventory.field_changes import changed_fields, fields_of, readers_of
from inventory.history import StoredObject, change_set_of, write_versions
from inventory.kept_fields import digest, keep
from inventory.models import Cluster
from tests.factories import pod
from tests.test_history import snap

RULES = {rule.slug: rule for rule in ALL_RULES}


def kept_pod(**spec) -> dict:
    return keep("Pod", pod("web-1", "team-a", **spec))


def test_a_field_is_its_path_up_to_the_first_list_or_filtered_mapping():
    pod_fields = fields_of("Pod")
    assert {"spec.containers", "spec.securityContext", "metadata.labels", "status.phase"} <= set(pod_fields)
    assert "spec.containers.securityContext" not in pod_fields


def test_a_field_inside_another_is_part_of_it_and_serves_both_purposes():
    backend_fields = fields_of("TridentBackend")
    assert "config.ontap_config" in backend_fields
    assert "config.ontap_config.defaults" not in backend_fields  # folded into config.ontap_config
    assert backend_fields["config.ontap_config"] is None  # identity among its purposes: every reader


def test_readers_are_the_rules_named_and_everyone_for_a_purpose():
    assert readers_of("Pod", "spec.securityContext") == {"uid-gid-not-a-boundary"}
    assert readers_of("Pod", "spec.nodeName") is None  # every rule's view of a pod
    assert readers_of("Pod", "spec.nothingKept") is None
    assert readers_of("NoSuchKind", "spec") is None


def test_the_fields_that_changed_are_told_apart():
    before = kept_pod(securityContext={"runAsUser": 1000})
    assert changed_fields("Pod", before, copy.deepcopy(before)) == set()
    after = kept_pod(securityContext={"runAsUser": 1001})
    assert changed_fields("Pod", before, after) == {"spec.securityContext"}
    relabelled = copy.deepcopy(after)
    relabelled["metadata"]["labels"] = {"app": "web"}
    assert changed_fields("Pod", before, relabelled) == {"spec.securityContext", "metadata.labels"}


def test_a_mapping_on_the_way_absent_on_one_side_reads_as_empty():
    before = kept_pod(hostNetwork=True)
    after = copy.deepcopy(before)
    del after["spec"]
    assert changed_fields("Pod", before, after) == {"spec.hostNetwork", "spec.nodeName", "spec.containers"}


@pytest.mark.parametrize(
    "odd",
    [
        lambda data: data.update(spec="not a mapping"),  # a shape no kept path has
        lambda data: data["spec"].update(notKept=1),  # a key only another schema kept
    ],
    ids=["odd shape", "unknown key"],
)
def test_what_cannot_be_told_apart_field_by_field_is_a_change_of_the_whole_object(odd):
    before = kept_pod()
    after = copy.deepcopy(before)
    odd(after)
    assert changed_fields("Pod", before, after) is None
    assert changed_fields("NoSuchKind", before, before) is None


def test_a_rule_is_changed_by_its_kinds_and_by_the_fields_that_serve_it():
    uid_gid, host_network = RULES["uid-gid-not-a-boundary"], RULES["host-network"]
    run_as_user = frozenset({"Pod:spec.securityContext"})
    assert uid_gid.changed_by(run_as_user) and not host_network.changed_by(run_as_user)
    assert uid_gid.changed_by(frozenset({"Pod"})) and host_network.changed_by(frozenset({"Pod"}))
    assert host_network.changed_by(frozenset({"Pod:spec.nodeName"}))
    shares = frozenset({"PersistentVolumeClaim:metadata.annotations"})
    assert RULES["volume-shared-by-annotation"].changed_by(shares) and not host_network.changed_by(shares)
    assert not RULES["pv-released-retained"].changed_by(frozenset({"Pod:spec.nodeName"}))


@pytest.mark.django_db
class TestChangeSetOfAKind:
    def written(self, cluster, seq, pods):
        kept = {("team-a", p["metadata"]["name"]): keep("Pod", p) for p in pods}
        objects = {key: StoredObject("", data, digest(data)) for key, data in kept.items()}
        return write_versions(cluster.pk, seq, "Pod", objects), kept

    def test_objects_changed_in_place_give_their_fields(self):
        cluster = Cluster.objects.create(name="fields")
        stats, kept = self.written(cluster, 1, [pod("web-1", "team-a"), pod("web-2", "team-a")])
        assert change_set_of("Pod", stats, kept) == {"Pod"}  # every object new
        changed = pod("web-2", "team-a", securityContext={"runAsUser": 1001})
        stats, kept = self.written(cluster, 2, [pod("web-1", "team-a"), changed])
        assert change_set_of("Pod", stats, kept) == {"Pod:spec.securityContext"}
        stats, kept = self.written(cluster, 3, [pod("web-1", "team-a"), changed])
        assert change_set_of("Pod", stats, kept) == set()  # nothing written

    def test_an_object_that_appears_or_goes_changes_the_kind(self):
        cluster = Cluster.objects.create(name="fields")
        self.written(cluster, 1, [pod("web-1", "team-a")])
        edited = pod("web-1", "team-a", hostNetwork=True)
        stats, kept = self.written(cluster, 2, [edited, pod("web-2", "team-a")])
        assert change_set_of("Pod", stats, kept) == {"Pod"}
        stats, kept = self.written(cluster, 3, [pod("web-2", "team-a")])
        assert change_set_of("Pod", stats, kept) == {"Pod"}

    def test_too_many_to_compare_changes_the_kind(self, monkeypatch):
        cluster = Cluster.objects.create(name="fields")
        self.written(cluster, 1, [pod("web-1", "team-a"), pod("web-2", "team-a")])
        monkeypatch.setattr(history, "MOST_COMPARED", 1)
        stats, kept = self.written(
            cluster, 2, [pod(f"web-{n}", "team-a", securityContext={"runAsUser": 7}) for n in (1, 2)]
        )
        assert change_set_of("Pod", stats, kept) == {"Pod"}


@pytest.mark.django_db
def test_a_snapshot_changing_a_pod_in_place_re_runs_only_the_rules_reading_that_field():
    cluster = Cluster.objects.create(name="in-place")
    base = [pod("web-1", "team-a", securityContext={"runAsUser": 1000}), pod("web-2", "team-b")]
    snap(cluster, base)
    second = snap(cluster, base)  # unchanged: a quiet snapshot
    assert second.facts["analysis"].get("reused")
    changed = [pod("web-1", "team-a", securityContext={"runAsUser": 1001}), base[1]]
    carried = set(snap(cluster, changed).facts["analysis"]["carried"])
    assert "host-network" in carried and "privileged-container" in carried
    assert "uid-gid-not-a-boundary" not in carried
