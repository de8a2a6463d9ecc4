"""Egress NetworkPolicies that do, and do not, keep pods off the storage network."""

from simulator import shapes
from simulator.cases.common import case_created
from simulator.cases.manifest import Cases
from simulator.workloads import deny_egress_except_dns


def seed(sim, cases: Cases) -> None:
    created = case_created(sim)
    storage = [{"ipBlock": {"cidr": "192.0.2.0/24"}}]

    def policy(namespace, name, types, egress=None, ingress=None):
        return sim.put(shapes.network_policy(sim.meta(name, namespace, created), {}, types, egress, ingress))

    deny_egress_except_dns(sim, "acme-web", created)
    cases.near_miss(
        "storage-network-reachable",
        "acme-web",
        ["NetworkPolicy/acme-web/default-deny-egress", "NetworkPolicy/acme-web/allow-dns"],
        "default-deny egress, DNS only",
    )
    everything_but = policy(
        "acme-db",
        "egress-except-storage",
        ["Egress"],
        egress=[{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["192.0.2.0/24", "198.51.100.0/24"]}}]}],
    )
    cases.near_miss(
        "storage-network-reachable", "acme-db", [everything_but], "ipBlock.except covers every data LIF"
    )
    # Only the data LIF of nas-silver, which serves globex's uploads alone: medium, nobody else's data.
    nfs_only = policy(
        "globex-prod",
        "allow-nfs-to-storage",
        ["Egress"],
        egress=[
            {"to": [{"ipBlock": {"cidr": "192.0.2.21/32"}}], "ports": [{"protocol": "TCP", "port": 2049}]}
        ],
    )
    cases.fire(
        "storage-network-reachable",
        "globex-prod",
        [nfs_only],
        "egress to nas-silver's data LIF on 2049 is allowed",
    )
    ingress_only = policy(
        "globex-dev",
        "ingress-from-gateway",
        ["Ingress"],
        ingress=[{"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "legacy-gateway"}}}]}],
    )
    cases.fire(
        "storage-network-reachable", "globex-dev", [ingress_only], "Ingress-only policy: egress not isolated"
    )
    port_range = policy(
        "initech-billing",
        "allow-port-range",
        ["Egress"],
        egress=[{"to": storage, "ports": [{"protocol": "TCP", "port": 2000, "endPort": 2100}]}],
    )
    cases.fire(
        "storage-network-reachable", "initech-billing", [port_range], "endPort range 2000-2100 includes 2049"
    )
    deny_egress_except_dns(sim, "initech-reports", created)
    named = policy(
        "initech-reports",
        "allow-named-nfs",
        ["Egress"],
        egress=[{"to": storage, "ports": [{"protocol": "TCP", "port": "nfs"}]}],
    )
    cases.near_miss(
        "storage-network-reachable",
        "initech-reports",
        [named, "NetworkPolicy/initech-reports/default-deny-egress"],
        "a named port never matches an address outside the cluster",
    )
    open_rule = policy("umbrella-lab", "allow-all-egress", ["Egress"], egress=[{}])
    cases.fire(
        "storage-network-reachable", "umbrella-lab", [open_rule], "an egress rule with no `to` and no ports"
    )
    cases.fire(
        "storage-network-reachable", "sandbox-jdoe", ["Namespace/sandbox-jdoe"], "no NetworkPolicy at all"
    )
