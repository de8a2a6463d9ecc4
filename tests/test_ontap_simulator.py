"""The simulated ONTAP arrays: consistent with the simulated cluster along its month, and served
over the ONTAP REST wire as netapp-ontap expects it."""

import base64
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from simulator.control import SimulatorControl
from simulator.ontap_api import OntapApiServer
from simulator.ontap_array import (
    ALL_NODES_IGROUP,
    FOREIGN_IQN,
    OntapArray,
    filter_ips,
    ontap_arrays,
)
from simulator.world import Simulation

START = datetime(2026, 1, 5, tzinfo=UTC)
PASSWORD = "test-password"  # noqa: S105


def day(days: float) -> datetime:
    return START + timedelta(days=days)


@pytest.fixture
def sim():
    return Simulation(seed=7, start=START)


@pytest.fixture
def arrays(sim):
    return {a.name: a for a in ontap_arrays(sim)}


def by_name(array: OntapArray, path: str, svm: str | None = None) -> dict[str, dict]:
    return {r["name"]: r for r in array.records(path) if svm is None or r["svm"]["name"] == svm}


def consistency_problems(sim: Simulation, arrays: dict[str, OntapArray]) -> list[str]:
    """Every live TridentVolume's object exists on its array; published ontap-nas volumes have a
    policy listing exactly their nodes' filtered addresses; published LUNs are mapped to the
    igroups of exactly their nodes."""
    problems = []
    backends = {b.uuid: b for b in sim.backends.values()}
    svm_array = {svm: a for a in arrays.values() for svm in a.svms}
    nodes = {t["name"]: t for t in sim.objects("TridentNode")}
    published: dict[str, set[str]] = {}
    for tvp in sim.objects("TridentVolumePublication"):
        published.setdefault(tvp["volumeID"], set()).add(tvp["nodeID"])
    for tvol in sim.objects("TridentVolume"):
        backend = backends[tvol["backendUUID"]]
        if not backend.driver.startswith("ontap") or tvol["state"] == "subordinate" or tvol.get("orphaned"):
            continue
        array, svm, name = svm_array[backend.variant.svm], backend.variant.svm, tvol["config"]["internalName"]
        pv_nodes = published.get(tvol["metadata"]["name"], set())
        if backend.driver == "ontap-nas-economy":
            found = by_name(array, "/api/storage/qtrees", svm).get(name)
            policy_name = found and found["export_policy"]["name"]
        else:
            found = by_name(array, "/api/storage/volumes", svm).get(name)
            policy_name = found and found["nas"]["export_policy"]["name"]
        if found is None:
            problems.append(f"{name} missing on {array.name}/{svm}")
            continue
        if policy_name != (tvol["config"]["exportPolicy"] or "default"):
            problems.append(
                f"{name}: array policy {policy_name}, Trident says {tvol['config']['exportPolicy']}"
            )
        if tvol["config"]["accessInformation"].get("publishEnforcement") and pv_nodes:
            policy = by_name(array, "/api/protocols/nfs/export-policies", svm)[policy_name]
            listed = sorted(c["match"] for r in policy["rules"] for c in r["clients"])
            cidrs = backend.variant.auto_export_cidrs or ("0.0.0.0/0", "::/0")
            wanted = sorted({ip for n in pv_nodes for ip in filter_ips(nodes[n]["ips"], cidrs)})
            if listed != wanted:
                problems.append(f"{name}: policy lists {listed}, nodes have {wanted}")
        if backend.driver == "ontap-san" and backend.variant.san_type != "nvme":
            lun = by_name(array, "/api/storage/luns", svm)[f"/vol/{name}/lun0"]
            igroups = by_name(array, "/api/protocols/san/igroups", svm)
            # Trident maps a LUN to its nodes' igroups; an admin's legacy all-nodes mapping may remain.
            mapped = {m["igroup"]["name"] for m in lun["lun_maps"]} - {ALL_NODES_IGROUP}
            if mapped != {f"{n}-{sim.trident_uuid}" for n in pv_nodes}:
                problems.append(f"{name}: mapped to {sorted(mapped)}, published on {sorted(pv_nodes)}")
            iqns = {i["name"] for g in mapped for i in igroups[g]["initiators"]} - {FOREIGN_IQN}
            if iqns != {nodes[n]["iqn"] for n in pv_nodes}:
                problems.append(f"{name}: igroups admit {sorted(iqns)}")
    return problems


def test_arrays_group_svms_by_management_lif(arrays):
    assert {a: (arrays[a].management_lifs, arrays[a].svms) for a in arrays} == {
        "ontap-a": (["192.0.2.200"], ["svm_k8s", "svm_k8s_open", "svm_legacy"]),
        "ontap-b": (["198.51.100.200"], ["svm_nvme", "svm_san", "svm_san_legacy"]),
    }


def test_arrays_stay_consistent_along_the_timeline(sim, arrays):
    assert consistency_problems(sim, arrays) == []
    for when in (day(3), day(6.5), day(11), day(15), day(19), day(21), day(26), day(29)):
        sim.advance_to(when)
        assert consistency_problems(sim, arrays) == [], when


def test_consistency_check_notices_broken_arrays(sim, arrays, monkeypatch):
    nas, san = arrays["ontap-a"], arrays["ontap-b"]
    victim = by_name(nas, "/api/storage/volumes", "svm_k8s")
    victim = next(name for name in victim if name.startswith("trident_pvc_"))
    real_nas, real_san = nas.records, san.records

    def without_victim(path):
        return [r for r in real_nas(path) if r.get("name") != victim]

    def without_lun_maps(path):
        records = real_san(path)
        if path == "/api/storage/luns":
            return [{**r, "lun_maps": []} for r in records]
        return records

    monkeypatch.setattr(nas, "records", without_victim)
    monkeypatch.setattr(san, "records", without_lun_maps)
    problems = consistency_problems(sim, arrays)
    assert f"{victim} missing on ontap-a/svm_k8s" in problems
    assert any("mapped to []" in p for p in problems)


def test_published_nas_volume_leaves_its_policy_when_unpublished(sim, arrays):
    nas = arrays["ontap-a"]
    published = {t["volumeID"] for t in sim.objects("TridentVolumePublication")}
    volumes = by_name(nas, "/api/storage/volumes", "svm_k8s")
    for tvol in sim.objects("TridentVolume"):
        name = tvol["config"]["internalName"]
        if name in volumes and tvol["config"]["accessInformation"].get("publishEnforcement"):
            expected = name if tvol["metadata"]["name"] in published else "trident_empty"
            assert volumes[name]["nas"]["export_policy"]["name"] == expected
    assert by_name(nas, "/api/protocols/nfs/export-policies", "svm_k8s")["trident_empty"]["rules"] == []
    # acme-db/reports-cache exists from day 6 to day 18, published: its volume and policy come and go.
    sim.advance_to(day(7))
    claim = sim.find("PersistentVolumeClaim", "acme-db", "reports-cache")
    internal = sim.find("TridentVolume", "trident", claim["spec"]["volumeName"])["config"]["internalName"]
    assert internal in by_name(nas, "/api/storage/volumes", "svm_k8s")
    assert internal in by_name(nas, "/api/protocols/nfs/export-policies", "svm_k8s")
    sim.advance_to(day(19))
    assert internal not in by_name(nas, "/api/storage/volumes", "svm_k8s")
    assert internal not in by_name(nas, "/api/protocols/nfs/export-policies", "svm_k8s")


def test_static_policy_admits_everyone_with_root(arrays):
    policy = by_name(arrays["ontap-a"], "/api/protocols/nfs/export-policies", "svm_legacy")["k8s_nodes"]
    wide = [r for r in policy["rules"] if {"match": "0.0.0.0/0"} in r["clients"]]
    assert wide and wide[0]["superuser"] == ["any"]
    ledger = by_name(arrays["ontap-a"], "/api/storage/volumes", "svm_legacy")
    assert {v["nas"]["export_policy"]["name"] for n, v in ledger.items() if n.startswith("trident_pvc")} == {
        "k8s_nodes"
    }


def test_retired_node_stays_in_static_policy_and_legacy_igroup(sim, arrays):
    retiring = sim.nodes["worker-retiring"]
    iqn, ip = retiring.iqn, retiring.internal_ip

    def stale_places():
        policy = by_name(arrays["ontap-a"], "/api/protocols/nfs/export-policies", "svm_legacy")["k8s_nodes"]
        igroups = arrays["ontap-b"].records("/api/protocols/san/igroups")
        in_policy = any({"match": ip} in r["clients"] for r in policy["rules"])
        holding = [g["name"] for g in igroups if {"name": iqn} in g["initiators"]]
        return in_policy, holding

    in_policy, holding = stale_places()
    assert in_policy and any(name.startswith("trident-") for name in holding)
    sim.advance_to(day(21))
    assert "worker-retiring" not in {t["name"] for t in sim.objects("TridentNode")}
    assert stale_places() == (in_policy, holding)
    flexgroup = next(b for b in sim.backends.values() if b.driver == "ontap-nas-flexgroup")
    policy = by_name(arrays["ontap-a"], "/api/protocols/nfs/export-policies", "svm_k8s")[
        f"trident-{flexgroup.uuid}"
    ]
    assert {"match": ip} not in [c for r in policy["rules"] for c in r["clients"]]  # Trident drops it
    late = {a.name: a for a in ontap_arrays(sim)}  # arrays first derived after the node left
    assert any(
        {"name": iqn} in g["initiators"] for g in late["ontap-b"].records("/api/protocols/san/igroups")
    )


def test_backend_policy_is_widened_then_fixed(sim, arrays):
    flexgroup = next(b for b in sim.backends.values() if b.driver == "ontap-nas-flexgroup")

    def wide():
        policies = by_name(arrays["ontap-a"], "/api/protocols/nfs/export-policies", "svm_k8s")
        return any(
            {"match": "0.0.0.0/0"} in r["clients"] for r in policies[f"trident-{flexgroup.uuid}"]["rules"]
        )

    assert not wide()
    sim.advance_to(day(15))
    assert wide()
    sim.advance_to(day(18))
    assert not wide()


def test_san_facts(arrays, sim):
    san = arrays["ontap-b"]
    credentials = {c["svm"]["name"]: c for c in san.records("/api/protocols/san/iscsi/credentials")}
    assert credentials["svm_san"]["authentication_type"] == "chap"
    assert credentials["svm_san_legacy"]["authentication_type"] == "none"
    igroups = by_name(san, "/api/protocols/san/igroups", "svm_san_legacy")
    orders = sim.find("PersistentVolumeClaim", "globex-prod", "orders-db")["spec"]["volumeName"]
    node = next(t["nodeID"] for t in sim.objects("TridentVolumePublication") if t["volumeID"] == orders)
    assert FOREIGN_IQN in [i["name"] for i in igroups[f"{node}-{sim.trident_uuid}"]["initiators"]]
    parent = igroups["k8s-all-nodes"]
    assert [g["name"] for g in parent["igroups"]] == [g for g in igroups if g.startswith("trident-")]
    assert parent["lun_maps"]  # maps a LUN with Trident's prefix that backs no PV
    tvol_names = {t["config"]["internalName"] for t in sim.objects("TridentVolume")}
    orphan = parent["lun_maps"][0]["lun"]["name"].split("/")[2]
    assert orphan.startswith("trident_pvc_") and orphan not in tvol_names
    subsystems = san.records("/api/protocols/nvme/subsystems")
    nqns = {t["nqn"] for t in sim.objects("TridentNode")}
    assert subsystems and all({h["nqn"] for h in s["hosts"]} <= nqns for s in subsystems)
    assert len(san.records("/api/storage/namespaces")) == len(
        san.records("/api/protocols/nvme/subsystem-maps")
    )


def test_nas_facts(arrays, sim):
    nas = arrays["ontap-a"]
    services = {s["svm"]["name"]: s for s in nas.records("/api/protocols/nfs/services")}
    assert services["svm_legacy"]["showmount_enabled"] and not services["svm_k8s"]["showmount_enabled"]
    assert all(s["protocol"]["v3_enabled"] for s in services.values())
    volumes = by_name(nas, "/api/storage/volumes", "svm_legacy")
    assert volumes["svm_root"]["nas"]["path"] == "/" and volumes["svm_root"]["is_svm_root"]
    assert volumes["exports_reports"]["nas"]["junction_parent"]["name"] == "exports"
    assert volumes["exports"]["nas"]["path"] == "/exports"
    lifs = {i["ip"]["address"] for i in nas.records("/api/network/ip/interfaces")}
    assert {b.variant.data_lif for b in sim.backends.values() if b.variant.svm in nas.svms} <= lifs
    qtrees = nas.records("/api/storage/qtrees")
    economy = next(b for b in sim.backends.values() if b.driver == "ontap-nas-economy")
    assert {q["volume"]["name"] for q in qtrees} >= {economy.flexvol_pool}
    pool = by_name(nas, "/api/storage/volumes", "svm_k8s")[economy.flexvol_pool]
    assert pool["nas"]["export_policy"]["name"] == f"trident-{economy.uuid}"
    assert nas.records("/api/network/fc/interfaces") == []


# ---------------------------------------------------------------- the wire


@pytest.fixture
def server(arrays):
    srv = OntapApiServer(arrays["ontap-a"], password=PASSWORD).start()
    yield srv
    srv.stop()


def get(server, target, password=PASSWORD):
    token = base64.b64encode(f"admin:{password}".encode()).decode()
    request = urllib.request.Request(server.url + target, headers={"Authorization": f"Basic {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback simulator
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_wire_auth_and_errors(server):
    assert get(server, "/api/svm/svms", password="wrong") == (
        401,
        {"error": {"message": "not authorized for that command", "code": "6"}},
    )
    assert get(server, "/api/storage/disks") == (404, {"error": {"message": "API not found", "code": "3"}})
    assert [(r.path, r.authenticated) for r in server.requests] == [
        ("/api/svm/svms", False),
        ("/api/storage/disks", True),
    ]


def test_wire_fields(server):
    _, minimal = get(server, "/api/storage/volumes?name=svm_root")
    assert set(minimal["records"][0]) == {"uuid", "name", "svm"}
    _, star = get(server, "/api/storage/volumes?fields=*&name=svm_root")
    assert "nas" in star["records"][0] and "is_svm_root" not in star["records"][0]
    _, named = get(server, "/api/storage/volumes?fields=*,is_svm_root&name=svm_root&svm.name=svm_k8s")
    assert [r["is_svm_root"] for r in named["records"]] == [True]
    _, dotted = get(server, "/api/storage/volumes?fields=nas.path&name=svm_root&svm.name=svm_k8s")
    assert dotted["records"][0]["nas"] == {"path": "/"}
    _, cluster = get(server, "/api/cluster?fields=*")
    assert cluster["name"] == "ontap-a"


def test_wire_paging_and_counts(server, arrays):
    everything = arrays["ontap-a"].records("/api/storage/volumes")
    _, count = get(server, "/api/storage/volumes?return_records=false")
    assert count["num_records"] == len(everything)
    seen, target, pages = [], "/api/storage/volumes?fields=name&max_records=4", 0
    while target:
        status, body = get(server, target)
        assert status == 200 and body["num_records"] == len(body["records"]) <= 4
        seen += [r["uuid"] for r in body["records"]]
        target = body["_links"].get("next", {}).get("href")
        pages += 1
    assert seen == [r["uuid"] for r in everything] and pages == -(-len(everything) // 4)
    _, filtered = get(server, "/api/storage/volumes?svm.name=svm_legacy|svm_k8s_open&name=trident_*")
    assert filtered["records"] and {r["svm"]["name"] for r in filtered["records"]} <= {
        "svm_legacy",
        "svm_k8s_open",
    }


def test_wire_truncated_rules(arrays):
    srv = OntapApiServer(arrays["ontap-a"], password=PASSWORD, max_inline_rules=1).start()
    try:
        _, policies = get(srv, "/api/protocols/nfs/export-policies?fields=*&name=k8s_nodes")
        policy = policies["records"][0]
        assert policy["are_rules_truncated"] and len(policy["rules"]) == 1
        _, rules = get(srv, f"/api/protocols/nfs/export-policies/{policy['id']}/rules?fields=*")
        assert [r["index"] for r in rules["records"]] == [1, 2]
        assert get(srv, "/api/protocols/nfs/export-policies/1/rules")[0] == 404
    finally:
        srv.stop()


def test_wire_faults_over_http(server):
    control = SimulatorControl(server.url)
    control.add_fault("/api/svm/svms", status=503, times=1)
    assert get(server, "/api/svm/svms")[0] == 503
    assert get(server, "/api/svm/svms")[0] == 200
    control.add_fault("/api/svm/svms", status=200, times=1)
    token = base64.b64encode(f"admin:{PASSWORD}".encode()).decode()
    request = urllib.request.Request(
        server.url + "/api/svm/svms", headers={"Authorization": f"Basic {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback simulator
        with pytest.raises(json.JSONDecodeError):
            json.loads(response.read())
    control.add_fault("/api/svm/svms", drop=True, times=None)
    with pytest.raises((ConnectionError, urllib.error.URLError)):
        get(server, "/api/svm/svms")
    control.clear_faults()
    assert get(server, "/api/svm/svms")[0] == 200
