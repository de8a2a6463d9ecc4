"""ONTAP client-match parsing: every documented form, real-world lists, and hostile text."""

from ipaddress import ip_address, ip_network

import pytest

from arrays.address_set import AddressSet
from arrays.client_match import (
    MAX_MATCH_LENGTH,
    client_address,
    entry_matches_address,
    parse_client_entry,
    parse_client_match,
)

# (match, kind, network ONTAP compares against, or None)
FORMS = [
    ("10.1.12.24", "host", "10.1.12.24/32"),
    ("10.1.12.24/32", "host", "10.1.12.24/32"),
    ("10.1.12.0/24", "subnet", "10.1.12.0/24"),
    ("10.1.16.0/255.255.255.0", "subnet", "10.1.16.0/24"),
    ("10.0.0.0/255.0.0.0", "subnet", "10.0.0.0/8"),
    ("10.1.12.10/4", "subnet", "0.0.0.0/4"),  # ONTAP's own documentation example: host bits set
    ("192.0.2.77/24", "subnet", "192.0.2.0/24"),
    ("fd20:8b1e:b255:4071::100:1", "host", "fd20:8b1e:b255:4071::100:1/128"),
    ("fd20:8b1e:b255:4071::/64", "subnet", "fd20:8b1e:b255:4071::/64"),
    ("FD20:8B1E::1", "host", "fd20:8b1e::1/128"),
    ("::ffff:10.1.2.3", "host", "10.1.2.3/32"),
    ("::ffff:a01:203", "host", "10.1.2.3/32"),
    ("::ffff:10.1.0.0/112", "subnet", "10.1.0.0/16"),
    ("::ffff:0.0.0.0/96", "everyone", "0.0.0.0/0"),
    ("fe80::1%eth0", "host", "fe80::1/128"),
    ("fe80::%2/64", "subnet", "fe80::/64"),
    ("0.0.0.0/0", "everyone", "0.0.0.0/0"),
    ("0.0.0.0/0.0.0.0", "everyone", "0.0.0.0/0"),
    ("0/0", "everyone", "0.0.0.0/0"),
    ("::/0", "everyone", "::/0"),
    ("::0/0", "everyone", "::/0"),
    ("host1", "hostname", None),
    ("worker-1.k8s.example.com", "hostname", None),
    ("Worker-1.Example.COM.", "hostname", None),
    (".example.com", "domain", None),
    ("@netgroup1", "netgroup", None),
    ("@k8s_workers-prod", "netgroup", None),
]


@pytest.mark.parametrize(("match", "kind", "network"), FORMS)
def test_every_documented_form_is_read_as_ontap_reads_it(match, kind, network):
    [entry] = parse_client_match(match)
    assert (entry.text, entry.kind, entry.reason) == (match, kind, "")
    assert entry.network == (ip_network(network) if network else None)


@pytest.mark.parametrize(
    ("match", "note"),
    [
        ("10.1.12.10/4", "host bits set: ONTAP compares the first 4 bits only, i.e. 0.0.0.0/4"),
        ("10.1.16.0/255.255.255.0", "netmask 255.255.255.0 is /24"),
        ("::ffff:10.1.2.3", "IPv4-mapped IPv6 address: ONTAP matches the IPv4 client 10.1.2.3"),
        ("fe80::1%eth0", "zone %eth0 ignored: zones are local to the host that names them"),
        ("0/0", "0/0 read as 0.0.0.0/0"),
        ("10.0.0.0/8", ""),
    ],
)
def test_a_reading_that_is_not_literal_says_so(match, note):
    assert parse_client_match(match)[0].note == note


def test_names_are_normalised_as_their_lookups_compare_them():
    hostname, domain, netgroup = parse_client_match("Worker-1.Example.COM.,.Example.com,@NG_One")
    assert (hostname.name, domain.name, netgroup.name) == ("worker-1.example.com", ".example.com", "NG_One")


def test_a_comma_separated_list_keeps_order_and_skips_only_empty_items():
    entries = parse_client_match(" 10.0.0.1 ,, 10.0.1.0/24,\t@ng ,host1 , ,999.1.1.1,")
    assert [(e.text, e.kind) for e in entries] == [
        ("10.0.0.1", "host"),
        ("10.0.1.0/24", "subnet"),
        ("@ng", "netgroup"),
        ("host1", "hostname"),
        ("999.1.1.1", "unparseable"),
    ]


@pytest.mark.parametrize("match", ["", "   ", ",", " , ,, "])
def test_an_empty_match_names_nobody(match):
    assert parse_client_match(match) == []


HOSTILE = [
    ("999.1.1.1", "Octet 999 (> 255) not permitted"),
    ("1.2.3.4/33", "prefix length 33 is out of range for IPv4 (0-32)"),
    ("::/129", "prefix length 129 is out of range for IPv6 (0-128)"),
    ("1.2.3.0/024", "leading zero"),
    ("010.0.0.1", "Leading zeros are not permitted"),
    ("1.2.3", "Expected 4 octets"),
    ("1.2.3.4.5", "Expected 4 octets"),
    ("10.0.0.0/255.0.255.0", "netmask 255.0.255.0 is not contiguous"),
    ("10.0.0.0/0.0.255.255", "netmask 0.0.255.255 is not contiguous"),  # Python would read a hostmask
    ("10.0.0.0/255.255.0.256", "netmask '255.255.0.256' is not an IPv4 address"),
    ("10.0.0.0/8/8", "'8/8' is not a prefix length or an IPv4 netmask"),
    ("10.0.0.0/", "'' is not a prefix length or an IPv4 netmask"),
    ("fd00::/ffff::", "'ffff::' is not a prefix length"),
    ("1:2:3:4:5:6:7:8:9", "not an IPv6 address"),
    ("fe80::1%", "IPv6 zone '' is not an interface name or number"),
    ("10.0.0.1%eth0", "not an IPv4 address"),
    ("\x00", "U+0000 (a control character)"),
    ("10.0.0.1\n", "U+000A (a control character)"),
    ("10.0.0.1\u200b", "U+200B (ZERO WIDTH SPACE)"),
    ("１０.0.0.1", "U+FF11 (FULLWIDTH DIGIT ONE)"),
    ("wоrker-1", "U+043E (CYRILLIC SMALL LETTER O)"),  # a Cyrillic o, looks like the Latin one
    ("10.0.0.1 10.0.0.2", "contains a space"),
    ("host1;rm -rf /", "contains ';'"),
    ("$(reboot)", "contains '$'"),
    ("`id`", "contains '`'"),
    ("a|b", "contains '|'"),
    ("*.example.com", "contains '*'"),
    ("host1..example.com", "empty label"),
    ("-host", "starts or ends with a hyphen"),
    ("a" * 64 + ".example.com", "longer than 63 characters"),
    ("host@example", "holds characters a DNS name cannot"),
    ("1.2.3.4a/8", "not an IPv4 address"),
    (".", "a domain needs a name after the leading dot"),
    ("..example.com", "not a domain: has an empty label"),
    ("@", "a netgroup needs a name after '@'"),
    ("@-bad", "netgroup name '-bad'"),
    ("@a/b", "netgroup name 'a/b'"),
    ("x" * 300, "300 characters, longer than any client form (255)"),
]


@pytest.mark.parametrize(("match", "reason"), HOSTILE)
def test_hostile_text_is_unparseable_with_a_reason(match, reason):
    [entry] = parse_client_match(match)
    assert entry.kind == "unparseable" and entry.network is None
    assert reason in entry.reason
    assert entry.text == match.strip(" \t")


def test_a_huge_match_is_one_unparseable_entry_not_megabytes_of_entries():
    [entry] = parse_client_match("10.0.0.1," * 1_000_000)
    assert entry.kind == "unparseable"
    assert entry.reason == f"9000000 characters, more than {MAX_MATCH_LENGTH}"
    assert len(entry.text) <= 80


@pytest.mark.parametrize("value", [None, 42, ["10.0.0.1"], {"match": "10.0.0.1"}, b"10.0.0.1"])
def test_a_match_that_is_not_text_is_unparseable(value):
    [entry] = parse_client_match(value)
    assert entry.kind == "unparseable" and entry.reason.startswith("not text but")


def test_random_text_never_raises_and_every_entry_is_classified():
    import random

    rng = random.Random(3)
    alphabet = "0123456789abcdefABCDEF.:/%@,- _\x00\t;$*\u00e9\uff11"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        for entry in parse_client_match(text):
            assert entry.kind in {
                "host",
                "subnet",
                "everyone",
                "hostname",
                "domain",
                "netgroup",
                "unparseable",
            }
            assert (entry.kind == "unparseable") == bool(entry.reason)
            assert (entry.network is not None) == (entry.kind in {"host", "subnet", "everyone"})


MATCHES = [
    ("10.0.0.0/8", "10.200.1.1", True),
    ("10.0.0.0/8", "11.0.0.1", False),
    ("10.0.0.0/8", "::ffff:10.1.1.1", True),  # an IPv4 client seen through a mapped address
    ("::ffff:10.1.1.1", "10.1.1.1", True),
    ("0.0.0.0/0", "2001:db8::1", False),  # IPv4 and IPv6 are separate: Trident lists both wildcards
    ("::/0", "10.0.0.1", False),
    ("::/0", "2001:db8::1", True),
    ("fe80::1%eth0", "fe80::1", True),
    ("fe80::1", "fe80::1%eth1", True),
    ("10.1.12.10/4", "15.255.255.255", True),
    ("10.1.12.10/4", "16.0.0.0", False),
    ("10.1.16.0/255.255.255.0", "10.1.16.200", True),
    ("10.1.16.0/255.255.255.0", "10.1.17.1", False),
    ("host1", "10.0.0.1", None),
    (".example.com", "10.0.0.1", None),
    ("@ng", "10.0.0.1", None),
    ("999.1.1.1", "10.0.0.1", None),
]


@pytest.mark.parametrize(("match", "address", "expected"), MATCHES)
def test_entry_matches_address(match, address, expected):
    [entry] = parse_client_match(match)
    assert entry_matches_address(entry, ip_address(address.split("%")[0])) is expected


def test_matching_agrees_with_the_address_set_of_the_entry_on_random_addresses():
    import random

    rng = random.Random(7)
    entries = parse_client_match("10.0.0.0/8,192.0.2.128/25,0.0.0.0/1,::ffff:172.16.0.0/108,fd00::/8")
    for _ in range(2000):
        address = ip_address(rng.getrandbits(32)) if rng.random() < 0.7 else ip_address(rng.getrandbits(128))
        for entry in entries:
            assert entry_matches_address(entry, address) is (address in AddressSet.of([entry.network]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.1", "10.0.0.1"),
        (" ::ffff:10.0.0.1", None),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("fe80::1%eth0", "fe80::1"),
    ],
)
def test_client_address_is_what_ontap_compares(text, expected):
    assert client_address(text) == (ip_address(expected) if expected else None)


def test_parse_client_entry_reads_one_item_without_splitting():
    assert parse_client_entry("10.0.0.1,10.0.0.2").kind == "unparseable"
