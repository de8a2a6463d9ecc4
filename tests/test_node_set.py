"""Verdicts on admitted parties against the cluster's node set (rules.md, Guideline 3)."""

from ipaddress import ip_network

import pytest

from arrays.address_set import AddressSet
from arrays.client_match import parse_client_entry
from arrays.export_policy import ExportPolicy
from arrays.node_set import NodeSet, chap_account_verdict, initiator_key

DOCKER0 = "172.17.0.1"


def node(name, internal, pod_cidr, external=None):
    """A Node in the inventory's kept-field shape."""
    addresses = [{"type": "InternalIP", "address": internal}, {"type": "Hostname", "address": name}]
    if external:
        addresses.append({"type": "ExternalIP", "address": external})
    return {
        "metadata": {"name": name, "uid": f"uid-{name}"},
        "spec": {"podCIDR": pod_cidr, "podCIDRs": [pod_cidr]},
        "status": {"addresses": addresses},
    }


def tnode(name, ips, iqn="", nqn="", wwpns=None, deleted=False):
    """A TridentNode as released Trident stores it (data at the top level)."""
    return {
        "metadata": {"name": name, "namespace": "trident"},
        "name": name,
        "iqn": iqn,
        "nqn": nqn,
        "ips": ips,
        "hostWWPNMap": wwpns or {},
        "deleted": deleted,
    }


def worker(i):
    internal, gateway = f"10.20.1.{10 + i}", f"10.244.{i}.1"
    return (
        node(f"worker-{i}", internal, f"10.244.{i}.0/24"),
        tnode(
            f"worker-{i}",
            sorted([internal, gateway, DOCKER0]),
            iqn=f"iqn.1994-05.com.redhat:worker{i}",
            nqn=f"nqn.2014-08.org.nvmexpress:uuid:0000000{i}-aaaa-bbbb-cccc-dddddddddddd",
            wwpns={f"0x10000090fa1b2c{i:02x}": ["0x500a098000000001"]},
        ),
    )


CURRENT = [worker(i) for i in (1, 2, 3)]
DEPARTED = worker(0)  # seen in an earlier snapshot, gone now


@pytest.fixture(scope="module")
def nodes():
    return NodeSet.from_objects(
        [n for n, _ in CURRENT],
        [t for _, t in CURRENT],
        earlier_nodes=[DEPARTED[0], CURRENT[0][0]],
        earlier_trident_nodes=[DEPARTED[1]],
    )


def test_the_node_set_knows_current_and_departed_nodes(nodes):
    assert sorted(nodes.current) == ["worker-1", "worker-2", "worker-3"]
    assert sorted(nodes.departed) == ["worker-0"]


def test_a_bridge_address_every_node_lists_identifies_no_node_and_is_reported(nodes):
    assert {str(a): names for a, names in nodes.shared_addresses.items()} == {
        DOCKER0: ("worker-0", "worker-1", "worker-2", "worker-3")
    }


HOSTS = [
    ("10.20.1.11", "node", ("worker-1",), (), 0, ""),
    ("::ffff:10.20.1.12", "node", ("worker-2",), (), 0, ""),
    ("10.20.1.13/32", "node", ("worker-3",), (), 0, ""),
    ("10.20.1.10", "stale-node", (), ("worker-0",), 0, "admits departed node worker-0"),
    (DOCKER0, "foreign", (), (), 1, "it identifies no node"),
    ("192.0.2.99", "foreign", (), (), 1, "admits 1 address of no node"),
    ("10.244.1.1", "node", ("worker-1",), (), 0, "worker-1's pod-network address (its CNI gateway)"),
    ("10.244.1.7", "foreign", (), (), 1, "overlaps worker-1's pod network 10.244.1.0/24: pods may reach"),
    (
        "10.20.1.0/24",
        "foreign",
        ("worker-1", "worker-2", "worker-3"),
        ("worker-0",),
        252,
        "admits 252 addresses",
    ),
    ("10.20.1.10/31", "stale-node", ("worker-1",), ("worker-0",), 0, "admits departed node worker-0"),
    ("10.20.1.12/31", "node", ("worker-2", "worker-3"), (), 0, ""),
    ("10.20.1.12/255.255.255.254", "node", ("worker-2", "worker-3"), (), 0, ""),
    ("172.16.0.0/12", "foreign", (), (), 2**20, "172.17.0.1 is listed by worker-0, worker-1"),
    ("0.0.0.0/0", "wildcard", (), (), 0, "admits every IPv4 client"),
    ("::/0", "wildcard", (), (), 0, "admits every IPv6 client"),
    ("0/0", "wildcard", (), (), 0, "admits every IPv4 client"),
    ("worker-1", "hostname-unverifiable", (), (), 0, "the name node worker-1 reports"),
    ("nas-client.example.com", "hostname-unverifiable", (), (), 0, "whichever host DNS resolves"),
    (".example.com", "unverifiable", (), (), 0, "every host whose name DNS puts in example.com"),
    ("@k8s-workers", "unverifiable", (), (), 0, "its members live in NIS or LDAP"),
    ("999.1.1.1", "unparseable", (), (), 0, "Octet 999 (> 255) not permitted"),
    ("10.0.0.0/255.0.255.0", "unparseable", (), (), 0, "not contiguous"),
]


@pytest.mark.parametrize(("match", "kind", "current", "departed", "foreign", "detail"), HOSTS)
def test_verdicts_on_client_entries(nodes, match, kind, current, departed, foreign, detail):
    verdict = nodes.verdict_for_entry(parse_client_entry(match))
    assert verdict.kind == kind.removeprefix("hostname-")
    assert (verdict.nodes, verdict.stale_nodes, verdict.foreign_addresses) == (current, departed, foreign)
    assert detail in verdict.detail


def test_a_set_of_exactly_the_node_addresses_is_node_and_adding_the_bridge_makes_it_foreign(nodes):
    node_addresses = AddressSet.of(ip_network(f"10.20.1.{i}") for i in (11, 12, 13))
    assert nodes.verdict_for_addresses(node_addresses).kind == "node"
    with_bridge = nodes.verdict_for_addresses(node_addresses | AddressSet.of([ip_network(DOCKER0)]))
    assert (with_bridge.kind, with_bridge.foreign_addresses) == ("foreign", 1)
    assert with_bridge.nodes == ("worker-1", "worker-2", "worker-3")


def export_rule(index, match, **fields):
    return {
        "index": index,
        "clients": [{"match": match}],
        "protocols": ["nfs"],
        "ro_rule": ["any"],
        "rw_rule": ["any"],
        "superuser": ["any"],
        **fields,
    }


def test_tridents_per_volume_policy_for_the_publishing_nodes_is_all_node(nodes):
    policy = ExportPolicy.from_records([export_rule(1, "10.20.1.11"), export_rule(2, "10.20.1.12")])
    verdicts = [nodes.verdict(party) for party in policy.admitted_parties()]
    assert [(v.kind, v.nodes) for v in verdicts] == [("node", ("worker-1",)), ("node", ("worker-2",))]


def test_a_backend_policy_with_default_cidrs_admits_the_bridge_as_foreign(nodes):
    ips = sorted({ip for _, t in CURRENT for ip in t["ips"]})
    policy = ExportPolicy.from_records([export_rule(i, ip) for i, ip in enumerate(ips, 1)])
    kinds = {party.entry.text: nodes.verdict(party).kind for party in policy.admitted_parties()}
    assert kinds.pop(DOCKER0) == "foreign"
    assert set(kinds.values()) == {"node"}


def test_the_verdict_judges_only_what_the_rule_actually_decides(nodes):
    policy = ExportPolicy.from_records(
        [
            export_rule(1, "10.20.1.0/24", ro_rule=["never"], rw_rule=["never"]),
            export_rule(2, "10.20.0.0/16"),
        ]
    )
    [party] = policy.admitted_parties()
    verdict = nodes.verdict(party)
    assert (verdict.kind, verdict.nodes, verdict.foreign_addresses) == ("foreign", (), 2**16 - 2**8)
    assert nodes.verdict_for_entry(party.entry).nodes == ("worker-1", "worker-2", "worker-3")


INITIATORS = [
    ("iqn.1994-05.com.redhat:worker1", "node", ("worker-1",), ()),
    ("IQN.1994-05.COM.REDHAT:WORKER1", "node", ("worker-1",), ()),  # iSCSI names fold case
    ("iqn.1994-05.com.redhat:worker0", "stale-node", (), ("worker-0",)),
    ("iqn.1994-05.com.redhat:intruder", "foreign", (), ()),
    ("nqn.2014-08.org.nvmexpress:uuid:00000002-aaaa-bbbb-cccc-dddddddddddd", "node", ("worker-2",), ()),
    ("nqn.2014-08.org.nvmexpress:uuid:00000002-AAAA-bbbb-cccc-dddddddddddd", "foreign", (), ()),
    ("10:00:00:90:fa:1b:2c:03", "node", ("worker-3",), ()),
    ("10:00:00:90:FA:1B:2C:03", "node", ("worker-3",), ()),
    ("10000090fa1b2c03", "node", ("worker-3",), ()),
    ("0x10000090fa1b2c00", "stale-node", (), ("worker-0",)),
    ("20:00:00:90:fa:1b:2c:03", "foreign", (), ()),
    ("10:00:00:90:fa:1b:2c", "unparseable", (), ()),
    ("hello", "unparseable", (), ()),
    ("", "unparseable", (), ()),
]


@pytest.mark.parametrize(("initiator", "kind", "current", "departed"), INITIATORS)
def test_verdicts_on_initiators(nodes, initiator, kind, current, departed):
    verdict = nodes.verdict_for_initiator(initiator)
    assert (verdict.kind, verdict.nodes, verdict.stale_nodes) == (kind, current, departed)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("  iqn.2005-03.org.open-iscsi:ABC ", "iqn.2005-03.org.open-iscsi:abc"),
        ("eui.02004567A425678D", "eui.02004567a425678d"),
        ("nqn.2014-08.org.nvmexpress:NVMf:Host", "nqn.2014-08.org.nvmexpress:NVMf:Host"),
        ("0x50014380242C2B7D", "50:01:43:80:24:2c:2b:7d"),
        ("iqn.", None),
        (None, None),
    ],
)
def test_initiator_keys_follow_each_standards_case_rules(text, key):
    assert initiator_key(text) == key


def test_a_chap_account_admits_whoever_holds_its_secret():
    verdict = chap_account_verdict("team-a")
    assert (verdict.kind, verdict.detail) == (
        "chap-account",
        "whoever holds the CHAP secret of account team-a",
    )


def test_trident_nodes_in_the_spec_shape_of_newer_trident_are_read_too():
    spec_shaped = {
        "metadata": {"name": "worker-9"},
        "spec": {"nodeName": "worker-9", "ips": ["10.20.1.99"], "iqn": "iqn.2020-01.io:w9"},
        "status": {"deleted": False},
    }
    nodes = NodeSet.from_objects([], [spec_shaped])
    assert nodes.verdict_for_entry(parse_client_entry("10.20.1.99")).nodes == ("worker-9",)
    assert nodes.verdict_for_initiator("iqn.2020-01.io:W9").kind == "node"


def test_a_deleted_trident_node_without_its_node_object_is_departed():
    gone = tnode("worker-7", ["10.20.1.77"], deleted=True)
    kept = tnode("worker-1", ["10.20.1.11"], deleted=True)
    nodes = NodeSet.from_objects([node("worker-1", "10.20.1.11", "10.244.1.0/24")], [gone, kept])
    assert sorted(nodes.current) == ["worker-1"] and sorted(nodes.departed) == ["worker-7"]
    assert nodes.verdict_for_entry(parse_client_entry("10.20.1.77")).kind == "stale-node"


def test_an_old_address_of_a_node_still_here_is_foreign_not_stale():
    earlier = node("worker-1", "10.20.1.50", "10.244.1.0/24")
    nodes = NodeSet.from_objects(
        [node("worker-1", "10.20.1.11", "10.244.1.0/24")], [], earlier_nodes=[earlier]
    )
    assert nodes.verdict_for_entry(parse_client_entry("10.20.1.50")).kind == "foreign"


def test_a_departed_nodes_address_reused_by_a_new_node_is_the_new_nodes():
    nodes = NodeSet.from_objects(
        [node("worker-5", "10.20.1.10", "10.244.5.0/24")],
        [tnode("worker-5", ["10.20.1.10"])],
        earlier_nodes=[DEPARTED[0]],
        earlier_trident_nodes=[DEPARTED[1]],
    )
    assert nodes.shared_addresses == {}
    verdict = nodes.verdict_for_entry(parse_client_entry("10.20.1.10"))
    assert (verdict.kind, verdict.nodes) == ("node", ("worker-5",))


def test_a_bridge_seen_on_nodes_that_came_and_went_is_shared_even_with_one_node_left():
    nodes = NodeSet.from_objects(
        [CURRENT[0][0]], [CURRENT[0][1]], earlier_nodes=[DEPARTED[0]], earlier_trident_nodes=[DEPARTED[1]]
    )
    assert [str(a) for a in nodes.shared_addresses] == [DOCKER0]
    assert nodes.verdict_for_entry(parse_client_entry(DOCKER0)).kind == "foreign"


def test_a_single_node_with_no_history_cannot_tell_its_bridge_from_its_address():
    nodes = NodeSet.from_objects([CURRENT[0][0]], [CURRENT[0][1]])
    assert nodes.shared_addresses == {}
    assert nodes.verdict_for_entry(parse_client_entry(DOCKER0)).kind == "node"


def test_malformed_objects_are_skipped_not_fatal():
    nodes = NodeSet.from_objects(
        [
            {},
            {
                "metadata": {"name": "w"},
                "status": {"addresses": [None, {"address": 7}, {"address": "not-an-ip"}]},
            },
        ],
        [{"ips": "10.0.0.1"}, {"name": "w", "ips": [None, "bogus", "10.0.0.2"], "hostWWPNMap": ["x"]}],
    )
    assert list(nodes.current) == ["w"]
    assert nodes.verdict_for_entry(parse_client_entry("10.0.0.2")).nodes == ("w",)


def test_judging_many_parties_does_not_test_each_against_every_node_address(monkeypatch):
    """A 10k-entry rule on a 500-node cluster took seconds per snapshot when every party's addresses
    were tested against every node address; the node addresses are indexed now."""
    cluster = [worker(i) for i in range(1, 201)]
    many = NodeSet.from_objects([n for n, _ in cluster], [t for _, t in cluster])
    tests = 0
    contains, intersect = AddressSet.__contains__, AddressSet.__and__

    def counting(original):
        def counted(*args):
            nonlocal tests
            tests += 1
            return original(*args)

        return counted

    monkeypatch.setattr(AddressSet, "__contains__", counting(contains))
    monkeypatch.setattr(AddressSet, "__and__", counting(intersect))
    parties = 1000
    verdicts = [
        many.verdict_for_addresses(AddressSet.of([ip_network(f"10.20.{i // 256}.{i % 256}/32")]))
        for i in range(parties)
    ]
    assert verdicts[256 + 11].nodes == ("worker-1",) and verdicts[500].kind == "foreign"
    assert tests <= 2 * parties, f"{tests} membership tests for {parties} parties"
