"""The join on hand-built inputs: shapes the simulated estate does not produce."""

from types import SimpleNamespace

from inventory.storage.admission import Admissions
from inventory.storage.join import join_snapshot
from inventory.storage.node_set import NodeSet
from inventory.storage.state import ArrayRecords, SnapshotState

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
    svm = "svm_san"
    arrays = {
        "a": {
            "ontap.Interface": lif(svm, "198.51.100.11"),
            "ontap.Lun": {f"{svm}//vol/v1/lun0": {"name": "/vol/v1/lun0", "svm": {"name": svm}}},
            "ontap.LunMap": {
                "m": {
                    "svm": {"name": svm},
                    "lun": {"name": "/vol/v1/lun0"},
                    "igroup": {"name": "outer"},
                    "logical_unit_number": 4,
                }
            },
            "ontap.Igroup": {
                f"{svm}/outer": {"name": "outer", "initiators": [], "igroups": [{"name": "inner"}]},
                f"{svm}/inner": {
                    "name": "inner",
                    "initiators": [{"name": NODE_IQN}],
                    "igroups": [{"name": "outer"}],
                },
            },
        }
    }
    objects = {
        "PersistentVolume": {
            "static-lun": pv("static-lun", iscsi={"targetPortal": "198.51.100.11:3260", "lun": 4})
        }
    }
    resolution = join_snapshot(state(objects, arrays)).volumes["static-lun"]
    assert resolution.path == "static-iscsi" and resolution.object_name == f"{svm}//vol/v1/lun0"
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
