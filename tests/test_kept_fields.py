"""What is kept of each object: every rule's inputs, no volatile fields, no secrets."""

from inventory.kept_fields import JOIN, KEPT_FIELDS, PURPOSES, keep
from inventory.kinds import KIND_NAMES
from inventory.secrets import without_secrets
from tests.factories import obj, pod
from tests.rules_md import rule_slugs


def test_every_kind_read_has_a_field_list():
    assert set(KEPT_FIELDS) == set(KIND_NAMES)


def test_every_purpose_named_is_a_rule_or_a_declared_purpose():
    slugs = rule_slugs()
    purposes = {p for fields in KEPT_FIELDS.values() for f in fields for p in f.serves}
    declared = {"identity", "at-least-since", "fingerprint", "display", "ownership", "trust-inputs"}
    declared |= {"platform workloads", "pod views"}
    assert declared == PURPOSES  # each read by any rule reading its kind (inventory/field_changes.py)
    assert purposes - slugs - declared == {JOIN}  # the access records' derivation, no rule's purpose


def test_pod_keeps_security_relevant_spec_and_drops_volatile_status():
    raw = pod(
        "web-1",
        "team-a",
        hostNetwork=True,
        volumes=[{"name": "data", "nfs": {"server": "192.0.2.20", "path": "/vol1"}}],
    )
    raw["metadata"]["ownerReferences"] = [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d8f", "uid": "u1", "controller": True}
    ]
    raw["metadata"]["managedFields"] = [{"manager": "kubelet"}]
    raw["spec"]["containers"][0]["securityContext"] = {
        "privileged": True,
        "capabilities": {"add": ["SYS_ADMIN"]},
    }
    raw["status"].update({"containerStatuses": [{"restartCount": 4}], "conditions": [{"type": "Ready"}]})
    kept = keep("Pod", raw)
    assert kept["spec"]["hostNetwork"] is True
    assert kept["spec"]["volumes"][0]["nfs"]["server"] == "192.0.2.20"
    assert kept["spec"]["containers"][0] == {
        "name": "app",
        "securityContext": raw["spec"]["containers"][0]["securityContext"],
    }
    assert kept["metadata"]["ownerReferences"] == [
        {"kind": "ReplicaSet", "name": "web-5d8f", "uid": "u1", "controller": True}
    ]
    assert kept["status"] == {"phase": "Running"}
    assert "resourceVersion" not in kept["metadata"] and "managedFields" not in kept["metadata"]


def test_node_keeps_addresses_not_heartbeats():
    raw = obj(
        "Node",
        "worker-1",
        spec={"podCIDR": "10.244.1.0/24"},
        status={
            "addresses": [{"type": "InternalIP", "address": "192.0.2.11"}],
            "conditions": [{"type": "Ready", "lastHeartbeatTime": "2026-01-01T00:00:00Z"}],
        },
    )
    kept = keep("Node", raw)
    assert kept["status"] == {"addresses": [{"type": "InternalIP", "address": "192.0.2.11"}]}
    assert kept["spec"] == {"podCIDR": "10.244.1.0/24"}


def test_namespace_keeps_labels_and_owner_annotations_but_not_last_applied():
    raw = obj(
        "Namespace",
        "team-a",
        metadata={
            "labels": {"capsule.clastix.io/tenant": "a", "pod-security.kubernetes.io/enforce": "baseline"},
            "annotations": {
                "owner.example.com/email": "alice@example.com",
                "kubectl.kubernetes.io/last-applied-configuration": '{"huge": true}',
            },
        },
    )
    kept = keep("Namespace", raw)
    assert kept["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert kept["metadata"]["annotations"] == {"owner.example.com/email": "alice@example.com"}


def test_trident_backend_keeps_policy_settings_and_only_secret_names():
    raw = obj(
        "TridentBackend",
        "tbe-1",
        "trident",
        backendUUID="b1",
        config={
            "ontap_config": {
                "storageDriverName": "ontap-nas",
                "svm": "svm_k8s",
                "username": "secret:backend-creds",
                "password": "secret:backend-creds",
                "chapInitiatorSecret": "plain-text-chap",
                "autoExportPolicy": True,
                "autoExportCIDRs": ["0.0.0.0/0"],
                "useCHAP": False,
                "defaults": {"exportPolicy": "<automatic>", "unixPermissions": "---rwxrwxrwx"},
            }
        },
    )
    kept = keep("TridentBackend", raw)["config"]["ontap_config"]
    assert kept["autoExportCIDRs"] == ["0.0.0.0/0"] and kept["useCHAP"] is False
    assert kept["defaults"] == {"exportPolicy": "<automatic>", "unixPermissions": "---rwxrwxrwx"}
    assert "password" not in kept and "username" not in kept and "chapInitiatorSecret" not in kept


def test_scrub_removes_secret_keys_anywhere_and_url_credentials():
    dirty = {
        "a": [{"iscsiTargetSecret": "x", "keep": 1}],
        "url": "https://admin:hunter2@198.51.100.5/json-rpc/8.0",
        "volumes": [{"csi": {"volumeAttributes": {"password": "p"}}}],
    }
    clean = without_secrets(dirty)
    assert clean == {
        "a": [{"keep": 1}],
        "url": "https://198.51.100.5/json-rpc/8.0",
        "volumes": [{"csi": {"volumeAttributes": {}}}],
    }


def test_odd_shapes_do_not_crash_and_keep_nothing_wrong():
    raw = {"kind": "Pod", "metadata": {"name": "x", "namespace": "n"}, "spec": {"containers": "not-a-list"}}
    assert keep("Pod", raw) == {"metadata": {"name": "x", "namespace": "n"}, "spec": {}}
    assert keep("Pod", {"kind": "Pod", "metadata": "nonsense"}) == {}


def test_an_array_records_odd_shapes_are_kept_as_answered_not_dropped():
    """Dropped, an igroup answered with `initiators: "not-a-list"` would read as an igroup listing no
    one; kept, the join reports it unreadable (unverifiable).  Secrets are still scrubbed."""
    raw = {"name": "hosts", "initiators": "not-a-list", "igroups": [{"name": "inner"}, 7]}
    assert keep("ontap.Igroup", raw) == raw
    odd = {"name": "g", "initiators": {"name": "iqn.x", "chap_password": "s3cret"}}
    assert keep("ontap.Igroup", odd) == {"name": "g", "initiators": {"name": "iqn.x"}}
    rules = {"name": "p", "rules": [{"index": 1, "clients": "everyone"}, "rule 2"]}
    assert keep("ontap.ExportPolicy", rules)["rules"] == rules["rules"]


def test_one_look_at_the_whole_object_keeps_what_scrubbing_each_part_keeps():
    """keep() projects without scrubbing and scrubs only when the whole result may hold a secret:
    the same as scrubbing every value kept whole, wherever a secret sits (labels are never scrubbed)."""
    from inventory.kept_fields import _PROJECTIONS

    secrets = [
        {"chap-secret": "s1", "owner": "x"},
        {"url": "https://admin:pw@198.51.100.5/"},
        {"url": 'https://admin:pa"ss@198.51.100.5/'},
        {"apiKey": ["s2"], "keep": {"useCHAP": True}},
        {"nested": [{"token": {"x": 1}}]},
        {"labels": {"api-key": "kept"}},
        {"plain": "nothing secret"},
    ]
    for value in secrets:
        objects = {
            "Namespace": {"metadata": {"name": "a", "annotations": value, "labels": value}},
            "Pod": {
                "metadata": {"name": "p", "namespace": "a", "labels": value},
                "spec": {"volumes": [{"name": "v", "csi": {"volumeAttributes": value}}], "nodeName": value},
            },
            "StorageClass": {"metadata": {"name": "sc"}, "parameters": value},
            "ontap.Igroup": {"name": "g", "initiators": [value, {"name": "iqn.x", **value}]},
        }
        for kind, raw in objects.items():
            assert keep(kind, raw) == (_PROJECTIONS[kind].scrubbing(raw) or {}), (kind, value)


def test_kept_fields_equal_to_the_stored_version_need_no_new_look(monkeypatch):
    """An object unchanged since it was stored is that stored version (looked at when stored); any
    change, a secret added included, is looked at again."""
    from inventory import kept_fields

    raw = {"metadata": {"name": "a", "annotations": {"owner": "x"}}}
    kept, canonical, stored_digest = kept_fields.keep_serialised("Namespace", raw)
    looks = []
    real = kept_fields.might_hold_secrets
    monkeypatch.setattr(kept_fields, "might_hold_secrets", lambda blob: looks.append(blob) or real(blob))
    assert kept_fields.keep_serialised("Namespace", raw, stored_digest) == (kept, canonical, stored_digest)
    assert looks == []
    raw["metadata"]["annotations"]["example.com/chap-secret"] = "s1"
    changed, _, digested = kept_fields.keep_serialised("Namespace", raw, stored_digest)
    assert looks and changed == kept and digested == stored_digest


def test_objects_kept_share_one_copy_of_each_repeated_string_and_leave_the_raw_object_alone():
    def raw(name):
        made = pod(
            name, "".join(["team", "-a"]), volumes=[{"name": "kube-api", "projected": {"sources": []}}]
        )
        made["spec"]["containers"][0]["volumeMounts"] = [
            {"name": "kube-api", "mountPath": "".join(["/var/run/secrets/", "kubernetes.io"])}
        ]
        made["spec"]["containers"][0]["securityContext"] = {"capabilities": {"drop": ["".join(["AL", "L"])]}}
        return made

    first, second = raw("web-1"), raw("web-2")
    before = repr(first)
    a, b = keep("Pod", first), keep("Pod", second)
    assert a["metadata"]["namespace"] is b["metadata"]["namespace"]
    mounts = [kept["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] for kept in (a, b)]
    assert mounts[0] is mounts[1]
    drops = [kept["spec"]["containers"][0]["securityContext"]["capabilities"]["drop"][0] for kept in (a, b)]
    assert drops[0] is drops[1]
    assert repr(first) == before


def test_a_version_stored_under_older_rules_is_looked_at_again_though_unchanged(monkeypatch):
    """The look is skipped only for a version stored under today's SCHEMA_VERSION: a version stored
    before a rule was tightened may hold what the rule now drops."""
    from inventory import history, kept_fields

    raw = {"metadata": {"name": "a", "annotations": {"owner": "x"}}}
    _, _, stored_digest = kept_fields.keep_serialised("Namespace", raw)
    looks = []
    real = kept_fields.might_hold_secrets
    monkeypatch.setattr(kept_fields, "might_hold_secrets", lambda blob: looks.append(blob) or real(blob))
    key = ("", "a")
    history.stored_form("Namespace", raw, {key: (1, stored_digest, True)})
    assert looks == []
    history.stored_form("Namespace", raw, {key: (1, stored_digest, False)})
    assert len(looks) == 1
