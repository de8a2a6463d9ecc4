"""ONTAP's first-match evaluation of export policies, the admitted-parties summary, junction paths."""

import itertools
import random
from ipaddress import ip_address, ip_network

import pytest

from arrays.address_set import AddressSet
from arrays.export_policy import (
    Access,
    ExportPolicy,
    ExportRule,
    admitted_along_path,
    path_admits,
)


def rule(index, match, ro=("any",), rw=("any",), su=("any",), protocols=("nfs",), **extra):
    """An export rule record as ONTAP REST returns it (`fields=*`)."""
    return {
        "index": index,
        "clients": [{"match": m} for m in ([match] if isinstance(match, str) else match)],
        "protocols": list(protocols),
        "ro_rule": list(ro),
        "rw_rule": list(rw),
        "superuser": list(su),
        "anonymous_user": extra.pop("anonymous_user", "65534"),
        "allow_suid": True,
        "chown_mode": "restricted",
        **extra,
    }


def policy(*records):
    return ExportPolicy.from_records(list(records))


def addresses(*networks):
    return AddressSet.of(ip_network(n) for n in networks)


def decide(pol, address, protocol="nfs3"):
    decision = pol.evaluate(ip_address(address), protocol)
    return decision.grant.label, decision.rule.index if decision.rule else None


# --- first match ---------------------------------------------------------------------------------


def test_the_first_matching_rule_decides_and_later_ones_are_not_consulted():
    pol = policy(
        rule(1, "10.0.0.1", ro=["sys"], rw=["never"], su=["none"]),
        rule(2, "10.0.0.0/8"),
    )
    assert decide(pol, "10.0.0.1") == ("read", 1)
    assert decide(pol, "10.0.0.2") == ("root", 2)
    assert decide(pol, "11.0.0.1") == ("none", None)


def test_rules_are_tried_by_index_not_by_their_place_in_the_list():
    pol = policy(rule(7, "0.0.0.0/0"), rule(3, "10.0.0.0/8", ro=["never"], rw=["never"]))
    assert [r.index for r in pol.rules] == [3, 7]
    assert decide(pol, "10.1.1.1") == ("none", 3)


def test_a_never_rule_before_a_wide_one_denies_its_clients():
    pol = policy(
        rule(1, "10.0.0.0/8", ro=["never"], rw=["never"], su=["none"]),
        rule(2, "0.0.0.0/0"),
    )
    assert decide(pol, "10.9.9.9") == ("none", 1)
    assert decide(pol, "192.0.2.1") == ("root", 2)
    [party] = pol.admitted_parties()
    assert party.rule.index == 2 and party.entry.text == "0.0.0.0/0"
    assert party.addresses == addresses("0.0.0.0/0") - addresses("10.0.0.0/8")
    assert ip_network("10.0.0.0/8") not in party.networks and ip_network("128.0.0.0/1") in party.networks


def test_a_rule_limited_to_cifs_admits_no_nfs_client():
    pol = policy(rule(1, "0.0.0.0/0", protocols=["cifs"]), rule(2, "10.0.0.1"))
    assert decide(pol, "192.0.2.1") == ("none", None)
    assert decide(pol, "10.0.0.1") == ("root", 2)
    assert [p.entry.text for p in pol.admitted_parties()] == ["10.0.0.1"]


@pytest.mark.parametrize(
    ("protocols", "nfs3", "nfs4"),
    [
        (["nfs"], True, True),
        (["any"], True, True),
        (["nfs3"], True, False),
        (["nfs4"], False, True),
        (["cifs"], False, False),
        (["cifs", "nfs3"], True, False),
        (["NFS"], True, True),
        ([], True, True),  # ONTAP's REST default is `any`
        (None, True, True),
        ("nfs4", False, True),
    ],
)
def test_protocols_decide_which_nfs_versions_a_rule_judges(protocols, nfs3, nfs4):
    record = rule(1, "10.0.0.1")
    record["protocols"] = protocols
    pol = policy(record)
    assert pol.evaluate(ip_address("10.0.0.1"), "nfs3").rule is (pol.rules[0] if nfs3 else None)
    assert pol.evaluate(ip_address("10.0.0.1"), "nfs4").rule is (pol.rules[0] if nfs4 else None)
    expected = tuple(v for v, on in (("nfs3", nfs3), ("nfs4", nfs4)) if on)
    assert [p.protocols for p in pol.admitted_parties()] == ([expected] if expected else [])


def test_a_version_limited_rule_shadows_only_its_version():
    pol = policy(rule(1, "10.0.0.0/8", ro=["never"], protocols=["nfs4"]), rule(2, "0.0.0.0/0"))
    assert decide(pol, "10.0.0.1", "nfs3") == ("root", 2)
    assert decide(pol, "10.0.0.1", "nfs4") == ("none", 1)
    nfs3_and_4, nfs3_only = pol.admitted_parties()
    assert nfs3_and_4.protocols == ("nfs3", "nfs4") and nfs3_only.protocols == ("nfs3",)
    assert nfs3_only.addresses == addresses("10.0.0.0/8")


# --- flavors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ro", "rw", "su", "anonymous_user", "label", "access", "root", "anonymous"),
    [
        (["any"], ["any"], ["any"], "65534", "root", Access.WRITE, True, False),  # what Trident writes
        (["sys"], ["sys"], ["sys"], "65534", "root", Access.WRITE, True, False),
        (["any"], ["any"], ["none"], "65534", "write", Access.WRITE, False, False),  # root squashed
        (["any"], ["never"], ["none"], "65534", "read", Access.READ, False, False),
        (["sys"], ["krb5"], ["none"], "65534", "read", Access.READ, False, False),
        (["never"], ["any"], ["any"], "65534", "none", Access.NONE, False, False),  # rw needs ro too
        (["krb5", "krb5p"], ["krb5"], ["krb5"], "65534", "none", Access.NONE, False, False),
        (["none"], ["none"], ["none"], "65534", "write (as anonymous)", Access.WRITE, False, True),
        (["sys"], ["none"], ["none"], "65534", "write (as anonymous)", Access.WRITE, False, True),
        (["none"], ["never"], ["none"], "65534", "read (as anonymous)", Access.READ, False, True),
        (["none", "never"], ["never"], ["none"], "65534", "none", Access.NONE, False, False),
        (["any"], ["any"], ["none"], "0", "root", Access.WRITE, True, False),  # anon 0 undoes squash
        (["none"], ["none"], ["none"], "0", "root", Access.WRITE, True, True),  # everyone is root
        (["never"], ["never"], ["none"], "0", "none", Access.NONE, False, False),
        (["ANY"], ["Sys"], ["SYS"], "65534", "root", Access.WRITE, True, False),
    ],
)
def test_flavors_give_ontaps_access_levels_to_an_auth_sys_client(
    ro, rw, su, anonymous_user, label, access, root, anonymous
):
    grant = ExportRule.from_record(rule(1, "10.0.0.1", ro, rw, su, anonymous_user=anonymous_user)).grant()
    assert (grant.label, grant.access, grant.root, grant.anonymous) == (label, access, root, anonymous)


def test_a_kerberos_only_rule_grants_what_kerberos_clients_get():
    kerberos = ExportRule.from_record(rule(1, "0.0.0.0/0", ["krb5p"], ["krb5p"], ["none"]))
    assert kerberos.grant().access is Access.NONE
    assert kerberos.grant("krb5p").label == "write"


def test_missing_flavor_lists_are_read_as_the_widest_and_superuser_as_ontaps_default_any():
    grant = ExportRule.from_record({"index": 1, "clients": [{"match": "10.0.0.1"}]}).grant()
    assert grant.label == "root"


# --- odd records ----------------------------------------------------------------------------------


def test_odd_records_are_tolerated_and_unreadable_clients_are_kept():
    pol = ExportPolicy.from_records(
        [
            "not a rule",
            {
                "index": "2",
                "clients": [{"match": "10.0.0.2"}, {"no_match": 1}, "10.0.0.3"],
                "protocols": "nfs",
            },
            {"index": True, "clients": [{"match": "10.0.0.9"}]},
            {"index": 1, "clients": None},
        ]
    )
    assert [r.index for r in pol.rules] == [1, 2, None, None]
    assert [e.text for e in pol.rules[1].clients] == ["10.0.0.2", "None", "10.0.0.3"]
    assert pol.rules[1].clients[1].kind == "unparseable"
    assert decide(pol, "10.0.0.3") == ("root", 2)
    assert decide(pol, "10.0.0.9") == ("root", None)  # no index: last, but still evaluated
    assert ExportPolicy.from_records(None).rules == ()


def test_a_policy_without_rules_admits_nobody():
    pol = ExportPolicy.from_records([], name="trident_empty")
    assert decide(pol, "10.0.0.1") == ("none", None)
    assert pol.admitted_parties() == ()


# --- names ----------------------------------------------------------------------------------------


def test_an_earlier_name_rule_cannot_be_shown_to_shadow_a_later_address_rule():
    pol = policy(rule(1, "@trusted", ro=["never"], rw=["never"]), rule(2, "10.0.0.0/8"))
    decision = pol.evaluate(ip_address("10.0.0.5"))
    assert decision.rule.index == 2 and [r.index for r in decision.may_be_preempted_by] == [1]
    [party] = pol.admitted_parties()
    assert party.rule.index == 2 and party.addresses == addresses("10.0.0.0/8")
    assert [r.index for r in party.may_be_preempted_by] == [1]


@pytest.mark.parametrize("match", ["host1", ".example.com", "@ng", "bad;entry"])
def test_a_name_is_admitted_unless_earlier_rules_decide_every_address(match):
    both = policy(rule(1, ["0.0.0.0/0", "::/0"], ro=["never"]), rule(2, match))
    ipv4_only = policy(rule(1, "0.0.0.0/0", ro=["never"]), rule(2, match))
    assert both.admitted_parties() == ()
    [party] = ipv4_only.admitted_parties()
    assert party.entry.text == match and party.addresses is None and party.networks == ()


def test_trident_per_volume_policy_admits_exactly_the_publishing_nodes():
    pol = policy(*(rule(i, ip) for i, ip in enumerate(["10.20.1.11", "10.20.1.12", "172.17.0.1"], 1)))
    parties = pol.admitted_parties()
    assert [(p.rule.index, p.networks, p.grant.label) for p in parties] == [
        (1, (ip_network("10.20.1.11/32"),), "root"),
        (2, (ip_network("10.20.1.12/32"),), "root"),
        (3, (ip_network("172.17.0.1/32"),), "root"),
    ]


def test_entries_of_one_rule_are_each_admitted_even_when_they_overlap():
    [wide, narrow] = policy(rule(1, "10.0.0.0/8, 10.1.1.1")).admitted_parties()
    assert (wide.entry.text, narrow.entry.text) == ("10.0.0.0/8", "10.1.1.1")
    assert narrow.addresses == addresses("10.1.1.1/32")


def test_an_address_entry_fully_shadowed_by_earlier_rules_is_not_admitted():
    pol = policy(rule(1, "10.0.0.0/8", ro=["sys"], rw=["never"]), rule(2, "10.1.0.0/16, 192.0.2.1"))
    assert [(p.rule.index, p.entry.text) for p in pol.admitted_parties()] == [
        (1, "10.0.0.0/8"),
        (2, "192.0.2.1"),
    ]


# --- the summary agrees with evaluation --------------------------------------------------------------

POOL = [
    "10.0.0.0/8",
    "10.1.0.0/16",
    "10.1.2.3",
    "192.0.2.0/24",
    "192.0.2.128/255.255.255.128",
    "0.0.0.0/0",
    "0.0.0.0/1",
    "::ffff:10.2.0.0/112",
    "2001:db8::/32",
    "2001:db8::1",
    "::/0",
    "host1",
    "@ng",
]
FLAVORS = [["any"], ["sys"], ["never"], ["none"], ["krb5"]]


def random_policy(rng):
    records = []
    for index in rng.sample(range(1, 40), rng.randint(0, 6)):
        records.append(
            rule(
                index,
                rng.sample(POOL, rng.randint(1, 3)),
                ro=rng.choice(FLAVORS),
                rw=rng.choice(FLAVORS),
                su=rng.choice(FLAVORS[:2] + [["none"]]),
                protocols=rng.choice([["nfs"], ["nfs3"], ["nfs4"], ["cifs"], ["any"]]),
                anonymous_user=rng.choice(["65534", "0"]),
            )
        )
    return ExportPolicy.from_records(records)


def random_address(rng):
    choices = [
        lambda: ip_address(rng.getrandbits(32)),
        lambda: ip_address(rng.choice([0x0A000000, 0x0A010000, 0xC0000200]) + rng.getrandbits(16) % 512),
        lambda: ip_address(0x20010DB8 << 96 | rng.getrandbits(8)),
        lambda: ip_address(rng.getrandbits(128)),
        lambda: ip_address("::ffff:10.2.0.7"),
    ]
    return rng.choice(choices)()


def parties_covering(parties, address, protocol):
    return [
        p for p in parties if protocol in p.protocols and p.addresses is not None and address in p.addresses
    ]


def test_evaluation_agrees_with_the_admitted_parties_on_random_policies_and_addresses():
    rng = random.Random(20260731)
    for _ in range(300):
        pol = random_policy(rng)
        parties = pol.admitted_parties()
        for one, other in itertools.combinations(parties, 2):
            same = (one.rule, one.entry, one.may_be_preempted_by) == (
                other.rule,
                other.entry,
                other.may_be_preempted_by,
            )
            if same and one.addresses is not None:
                assert not one.addresses & other.addresses, "pieces of one entry must not overlap"
        for _ in range(30):
            address, protocol = random_address(rng), rng.choice(["nfs3", "nfs4"])
            decision = pol.evaluate(address, protocol)
            canonical = address.ipv4_mapped or address if address.version == 6 else address
            covering = parties_covering(parties, canonical, protocol)
            if decision.grant.access is Access.NONE:
                assert covering == []
            else:
                assert covering and all(p.rule == decision.rule for p in covering)
                assert all(p.grant == decision.grant for p in covering)
                assert all(p.may_be_preempted_by == decision.may_be_preempted_by for p in covering)


# --- junction paths -------------------------------------------------------------------------------

ROOT_READ_ONLY_FOR_NODES = policy(rule(1, "10.20.0.0/16", ro=["sys"], rw=["never"], su=["none"]))
VOLUME_OPEN = policy(rule(1, "0.0.0.0/0"))


def test_a_root_policy_admitting_nobody_blocks_every_volume_below_it():
    root = ExportPolicy.from_records([], name="default")
    decision = path_admits([root, VOLUME_OPEN], ip_address("10.20.1.11"))
    assert decision.blocked_at == 0 and decision.grant.access is Access.NONE
    assert decision.decisions[1].grant.label == "root"  # the volume alone would have let it in
    assert admitted_along_path([root, VOLUME_OPEN]) == ()


def test_a_client_needs_read_on_every_junction_and_gets_what_the_volume_grants():
    parent = policy(rule(1, "10.20.1.0/24", ro=["sys"], rw=["never"]))
    path = [ROOT_READ_ONLY_FOR_NODES, parent, VOLUME_OPEN]
    admitted = path_admits(path, ip_address("10.20.1.11"))
    assert admitted.blocked_at is None and admitted.grant.label == "root"
    blocked_by_parent = path_admits(path, ip_address("10.20.2.11"))
    assert blocked_by_parent.blocked_at == 1 and blocked_by_parent.grant.label == "none"
    blocked_by_root = path_admits(path, ip_address("192.0.2.1"))
    assert blocked_by_root.blocked_at == 0
    [party] = admitted_along_path(path)
    assert party.entry.text == "0.0.0.0/0" and party.addresses == addresses("10.20.1.0/24")


def test_the_volumes_own_denial_is_where_the_path_stops():
    volume = policy(rule(1, "10.20.1.11"))
    decision = path_admits([ROOT_READ_ONLY_FOR_NODES, volume], ip_address("10.20.1.12"))
    assert decision.blocked_at == 1 and decision.grant.access is Access.NONE


def test_a_path_narrows_nfs_versions_and_a_name_in_an_ancestor_narrows_nothing():
    nfs4_root = policy(rule(1, "0.0.0.0/0", ro=["sys"], rw=["never"], protocols=["nfs4"]))
    [party] = admitted_along_path([nfs4_root, VOLUME_OPEN])
    assert party.protocols == ("nfs4",)
    named_root = policy(rule(1, "@storage-clients", ro=["sys"], rw=["never"]))
    [party] = admitted_along_path([named_root, VOLUME_OPEN])
    assert party.addresses == addresses("0.0.0.0/0")
    [name_party] = admitted_along_path([ROOT_READ_ONLY_FOR_NODES, policy(rule(1, "host1"))])
    assert name_party.entry.kind == "hostname"


def test_path_decisions_agree_with_the_narrowed_parties_on_random_paths():
    rng = random.Random(11)
    for _ in range(200):
        path = [random_policy(rng) for _ in range(rng.randint(1, 3))]
        if any(r.names_unresolvable_clients for pol in path for r in pol.rules):
            continue
        parties = admitted_along_path(path)
        for _ in range(20):
            address, protocol = random_address(rng), rng.choice(["nfs3", "nfs4"])
            canonical = address.ipv4_mapped or address if address.version == 6 else address
            admitted = path_admits(path, address, protocol).grant.access is not Access.NONE
            assert admitted == bool(parties_covering(parties, canonical, protocol))


def test_a_path_needs_at_least_one_policy():
    with pytest.raises(ValueError):
        path_admits([], ip_address("10.0.0.1"))


def test_growing_address_set_agrees_with_set_arithmetic():
    import random
    from ipaddress import ip_network

    from arrays.address_set import AddressSet, GrowingAddressSet

    rng = random.Random(11)
    for _ in range(200):
        growing, reference = GrowingAddressSet(), AddressSet()
        for _ in range(rng.randint(1, 30)):
            network = ip_network(
                f"10.{rng.randint(0, 3)}.{rng.randint(0, 255)}.0/{rng.choice([16, 20, 24, 28, 32])}",
                strict=False,
            )
            probe = ip_network(f"10.{rng.randint(0, 3)}.0.0/{rng.choice([14, 16, 22, 30])}", strict=False)
            assert growing.missing_from(probe) == AddressSet.of([probe]) - reference
            growing.add(network)
            reference |= AddressSet.of([network])


# --- cost: a rule with thousands of client entries ---------------------------------------------


def test_a_rule_with_thousands_of_entries_is_hashed_once_not_once_per_admitted_entry(monkeypatch):
    """Each admitted entry keyed its party by the whole rule, hashing every entry of the rule again:
    quadratic (10k entries took minutes).  Entry hashes must now grow linearly with the entries."""
    from arrays.client_match import ClientEntry

    entries = 2000
    pol = policy(rule(1, [f"10.1.{i // 256}.{i % 256}" for i in range(entries)]))
    hashes = 0
    entry_hash = ClientEntry.__hash__

    def counting_hash(entry):
        nonlocal hashes
        hashes += 1
        return entry_hash(entry)

    monkeypatch.setattr(ClientEntry, "__hash__", counting_hash)
    parties = admitted_along_path([pol])
    assert len(parties) == entries and {p.protocols for p in parties} == {("nfs3", "nfs4")}
    assert hashes <= 10 * entries, f"{hashes} entry hashes for {entries} entries"
