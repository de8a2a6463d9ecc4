"""NetworkPolicy egress semantics (exposure/analysis/network_policy.py)."""

import shutil
from pathlib import Path

import pytest

from exposure.analysis.network_policy import (
    EgressEvaluator,
    parse_policy,
    policies_by_namespace,
    selector_matches,
)
from tests.cases.runner import run_case

LIF = "192.0.2.11"


def policy(name, spec, namespace="team-a"):
    return parse_policy(namespace, name, {"spec": spec})


def evaluator(*specs, namespace="team-a"):
    policies = {(namespace, f"p{i}"): {"spec": spec} for i, spec in enumerate(specs)}
    return EgressEvaluator(policies_by_namespace(policies))


def allowed(specs, port=2049, protocol="TCP", address=LIF, labels=None):
    verdict = evaluator(*specs).verdict("team-a", labels or {"app": "api"}, address, port, protocol)
    return verdict.allowed


DENY_ALL = {"podSelector": {}, "policyTypes": ["Egress"]}


def to_storage(*ports, cidr="192.0.2.0/24", **block):
    rule = {"to": [{"ipBlock": {"cidr": cidr, **block}}]}
    if ports:
        rule["ports"] = list(ports)
    return {"podSelector": {}, "policyTypes": ["Egress"], "egress": [rule]}


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({}, {"app": "api"}, True),
        ({"matchLabels": {"app": "api"}}, {"app": "api", "tier": "x"}, True),
        ({"matchLabels": {"app": "web"}}, {"app": "api"}, False),
        (
            {"matchExpressions": [{"key": "app", "operator": "In", "values": ["api", "web"]}]},
            {"app": "api"},
            True,
        ),
        (
            {"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["api"]}]},
            {"app": "api"},
            False,
        ),
        ({"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["api"]}]}, {}, True),
        ({"matchExpressions": [{"key": "app", "operator": "Exists"}]}, {"app": "x"}, True),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {"app": "x"}, False),
        ({"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}, {}, True),
        # Malformed selectors select nothing.
        ({"matchExpressions": [{"key": "app", "operator": "Like", "values": ["a"]}]}, {"app": "a"}, False),
        ({"matchExpressions": [{"key": "app", "operator": "In"}]}, {"app": "a"}, False),
        ({"matchLabels": ["app"]}, {"app": "a"}, False),
        ("everything", {"app": "a"}, False),
    ],
)
def test_selectors(selector, labels, expected):
    assert selector_matches(selector, labels) is expected


def test_no_policy_or_ingress_only_leaves_egress_open():
    assert allowed([])
    ingress_only = {"podSelector": {}, "policyTypes": ["Ingress"], "ingress": [{}]}
    assert allowed([ingress_only])


def test_policy_types_default_from_the_egress_section():
    no_types_with_egress = {"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}]}]}
    assert policy("p", no_types_with_egress).isolates_egress
    assert not allowed([no_types_with_egress])
    no_types_without_egress = {"podSelector": {}, "ingress": [{}]}
    assert not policy("p", no_types_without_egress).isolates_egress
    assert not policy("p", {"podSelector": {}, "egress": []}).isolates_egress
    assert allowed([no_types_without_egress])


def test_default_deny_blocks_and_a_policy_not_selecting_the_pod_does_not_isolate():
    assert not allowed([DENY_ALL])
    other_pods = {**DENY_ALL, "podSelector": {"matchLabels": {"app": "web"}}}
    assert allowed([other_pods])


def test_ip_block_except_covering_the_lif():
    assert not allowed([to_storage(cidr="0.0.0.0/0", **{"except": ["192.0.2.0/24"]})])
    assert not allowed([to_storage(cidr="0.0.0.0/0", **{"except": ["192.0.2.11/32"]})])
    assert allowed([to_storage(cidr="0.0.0.0/0", **{"except": ["192.0.3.0/24"]})])
    assert not allowed([to_storage(cidr="10.0.0.0/8")])


def test_ports_protocols_and_end_port():
    only_2049 = to_storage({"protocol": "TCP", "port": 2049})
    assert allowed([only_2049])
    assert not allowed([only_2049], port=111)
    assert not allowed([only_2049], protocol="UDP")
    default_tcp = to_storage({"port": 2049})
    assert allowed([default_tcp]) and not allowed([default_tcp], protocol="UDP")
    every_udp_port = to_storage({"protocol": "UDP"})
    assert allowed([every_udp_port], port=111, protocol="UDP") and not allowed([every_udp_port])
    span = to_storage({"protocol": "TCP", "port": 2000, "endPort": 2100})
    assert allowed([span]) and not allowed([span], port=3260) and not allowed([span], port=111)
    just_below = to_storage({"port": 2000, "endPort": 2048})
    assert not allowed([just_below])


def test_named_ports_never_match_an_outside_address():
    assert not allowed([to_storage({"protocol": "TCP", "port": "nfs"})])
    mixed = to_storage({"port": "nfs"}, {"port": 111})
    assert not allowed([mixed]) and allowed([mixed], port=111)


def test_rule_without_to_allows_every_destination_and_selector_peers_no_outside_address():
    no_to = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": 2049}]}]}
    assert allowed([no_to]) and allowed([no_to], address="203.0.113.9") and not allowed([no_to], port=111)
    everything = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}
    assert allowed([everything], port=3260)
    pods_only = {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {}}, {"podSelector": {}}]}],
    }
    assert not allowed([pods_only])


def test_union_of_policies():
    api_to_storage = {**to_storage({"port": 2049}), "podSelector": {"matchLabels": {"app": "api"}}}
    assert allowed([DENY_ALL, api_to_storage])
    assert not allowed([DENY_ALL, api_to_storage], labels={"app": "web"})
    verdict = evaluator(DENY_ALL, api_to_storage).verdict("team-a", {"app": "api"}, LIF, 2049, "TCP")
    assert [p.name for p in verdict.isolating] == ["p0", "p1"]
    assert [(p.name, r.index) for p, r in verdict.allowed_by] == [("p1", 1)]


def test_policies_of_other_namespaces_do_not_apply():
    verdict = evaluator(DENY_ALL, namespace="team-b").verdict("team-a", {}, LIF, 2049, "TCP")
    assert verdict.allowed and not verdict.isolated


@pytest.mark.parametrize(
    "spec",
    [
        None,
        "text",
        {"podSelector": "all", "policyTypes": ["Egress"]},
        {"podSelector": {}, "policyTypes": "Egress"},
        {"podSelector": {}, "policyTypes": ["Egress"], "egress": "all"},
        {"podSelector": {}, "policyTypes": ["Egress"], "egress": [None, 5, {"to": "x", "ports": 3}]},
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "nonsense"}}]}],
        },
        {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": 7}}]}]},
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"port": True}, {"port": 9, "endPort": 2}]}],
        },
        {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"protocol": 6, "port": 2049}]}],
        },
    ],
)
def test_malformed_policies_never_raise_and_never_grant(spec):
    parsed = parse_policy("team-a", "odd", {"spec": spec} if spec is not None else None)
    verdict = EgressEvaluator({"team-a": [parsed]}).verdict("team-a", {"app": "api"}, LIF, 2049, "TCP")
    # Either the policy isolates nothing (egress stays open) or it allows nothing it cannot parse.
    assert verdict.allowed is (not verdict.isolated)
    assert not verdict.allowed_by


def test_hostname_destination_is_never_allowed_by_an_ip_block():
    verdict = evaluator(to_storage()).verdict("team-a", {}, "nfs.example.com", 2049, "TCP")
    assert not verdict.allowed


# --- the rule over the case table's clusters --------------------------------------------------------

CASES = Path(__file__).resolve().parent / "cases" / "network"
SLUG = "storage-network-reachable"


def _hits(folder, tmp_path):
    context, evaluation = run_case(CASES / folder, tmp_path)
    assert SLUG not in evaluation.failed, evaluation.failed
    return context, {hit.identity[0]: hit for hit in evaluation.hits.get(SLUG, [])}


@pytest.mark.django_db
def test_every_reference_names_an_object_of_the_snapshot(tmp_path):
    context, hits = _hits("foreign-export-high", tmp_path)
    assert hits
    for hit in hits.values():
        assert hit.paths
        refs = set(hit.objects) | {ref for path in hit.paths for ref in path.refs()}
        assert [ref for ref in refs if context.lookup(ref) is None] == []
        assert hit.objects[0] == hit.identity[0]  # the Namespace first


@pytest.mark.django_db
def test_foreign_export_path_reaches_the_other_tenants_claim(tmp_path):
    _, hits = _hits("foreign-export-high", tmp_path)
    beta = hits["Namespace/beta-app"]
    high = [p for p in beta.paths if p.severity == "high"]
    assert high and high[0].namespace == "alpha-db"
    assert high[0].data[:2] == ["PersistentVolumeClaim/alpha-db/archive", "PersistentVolume/alpha-archive"]
    hops = [hop.ref for hop in high[0].hops]
    assert hops == [
        "Namespace/beta-app",
        "Node/worker-1",
        "array:ontap-legacy/ontap.Interface/svm_legacy/lif_nfs_1",
    ]
    assert beta.evidence == {
        "reachable": {"192.0.2.31": [f"{p}/{t}" for p in (111, 635, 2049) for t in ("TCP", "UDP")]}
    }
    assert beta.arrays == {"ontap-legacy"}
    assert not hits["Namespace/kube-system"].violation
    assert all(p.platform for p in hits["Namespace/kube-system"].paths)


@pytest.mark.django_db
def test_firewall_attestation_is_carried_instead_of_firing(tmp_path):
    _, hits = _hits("firewall-attested", tmp_path)
    assert set(hits) == {"Namespace/alpha-web", "Namespace/beta-app"}
    for hit in hits.values():
        assert not hit.violation
        assert all(any("J. Admin" in m for m in p.mitigations) for p in hit.paths)
        assert not any(p.raises_violation for p in hit.paths)


@pytest.mark.django_db
def test_blocked_ports_are_named_as_mitigations_and_evidence_holds_only_open_ones(tmp_path):
    _, hits = _hits("mount-ports-open", tmp_path)
    beta = hits["Namespace/beta-app"]
    assert beta.evidence["reachable"] == {"192.0.2.11": ["111/TCP", "635/UDP"]}  # the SAN LIF stays shut
    assert any("blocks 111/UDP, 635/TCP, 2049/TCP, 2049/UDP" in m for p in beta.paths for m in p.mitigations)
    assert "NetworkPolicy/beta-app/portmap-and-mountd" in beta.objects


@pytest.mark.django_db
def test_identity_and_evidence_survive_a_rollout(tmp_path):
    case = CASES / "union-of-policies"
    first = tmp_path / "first"
    _, before = _hits_from(case, first)
    rolled = tmp_path / "rolled"
    shutil.copytree(case, rolled / "network" / "union-of-policies")
    pods = rolled / "network" / "union-of-policies" / "kubernetes" / "pods.yaml"
    pods.write_text(pods.read_text().replace("6d4cf56db6", "5c8d7b9f4").replace("x7k2p", "m2n8v"))
    _, after = _hits_from(rolled / "network" / "union-of-policies", tmp_path / "second", "rolled")
    assert before.keys() == after.keys()
    for key, hit in before.items():
        assert after[key].evidence == hit.evidence


def _hits_from(folder, workdir, name="case"):
    workdir.mkdir(parents=True, exist_ok=True)
    context, evaluation = run_case(folder, workdir, name)
    return context, {hit.identity[0]: hit for hit in evaluation.hits.get(SLUG, [])}
