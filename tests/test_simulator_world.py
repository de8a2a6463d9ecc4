"""The simulated cluster: consistent, deterministic, evolving on schedule, in real shapes,
and seeding a fire and a near miss for every rule in rules.md."""

import ipaddress
from datetime import UTC, datetime, timedelta

import kubernetes_validate
import orjson
import pytest

from inventory.kinds import KIND_NAMES, TRIDENT_KINDS
from simulator.cases import STORY_TRANSIENT_RULES
from simulator.invariants import check_invariants
from simulator.names import CASE_TENANTS, SECRET_MARKER
from simulator.world import MIN_NAMESPACES, Simulation, sizes_for
from tests.rules_md import rule_slugs

START = datetime(2026, 1, 5, tzinfo=UTC)
CORE_KINDS = [k for k in KIND_NAMES if k not in TRIDENT_KINDS]
CHAP_KEYS = ("iscsiUsername", "iscsiInitiatorSecret", "iscsiTargetUsername", "iscsiTargetSecret")


def day(days: float) -> datetime:
    return START + timedelta(days=days)


@pytest.fixture
def sim():
    return Simulation(seed=7, start=START)


def everything(s: Simulation) -> dict:
    return {
        kind: {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in s.objects(kind)}
        for kind in KIND_NAMES
    }


def dump(s: Simulation) -> bytes:
    return orjson.dumps({kind: s.objects(kind) for kind in KIND_NAMES})


# ---------------------------------------------------------------- consistency


def test_invariants_hold_along_the_timeline(sim):
    assert check_invariants(sim) == []
    for when in (day(2.6), day(4), day(6.5), day(11), day(13), day(19), day(21), day(26), day(29), day(35)):
        sim.advance_to(when)
        assert check_invariants(sim) == [], when


def test_invariants_hold_at_scale_50():
    s = Simulation(seed=3, scale=50, start=START)
    assert len(s.objects("Pod")) > 2500 and len(s.objects("TridentVolume")) > 1250
    assert check_invariants(s) == []
    s.advance_to(day(12))
    assert check_invariants(s) == []


def test_invariants_notice_broken_links(sim):
    tvol = next(v for v in sim.objects("TridentVolume") if v["config"]["namespace"] == "acme-web")
    sim.remove("TridentVolume", "trident", tvol["metadata"]["name"])
    problems = check_invariants(sim)
    assert any(f"no TridentVolume {tvol['metadata']['name']}" in p for p in problems)

    other = Simulation(seed=7, start=START)
    worker = next(n for n in other.objects("Node") if n["metadata"]["name"] == "worker-001")
    other.remove("Node", "", worker["metadata"]["name"])
    problems = check_invariants(other)
    assert any("node worker-001 does not exist" in p for p in problems)


# ---------------------------------------------------------------- determinism and time


def test_same_seed_same_cluster():
    a, b = Simulation(seed=11, start=START), Simulation(seed=11, start=START)
    assert dump(a) == dump(b)
    for s in (a, b):
        s.advance_to(day(14))
        s.churn(0.1)
    assert dump(a) == dump(b)
    assert orjson.dumps(a.secrets()) == orjson.dumps(b.secrets())
    assert dump(Simulation(seed=12, start=START)) != dump(Simulation(seed=11, start=START))


def test_default_start_is_35_days_back_on_the_hour():
    s = Simulation()
    assert timedelta(days=35) <= datetime.now(UTC) - s.clock < timedelta(days=35, hours=1)
    assert s.clock.minute == s.clock.second == 0 and s.clock.tzinfo is not None
    with pytest.raises(ValueError):
        s.advance_to(s.clock - timedelta(seconds=1))


def test_events_happen_at_their_times(sim):
    def exists(ref):
        return sim.get(ref) is not None

    def storefront_hashes():
        return {
            p["metadata"]["labels"]["pod-template-hash"]
            for p in sim.objects("Pod")
            if p["metadata"].get("labels", {}).get("app.kubernetes.io/name") == "storefront"
        }

    def fires(slug):
        return [r for e in sim.case_manifest()[slug]["fires"] for r in e["objects"]]

    first_hash = storefront_hashes()
    sim.advance_to(day(2) + timedelta(hours=9))
    assert storefront_hashes() == first_hash and len(first_hash) == 1
    sim.advance_to(day(2) + timedelta(hours=11))
    assert storefront_hashes() != first_hash and len(storefront_hashes()) == 1

    sim.advance_to(day(3) + timedelta(hours=13))
    assert not exists("Pod/globex-dev/node-debugger")
    sim.advance_to(day(3) + timedelta(hours=15))
    debugger = sim.get("Pod/globex-dev/node-debugger")
    assert debugger["spec"]["containers"][0]["securityContext"]["privileged"] is True
    assert debugger["metadata"]["creationTimestamp"] == "2026-01-08T14:00:00Z"
    assert "Pod/globex-dev/node-debugger" in fires("privileged-container")
    sim.advance_to(day(5) + timedelta(hours=15))
    assert not exists("Pod/globex-dev/node-debugger")
    assert "Pod/globex-dev/node-debugger" not in fires("privileged-container")

    sim.advance_to(day(7))
    assert exists("PersistentVolumeClaim/acme-db/reports-cache")
    sim.advance_to(day(11))
    assert exists("Namespace/hooli-app") and exists("Namespace/hooli-data")
    assert any(c["metadata"]["namespace"] == "hooli-data" for c in sim.objects("PersistentVolumeClaim"))

    sim.advance_to(day(13))
    groups = {s["name"] for s in sim.get("RoleBinding/trident/trident-volume-auditors")["subjects"]}
    assert "system:authenticated" in groups
    assert "RoleBinding/trident/trident-volume-auditors" in fires("chap-secrets-readable")
    sim.advance_to(day(16))
    groups = {s["name"] for s in sim.get("RoleBinding/trident/trident-volume-auditors")["subjects"]}
    assert groups == {"platform-admins"}
    assert "RoleBinding/trident/trident-volume-auditors" not in fires("chap-secrets-readable")

    sim.advance_to(day(19))
    assert not exists("PersistentVolumeClaim/acme-db/reports-cache")
    assert exists("Node/worker-retiring")
    sim.advance_to(day(21))
    assert not exists("Node/worker-retiring") and not exists("TridentNode/trident/worker-retiring")
    sim.advance_to(day(26))
    assert not exists("Namespace/hooli-app")
    assert not any(v["config"]["namespace"].startswith("hooli-") for v in sim.objects("TridentVolume"))
    sim.advance_to(day(29))
    assert len(storefront_hashes()) == 1 and sim.clock == day(29)


# ---------------------------------------------------------------- churn

VOLATILE_POD_STATUS = ("podIP", "podIPs", "conditions", "containerStatuses")


def without_volatile(obj: dict) -> dict:
    obj = orjson.loads(orjson.dumps(obj))
    obj["metadata"].pop("resourceVersion")
    for entry in obj["metadata"].get("managedFields", ()):
        entry.pop("time")
    if obj["kind"] == "Node":
        for condition in obj["status"]["conditions"]:
            condition.pop("lastHeartbeatTime")
    if obj["kind"] == "Pod":
        for key in VOLATILE_POD_STATUS:
            obj["status"].pop(key)
    return obj


def test_volatile_churn_changes_only_volatile_fields(sim):
    sim.advance_to(day(0.5))
    before = everything(sim)
    frozen = dump(sim)
    sim.advance_to(day(1.5))  # no event falls in this day
    after = everything(sim)
    assert orjson.dumps({kind: list(objs.values()) for kind, objs in before.items()}) == frozen, (
        "objects handed out earlier must never change"
    )
    assert {k: set(v) for k, v in before.items()} == {k: set(v) for k, v in after.items()}
    changed = {kind: 0 for kind in KIND_NAMES}
    for kind in KIND_NAMES:
        for key, old in before[kind].items():
            new = after[kind][key]
            if new["metadata"]["resourceVersion"] == old["metadata"]["resourceVersion"]:
                assert new == old
                continue
            changed[kind] += 1
            assert new != old
            assert without_volatile(new) == without_volatile(old), (kind, key)
    assert changed["Node"] == len(after["Node"])
    assert 0 < changed["Pod"] < len(after["Pod"])
    assert {k for k, n in changed.items() if n} == {"Node", "Pod"}
    restarted = [p for p in after["Pod"].values() if p["status"]["containerStatuses"][0]["restartCount"] > 0]
    assert restarted and all(
        "terminated" in p["status"]["containerStatuses"][0]["lastState"] for p in restarted
    )
    heartbeat = after["Node"][("", "worker-001")]["status"]["conditions"][0]["lastHeartbeatTime"]
    assert heartbeat == "2026-01-06T12:00:00Z"


def test_churn_changes_rule_relevant_fields_of_the_fraction():
    s = Simulation(seed=5, scale=20, start=START)
    before = everything(s)
    version = s.resource_version
    changed = s.churn(0.1)
    after = everything(s)
    differing = [
        (kind, key)
        for kind in ("PersistentVolumeClaim", "Pod", "RoleBinding")
        for key, obj in after[kind].items()
        if obj != before[kind][key]
    ]
    assert changed == len(differing) > 0
    outside_cases = sum(
        1
        for kind in ("PersistentVolumeClaim", "Pod", "RoleBinding")
        for ns, _ in after[kind]
        if not ns.startswith(("acme-", "globex-", "initech-", "umbrella-", "sandbox-"))
    )
    assert abs(changed - outside_cases * 0.1) <= 3
    assert all(int(after[k][key]["metadata"]["resourceVersion"]) > version for k, key in differing)
    assert check_invariants(s) == []


# ---------------------------------------------------------------- shapes


def test_core_objects_validate_against_kubernetes_schemas(sim):
    sim.advance_to(day(4))  # includes the transient privileged pod
    for kind in CORE_KINDS:
        objects = sim.objects(kind)
        assert objects, kind
        for obj in objects[:: max(1, len(objects) // 40)]:
            kubernetes_validate.validate(obj, desired_version="1.30", strict=True)
    for obj in sim.secrets():
        kubernetes_validate.validate(obj, desired_version="1.30", strict=True)
    broken = orjson.loads(orjson.dumps(sim.objects("Pod")[0]))
    broken["spec"]["containers"][0]["securityContext"] = {"privilegd": True}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, desired_version="1.30", strict=True)


def test_trident_objects_join_as_in_the_reference(sim):
    claim = sim.get("PersistentVolumeClaim/acme-web/storefront-media")
    volume = sim.get(f"PersistentVolume/{claim['spec']['volumeName']}")
    assert volume["metadata"]["name"] == f"pvc-{claim['metadata']['uid']}"
    assert volume["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    attributes = volume["spec"]["csi"]["volumeAttributes"]
    assert set(attributes) >= {
        "backendUUID",
        "internalName",
        "name",
        "protocol",
        "storage.kubernetes.io/csiProvisionerIdentity",
    }
    tvol = sim.get(f"TridentVolume/trident/{volume['metadata']['name']}")
    assert (
        tvol["config"]["internalName"]
        == attributes["internalName"]
        == "trident_" + volume["metadata"]["name"].replace("-", "_")
    )
    assert tvol["config"]["exportPolicy"] == attributes["internalName"]  # published: its own policy
    assert tvol["config"]["accessInformation"]["publishEnforcement"] is True
    nodes = {
        p["spec"]["nodeName"]
        for p in sim.objects("Pod")
        if p["metadata"]["namespace"] == "acme-web"
        and any(
            v.get("persistentVolumeClaim", {}).get("claimName") == "storefront-media"
            for v in p["spec"]["volumes"]
        )
    }
    publications = {
        p["nodeID"]
        for p in sim.objects("TridentVolumePublication")
        if p["volumeID"] == tvol["metadata"]["name"]
    }
    assert publications == nodes and len(nodes) == 2
    for tnode in sim.objects("TridentNode"):
        assert "172.17.0.1" in tnode["ips"] and tnode["iqn"].startswith("iqn.")
    for node in sim.objects("Node"):
        assert len(node["status"]["nodeInfo"]) == 10
        assert {a["type"] for a in node["status"]["addresses"]} >= {"InternalIP", "Hostname"}
    assert any(a["type"] == "ExternalIP" for n in sim.objects("Node") for a in n["status"]["addresses"])
    drivers = {
        b["config"].get("ontap_config", {}).get("storageDriverName") for b in sim.objects("TridentBackend")
    }
    assert drivers >= {"ontap-nas", "ontap-nas-economy", "ontap-nas-flexgroup", "ontap-san"}
    assert sim.get("TridentVersion/trident/trident")["trident_version"]


def test_storage_endpoints_are_documentation_addresses(sim):
    allowed = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24")]

    def check(address):
        host = address.split(":")[0]
        assert any(ipaddress.ip_address(host) in n for n in allowed), address

    for tbc in sim.objects("TridentBackendConfig"):
        for key in ("managementLIF", "dataLIF", "SVIP"):
            if key in tbc["spec"]:
                check(tbc["spec"][key])
    for tvol in sim.objects("TridentVolume"):
        access = tvol["config"]["accessInformation"]
        for address in [
            access.get("nfsServerIp"),
            access.get("iscsiTargetPortal"),
            *access.get("nvmeTargetIPs", []),
        ]:
            if address:
                check(address)
    for pv in sim.objects("PersistentVolume"):
        if "nfs" in pv["spec"]:
            check(pv["spec"]["nfs"]["server"])


def test_secret_markers_are_seeded_where_the_collector_must_drop_them(sim):
    solidfire = [
        v for v in sim.objects("TridentVolume") if "iscsiInitiatorSecret" in v["config"]["accessInformation"]
    ]
    assert solidfire
    for tvol in solidfire:
        access = tvol["config"]["accessInformation"]
        assert all(access[k] for k in CHAP_KEYS)
        assert access["iscsiInitiatorSecret"].startswith(SECRET_MARKER)
        assert access["iscsiTargetSecret"].startswith(SECRET_MARKER)
    endpoint = next(
        b["config"]["solidfire_config"]["EndPoint"]
        for b in sim.objects("TridentBackend")
        if "solidfire_config" in b["config"]
    )
    assert SECRET_MARKER in endpoint
    in_secrets = orjson.dumps(sim.secrets()).decode()
    assert all(s["kind"] == "Secret" for s in sim.secrets())
    assert in_secrets.count("U0lNU0VDUkVU") >= len(
        sim.objects("TridentBackendConfig")
    )  # base64 of the marker
    for kind in KIND_NAMES:
        assert all(o["kind"] == kind for o in sim.objects(kind))
    ontap = orjson.dumps([b for b in sim.objects("TridentBackend") if "ontap_config" in b["config"]]).decode()
    assert SECRET_MARKER not in ontap and '"password":"secret:backend-' in ontap


def test_trident_can_be_absent(sim):
    sim.trident_installed = False
    assert all(sim.objects(kind) == [] for kind in TRIDENT_KINDS)
    assert sim.objects("PersistentVolume")


def test_scales_follow_the_bench_ratios():
    bench = sizes_for("bench")
    assert (bench.namespaces, bench.tenants, bench.nodes, bench.backends) == (2000, 400, 1000, 20)
    assert bench.namespaces * bench.pvcs_per_namespace == 50_000
    assert bench.namespaces * bench.pods_per_namespace == 100_000
    assert bench.namespaces * bench.bindings_per_namespace == 20_000
    assert bench.namespaces * bench.policies_per_namespace == 1_000
    assert sizes_for("small").namespaces == 200
    with pytest.raises(ValueError):
        sizes_for(5)


def test_namespaces_are_spread_over_the_tenants():
    """Beyond the seeded cases' namespaces, each generated tenant holds namespaces / tenants of them
    (not all in the first one), in whole trust boundaries of the tenant label."""
    sim = Simulation(seed=7, scale=60, start=START)
    generated = {name: t for name, t in sim.tenants.items() if name not in CASE_TENANTS}
    assert len(generated) == sim.sizes.tenants - len(CASE_TENANTS) == 8
    assert {len(t.namespaces) for t in generated.values()} == {(60 - MIN_NAMESPACES) // 8, 7}
    assert sum(len(t.namespaces) for t in generated.values()) == 60 - MIN_NAMESPACES
    labels = {n["metadata"]["name"]: n["metadata"].get("labels", {}) for n in sim.objects("Namespace")}
    for tenant in generated.values():
        assert {labels[name]["capsule.clastix.io/tenant"] for name in tenant.namespaces} == {tenant.name}


# ---------------------------------------------------------------- seeded cases


def test_case_manifest_covers_every_rule_with_objects_that_exist(sim):
    slugs = rule_slugs()
    assert len(slugs) == 26
    for when in (START, day(4), day(13), day(21)):
        sim.advance_to(when)
        manifest = sim.case_manifest()
        assert set(manifest) == slugs
        for slug, outcomes in manifest.items():
            # The cluster's RBAC mistake (PV writes) is bound from day 19 to day 23 only: the story.
            only_then = slug in STORY_TRANSIENT_RULES and when != day(21)
            assert outcomes["fires"] or only_then, slug
            assert outcomes["near_misses"], slug
            for entry in outcomes["fires"] + outcomes["near_misses"]:
                assert entry["why"] and entry["objects"], (slug, entry)
                for ref in entry["objects"]:
                    assert sim.get(ref) is not None, (slug, ref)
                if entry["namespace"]:
                    assert sim.get(f"Namespace/{entry['namespace']}") is not None


def test_cases_are_what_they_claim(sim):
    manifest = sim.case_manifest()
    scraper = sim.get("Pod/umbrella-lab/report-scraper-0")
    assert scraper["spec"]["volumes"][0]["nfs"] == {"server": "192.0.2.31", "path": "/exports/reports/2024"}
    namespaces = {n["metadata"]["name"]: n["metadata"].get("labels", {}) for n in sim.objects("Namespace")}
    assert namespaces["globex-dev"]["pod-security.kubernetes.io/enforce"] == "privileged"
    assert "pod-security.kubernetes.io/enforce" not in namespaces["initech-reports"]
    assert "capsule.clastix.io/tenant" not in namespaces["sandbox-jdoe"]
    assert (
        namespaces["acme-web"]["capsule.clastix.io/tenant"]
        == namespaces["acme-db"]["capsule.clastix.io/tenant"]
    )
    released = sim.get(manifest["pv-released-retained"]["fires"][0]["objects"][0])
    assert (released["status"]["phase"], released["spec"]["persistentVolumeReclaimPolicy"]) == (
        "Released",
        "Retain",
    )
    prebound = sim.get("PersistentVolume/nfs-prebound-old-team")
    assert prebound["spec"]["claimRef"]["namespace"] == "old-team" and sim.get("Namespace/old-team") is None
    crafted = sim.get("PersistentVolume/globex-prod-imported-ledger")["spec"]["csi"]
    ledger = sim.get(
        f"PersistentVolume/{sim.get('PersistentVolumeClaim/acme-db/ledger')['spec']['volumeName']}"
    )
    assert (
        crafted["volumeAttributes"]["internalName"]
        == ledger["spec"]["csi"]["volumeAttributes"]["internalName"]
    )
    dangling = manifest["pv-visible-to-non-admins"]["near_misses"][-1]
    assert (
        dangling["dangling"] == ["ClusterRole/pv-reader-legacy"]
        and sim.get("ClusterRole/pv-reader-legacy") is None
    )
    backends = {b["backendName"]: b["config"] for b in sim.objects("TridentBackend")}
    assert backends["nas-auto-open"]["ontap_config"]["autoExportCIDRs"] == ["0.0.0.0/0", "::/0"]
    assert backends["san-nochap"]["ontap_config"]["useCHAP"] is False
    assert backends["san-nvme"]["ontap_config"]["sanType"] == "nvme"
    assert backends["anf-open"]["azure_config"]["exportRule"] == "0.0.0.0/0"
    aggregated = {r["metadata"]["name"]: r for r in sim.objects("ClusterRole") if "aggregationRule" in r}
    assert aggregated["admin"]["rules"] and aggregated["monitoring-edit"]["rules"] == []
