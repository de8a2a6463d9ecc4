"""The join on hand-built inputs: shapes the simulated estate does not produce."""

from types import SimpleNamespace

import pytest

from arrays.admission import Admissions
from arrays.join import join_snapshot
from arrays.node_set import NodeSet
from arrays.volume_access import record
from inventory.state import ArrayRecords, SnapshotState

NODE_IQN = "iqn.1994-05.com.redhat:worker-1"


def state(objects: dict, arrays: dict[str, dict], backends: dict | None = None) -> SnapshotState:
    indexed = {
        kind: {(o.get("metadata", {}).get("namespace", ""), name): o for name, o in items.items()}
        for kind, items in objects.items()
    }
    records = {}
    for array, kinds in arrays.items():
        records[array] = ArrayRecords(array)
        for kind, items in kinds.items():
            records[array].by_kind[kind].update(items)
    return SnapshotState(SimpleNamespace(facts={"backends": backends or {}}), indexed, records, {})


def nodes() -> NodeSet:
    node = {
        "metadata": {"name": "worker-1"},
        "status": {"addresses": [{"type": "InternalIP", "address": "10.20.0.5"}]},
    }
    tnode = {"metadata": {"name": "worker-1"}, "name": "worker-1", "iqn": NODE_IQN, "ips": ["10.20.0.5"]}
    return NodeSet.from_objects([node], [tnode])


def pv(name, namespace="team-a", **spec):
    return {
        "metadata": {"name": name},
        "spec": {"claimRef": {"namespace": namespace, "name": "data"}, **spec},
    }


def export_policy(svm, name, *rules):
    return {f"{svm}/{name}": {"name": name, "svm": {"name": svm}, "rules": list(rules)}}


def rule(index, match, **flavors):
    return {"index": index, "clients": [{"match": match}], "ro_rule": ["sys"], "rw_rule": ["sys"], **flavors}


def lif(svm, address):
    return {f"{svm}/lif1": {"name": "lif1", "svm": {"name": svm}, "ip": {"address": address}}}


def volume(svm, name, path, policy):
    return {
        f"{svm}/{name}": {
            "name": name,
            "svm": {"name": svm},
            "nas": {"path": path, "export_policy": {"name": policy}},
        }
    }


def solidfire_state():
    backend = {
        "metadata": {"name": "tbe-sf", "namespace": "trident"},
        "backendName": "sf",
        "backendUUID": "u-sf",
        "config": {"solidfire_config": {"storageDriverName": "solidfire-san", "SVIP": "198.51.100.6:3260"}},
    }
    tvol = {
        "metadata": {"name": "pvc-1", "namespace": "trident"},
        "backendUUID": "u-sf",
        "config": {"internalName": "pvc-1"},
    }
    csi = {"driver": "csi.trident.netapp.io", "volumeHandle": "pvc-1"}
    arrays = {
        "sf-a": {
            "solidfire.Volume": {"7/pvc-1": {"volumeID": 7, "name": "pvc-1", "accountID": 3}},
            "solidfire.Account": {"3/tenant-a": {"accountID": 3, "username": "tenant-a"}},
            "solidfire.VolumeAccessGroup": {
                "1/legacy": {
                    "volumeAccessGroupID": 1,
                    "name": "legacy",
                    "volumes": [7],
                    "initiators": [NODE_IQN.upper(), "iqn.1998-01.com.vmware:esx-9"],
                }
            },
        }
    }
    objects = {
        "PersistentVolume": {"pvc-1": pv("pvc-1", csi=csi)},
        "TridentBackend": {"tbe-sf": backend},
        "TridentVolume": {"pvc-1": tvol},
    }
    return state(objects, arrays, {"u-sf": {"array": "sf-a"}})


def test_solidfire_volume_in_an_access_group_and_its_chap_account():
    resolution = join_snapshot(solidfire_state()).volumes["pvc-1"]
    assert resolution.object_kind == "solidfire.Volume"
    parties = {p["party"]: p for p in Admissions(nodes()).of(resolution)}
    assert parties["tenant-a"]["verdict"] == "chap-account"
    assert parties[NODE_IQN.upper()]["verdict"] == "node"  # IQNs compare without case
    assert parties["iqn.1998-01.com.vmware:esx-9"]["verdict"] == "foreign"


def test_nested_igroups_in_a_cycle_are_expanded_once():
    igroups = {
        "hosts": {"initiators": [], "igroups": [{"name": "inner"}]},
        "inner": {"initiators": [{"name": NODE_IQN}], "igroups": [{"name": "hosts"}]},
    }
    resolution = join_snapshot(lun_state(igroups)).volumes["lun"]
    assert resolution.path == "static-iscsi" and resolution.object_name == "svm_san//vol/v1/lun0"
    [party] = Admissions(nodes()).of(resolution)
    assert party["verdict"] == "node" and "nested igroup inner" in party["via"]


def test_static_nfs_path_nested_below_junctions_and_the_root_policy_blocks():
    svm = "svm_nfs"
    arrays = {
        "a": {
            "ontap.Interface": lif(svm, "192.0.2.31"),
            "ontap.Volume": {
                **volume(svm, "root", "/", "root_policy"),
                **volume(svm, "exports", "/exports", "open"),
                **volume(svm, "team", "/exports/team", "open"),
            },
            "ontap.ExportPolicy": {
                **export_policy(svm, "root_policy", rule(1, "10.20.0.0/16")),
                **export_policy(svm, "open", rule(1, "0.0.0.0/0", superuser=["sys"])),
            },
        }
    }
    objects = {
        "PersistentVolume": {
            "team-nfs": pv("team-nfs", nfs={"server": "192.0.2.31", "path": "//exports/team/./sub/"})
        }
    }
    resolution = join_snapshot(state(objects, arrays)).volumes["team-nfs"]
    assert resolution.object_name == f"{svm}/team"  # a path nested under a junction belongs to that volume
    assert [g.role for g in resolution.gates] == ["volume policy", "parent junction /exports", "SVM root /"]
    parties = Admissions(nodes()).of(resolution)
    # The volume admits everyone, but the root policy only the node network: that is all that reaches it.
    assert [p["addresses"] for p in parties] == [["10.20.0.0/16"]]
    assert parties[0]["verdict"] == "foreign" and parties[0]["access"] == "root"


def test_an_nfs_server_given_by_name_is_never_resolved():
    objects = {
        "PersistentVolume": {"by-name": pv("by-name", nfs={"server": "filer.example.com", "path": "/x"})}
    }
    resolution = join_snapshot(state(objects, {"a": {"ontap.Interface": lif("s", "192.0.2.9")}})).volumes[
        "by-name"
    ]
    assert resolution.array_status == "not joined"
    assert "not a data LIF" in resolution.problem


# --- access control the array answered in a shape that cannot be read ---------------------------


def lun_state(igroups: dict) -> SnapshotState:
    svm = "svm_san"
    arrays = {
        "a": {
            "ontap.Interface": lif(svm, "198.51.100.11"),
            "ontap.Lun": {f"{svm}//vol/v1/lun0": {"name": "/vol/v1/lun0", "svm": {"name": svm}}},
            "ontap.LunMap": {
                "m": {
                    "svm": {"name": svm},
                    "lun": {"name": "/vol/v1/lun0"},
                    "igroup": {"name": "hosts"},
                    "logical_unit_number": 4,
                }
            },
            "ontap.Igroup": {f"{svm}/{name}": {"name": name, **fields} for name, fields in igroups.items()},
        }
    }
    objects = {"PersistentVolume": {"lun": pv("lun", iscsi={"targetPortal": "198.51.100.11:3260", "lun": 4})}}
    return state(objects, arrays)


def verdicts(resolution) -> dict[str, str]:
    return {p["party"]: p["verdict"] for p in Admissions(nodes()).of(resolution)}


@pytest.mark.parametrize(
    ("igroups", "reason"),
    [
        ({"hosts": {"initiators": "not-a-list"}}, "`initiators` is 'not-a-list', not a list"),
        ({"hosts": {"initiators": {"name": NODE_IQN}}}, "not a list"),
        ({"hosts": {"initiators": [{"name": NODE_IQN}, {"name": 7}]}}, "an initiator without a name"),
        ({"hosts": {"initiators": [{"name": NODE_IQN}], "igroups": "inner"}}, "`igroups` is 'inner'"),
        (
            {"hosts": {"initiators": [{"name": NODE_IQN}], "igroups": [{"name": "gone"}]}},
            "igroup gone is not",
        ),
        ({}, "igroup hosts is not in the array's answer"),
    ],
)
def test_an_igroup_that_cannot_be_read_admits_unknown_hosts_never_no_one(igroups, reason):
    resolution = join_snapshot(lun_state(igroups)).volumes["lun"]
    [gate] = resolution.gates
    assert any(reason in problem for problem in gate.unreadable), gate.unreadable
    assert verdicts(resolution)["(unreadable)"] == "unverifiable"
    if NODE_IQN in gate.initiators:  # what could be read is still judged
        assert verdicts(resolution)[NODE_IQN] == "node"


def test_a_readable_igroup_has_nothing_unreadable():
    resolution = join_snapshot(lun_state({"hosts": {"initiators": [{"name": NODE_IQN}]}})).volumes["lun"]
    assert resolution.gates[0].unreadable == []
    assert verdicts(resolution) == {NODE_IQN: "node"}


def test_an_nvme_subsystem_whose_hosts_cannot_be_read_is_unverifiable():
    svm = "svm_nvme"
    backend = {
        "metadata": {"name": "tbe-nvme", "namespace": "trident"},
        "backendName": "nvme",
        "backendUUID": "u-nvme",
        "config": {"ontap_config": {"storageDriverName": "ontap-san", "svm": svm, "sanType": "nvme"}},
    }
    tvol = {
        "metadata": {"name": "pvc-9"},
        "backendUUID": "u-nvme",
        "config": {"internalName": "trident_pvc_9"},
    }
    namespace = {"name": "/vol/trident_pvc_9/namespace0", "uuid": "ns-uuid", "svm": {"name": svm}}
    arrays = {
        "n": {
            "ontap.NvmeNamespace": {f"{svm}//vol/trident_pvc_9/namespace0": namespace},
            "ontap.NvmeSubsystemMap": {
                "m": {"namespace": {"name": namespace["name"]}, "subsystem": {"name": "sub"}}
            },
            "ontap.NvmeSubsystem": {f"{svm}/sub": {"name": "sub", "hosts": "nqn.2014-08.org.example:h"}},
        }
    }
    objects = {
        "PersistentVolume": {
            "pvc-9": pv("pvc-9", csi={"driver": "csi.trident.netapp.io", "volumeHandle": "pvc-9"})
        },
        "TridentBackend": {"tbe-nvme": backend},
        "TridentVolume": {"pvc-9": tvol},
    }
    resolution = join_snapshot(state(objects, arrays, {"u-nvme": {"array": "n"}})).volumes["pvc-9"]
    [gate] = resolution.gates
    assert gate.kind == "nvme-subsystem" and "`hosts` is" in gate.unreadable[0]
    assert verdicts(resolution) == {"(unreadable)": "unverifiable"}


@pytest.mark.parametrize(
    ("group", "reason"),
    [
        ({"volumes": [7], "initiators": "not-a-list"}, "`initiators` is 'not-a-list'"),
        ({"volumes": [7], "initiators": [NODE_IQN, 42]}, "an initiator that is not text: 42"),
        ({"volumes": "7", "initiators": [NODE_IQN]}, "`volumes` is '7'"),
    ],
)
def test_a_solidfire_access_group_that_cannot_be_read_is_unverifiable(group, reason):
    sf = solidfire_state()
    sf.arrays["sf-a"].by_kind["solidfire.VolumeAccessGroup"]["1/legacy"].update(group)
    resolution = join_snapshot(sf).volumes["pvc-1"]
    [gate] = [g for g in resolution.gates if g.kind == "access-group"]
    assert any(reason in problem for problem in gate.unreadable), gate.unreadable
    assert verdicts(resolution)["(unreadable)"] == "unverifiable"


def nfs_state(policy_rules) -> SnapshotState:
    svm = "svm_nfs"
    policy = {"name": "p", "svm": {"name": svm}, "rules": policy_rules}
    arrays = {
        "a": {
            "ontap.Interface": lif(svm, "192.0.2.31"),
            "ontap.Volume": volume(svm, "data", "/data", "p"),
            "ontap.ExportPolicy": {f"{svm}/p": policy},
        }
    }
    objects = {"PersistentVolume": {"nfs": pv("nfs", nfs={"server": "192.0.2.31", "path": "/data"})}}
    return state(objects, arrays)


@pytest.mark.parametrize(
    "clients", ["not-a-list", {"match": "10.20.0.5"}, None, 5], ids=["text", "object", "null", "number"]
)
def test_an_export_rule_whose_clients_cannot_be_read_admits_unknown_clients(clients):
    resolution = join_snapshot(nfs_state([{"index": 1, "clients": clients, "ro_rule": ["sys"]}])).volumes[
        "nfs"
    ]
    [party] = Admissions(nodes()).of(resolution)
    assert party["verdict"] == "unparseable" and "not a list" in party["detail"]


def test_export_rules_that_cannot_be_read_admit_unknown_clients():
    resolution = join_snapshot(nfs_state("rule 1: everyone")).volumes["nfs"]
    assert resolution.gates[0].unreadable == ["export policy p: `rules` is 'rule 1: everyone', not a list"]
    assert verdicts(resolution) == {"(unreadable rules)": "unverifiable"}
    assert record(resolution, Admissions(nodes()).of(resolution), "")["unknown"] is True


def test_an_empty_client_match_is_warned_of(caplog):
    rules = [{"index": 1, "clients": [{"match": ""}, {"match": "10.20.0.5"}], "ro_rule": ["sys"]}]
    resolution = join_snapshot(nfs_state(rules)).volumes["nfs"]
    with caplog.at_level("WARNING", logger="arrays.admission"):
        [party] = Admissions(nodes()).of(resolution)
    assert party["verdict"] == "node"
    assert party["warnings"] == ["client 1 has an empty match: it matches no one"]
    assert "export policy p, rule 1: client 1 has an empty match" in caplog.text
