"""ONTAP export-rule client matches, parsed without ever raising.

An export rule's `clients[].match` (CLI `-clientmatch`) takes, per ONTAP's REST reference: a
hostname (`host1`), an IPv4 or IPv6 address, either with a prefix length (`10.1.12.0/24`,
`fd20:8b1e:b255:4071::/64`), an IPv4 address with a network mask (`10.1.16.0/255.255.255.0`),
a netgroup (`@netgroup1`) and a domain (`.example.com`); ONTAP 9 also stores comma-separated
lists of these in one match.  Everyone is `0.0.0.0/0` (IPv4) and `::/0` (IPv6).

The text comes from an array we do not control, so every item becomes a `ClientEntry`: an
item that fits no form is kept as `unparseable` with the reason, never dropped and never an
exception.  Where ONTAP's reading of a form is not literal (host bits set, a netmask, an
IPv4-mapped IPv6 address, an IPv6 zone) the entry carries a `note` saying how it was read.
"""

import functools
import unicodedata
from dataclasses import dataclass
from ipaddress import (
    AddressValueError,
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_network,
)
from typing import Literal

from arrays.address_set import IPAddress, IPNetwork

ClientKind = Literal["host", "subnet", "everyone", "hostname", "domain", "netgroup", "unparseable"]
ADDRESS_KINDS = frozenset({"host", "subnet", "everyone"})
NAME_KINDS = frozenset({"hostname", "domain", "netgroup"})

# Longer than any client list an admin types; refusing beats splitting megabytes into entries.
MAX_MATCH_LENGTH = 4096
# A DNS name has at most 253 characters; no valid single form is longer than 255.
MAX_ENTRY_LENGTH = 255

_ALLOWED = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_:/@%")
_DIGITS = frozenset("0123456789")
_LABEL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")
_MAX_PREFIX = {4: 32, 6: 128}
_IPV4_MAPPED = IPv6Network("::ffff:0:0/96")


@dataclass(frozen=True)
class ClientEntry:
    text: str  # the item as written, surrounding spaces trimmed
    kind: ClientKind
    network: IPNetwork | None = None  # the addresses matched: set for host, subnet and everyone
    name: str = ""  # hostname or .domain lower-cased (DNS ignores case); netgroup as written
    note: str = ""  # how a form was read when the reading is not literal
    reason: str = ""  # why an unparseable entry could not be read


def parse_client_match(match: object) -> list[ClientEntry]:
    """Every entry of one `clients[].match` value, in order; empty items (stray commas) are skipped."""
    if not isinstance(match, str):
        return [_unparseable(excerpt(repr(match)), f"not text but {type(match).__name__}")]
    if len(match) > MAX_MATCH_LENGTH:
        return [_unparseable(excerpt(match), f"{len(match)} characters, more than {MAX_MATCH_LENGTH}")]
    items = (item.strip(" \t") for item in match.split(","))
    return [parse_client_entry(item) for item in items if item]


@functools.lru_cache(maxsize=65536)
def parse_client_entry(text: str) -> ClientEntry:
    """One item of a client match (no commas).  Cached: entries are values, and the same policies
    are read again by the join and several rules (a rule may hold thousands of entries)."""
    problem = _character_problem(text)
    if problem:
        return _unparseable(text, problem)
    if text.startswith("@"):
        return _netgroup(text)
    if text.startswith("."):
        return _domain(text)
    if "/" in text:
        return _subnet(text)
    if ":" in text or "%" in text or set(text) <= _DIGITS | {"."}:
        return _host(text)
    return _hostname(text)


def client_address(text: str) -> IPAddress | None:
    """A client's address as ONTAP compares it (IPv4-mapped IPv6 as IPv4, zone dropped), or None."""
    try:
        return _address(text)[0]
    except ValueError:
        return None


def canonical_address(address: IPAddress) -> IPAddress:
    """An NFS server sees an IPv4 client behind `::ffff:a.b.c.d` as a.b.c.d; zones are the client's own."""
    if isinstance(address, IPv6Address):
        return address.ipv4_mapped or IPv6Address(int(address))
    return address


def entry_matches_address(entry: ClientEntry, address: IPAddress) -> bool | None:
    """Whether the entry matches a client at this address; None when the address alone cannot tell
    (a hostname, domain or netgroup needs DNS or NIS, and an unparseable entry cannot be read)."""
    if entry.network is None:
        return None
    address = canonical_address(address)
    return address.version == entry.network.version and address in entry.network


# --- forms --------------------------------------------------------------------------------------


def _unparseable(text: str, reason: str) -> ClientEntry:
    return ClientEntry(text, "unparseable", reason=reason)


def _character_problem(text: str) -> str:
    if len(text) > MAX_ENTRY_LENGTH:
        return f"{len(text)} characters, longer than any client form ({MAX_ENTRY_LENGTH})"
    for char in text:
        if char not in _ALLOWED:
            return f"contains {_describe(char)}, which no client form allows"
    return ""


def _describe(char: str) -> str:
    if char.isascii() and char.isprintable():
        return "a space" if char == " " else repr(char)
    name = unicodedata.name(char, "") or "a control character"
    return f"U+{ord(char):04X} ({name})"


def excerpt(text: str) -> str:
    return text if len(text) <= 80 else f"{text[:77]}..."


def _host(text: str) -> ClientEntry:
    try:
        address, note = _address(text)
    except ValueError as error:
        return _unparseable(text, str(error))
    network = ip_network(address)  # a /32 or /128
    return ClientEntry(text, "host", network, note=note)


def _subnet(text: str) -> ClientEntry:
    address_text, _, mask_text = text.partition("/")
    if address_text == "0" and mask_text == "0":
        return ClientEntry(text, "everyone", IPv4Network("0.0.0.0/0"), note="0/0 read as 0.0.0.0/0")
    try:
        address, address_note = _address(address_text, map_ipv4=False)
        prefix, mask_note = _prefix(mask_text, address.version)
    except ValueError as error:
        return _unparseable(text, str(error))
    network, network_note = _network(address, prefix)
    notes = "; ".join(n for n in (address_note, mask_note, network_note) if n)
    if network.prefixlen == 0:
        kind = "everyone"
    elif network.prefixlen == network.max_prefixlen:
        kind = "host"
    else:
        kind = "subnet"
    return ClientEntry(text, kind, network, note=notes)


def _network(address: IPAddress, prefix: int) -> tuple[IPNetwork, str]:
    """The network an address and prefix name; an IPv4-mapped IPv6 subnet is the IPv4 subnet it maps."""
    mapped = isinstance(address, IPv6Address) and prefix >= 96 and address in _IPV4_MAPPED
    if mapped:
        address, prefix = IPv4Address(int(address) & 0xFFFFFFFF), prefix - 96
    network = ip_network((address, prefix), strict=False)
    notes = [f"IPv4-mapped IPv6 subnet: ONTAP matches IPv4 clients in {network}"] if mapped else []
    if address != network.network_address:
        notes.append(f"host bits set: ONTAP compares the first {prefix} bits only, i.e. {network}")
    return network, "; ".join(notes)


def _address(text: str, map_ipv4: bool = True) -> tuple[IPAddress, str]:
    """An address and a note on how it was read; ValueError with a readable reason otherwise.
    With `map_ipv4`, an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is returned as the IPv4 one."""
    if ":" not in text:
        try:
            return IPv4Address(text), ""
        except AddressValueError as error:
            raise ValueError(f"not an IPv4 address: {error}") from None
    bare, percent, zone = text.partition("%")
    if percent and not (zone and set(zone.lower()) <= _LABEL_CHARS | {"."}):
        raise ValueError(f"IPv6 zone {zone!r} is not an interface name or number")
    try:
        address = IPv6Address(bare)
    except AddressValueError as error:
        raise ValueError(f"not an IPv6 address: {error}") from None
    notes = [f"zone %{zone} ignored: zones are local to the host that names them"] if percent else []
    if map_ipv4 and address.ipv4_mapped:
        notes.append(f"IPv4-mapped IPv6 address: ONTAP matches the IPv4 client {address.ipv4_mapped}")
        return address.ipv4_mapped, "; ".join(notes)
    return address, "; ".join(notes)


def _prefix(text: str, version: int) -> tuple[int, str]:
    """A prefix length from `/N` or, for IPv4, a contiguous netmask such as `/255.255.0.0`."""
    limit = _MAX_PREFIX[version]
    if text and set(text) <= _DIGITS:
        if len(text) > 1 and text.startswith("0"):
            raise ValueError(f"prefix length {text!r} has a leading zero")
        if int(text) > limit:
            raise ValueError(f"prefix length {text} is out of range for IPv{version} (0-{limit})")
        return int(text), ""
    if version == 6 or "." not in text:
        raise ValueError(f"{text!r} is not a prefix length" + (" or an IPv4 netmask" if version == 4 else ""))
    try:
        mask = int(IPv4Address(text))
    except AddressValueError as error:
        raise ValueError(f"netmask {text!r} is not an IPv4 address: {error}") from None
    host_part = ~mask & 0xFFFFFFFF
    if host_part & (host_part + 1):
        raise ValueError(f"netmask {text} is not contiguous (ones must all come before zeros)")
    prefix = limit - host_part.bit_length()
    return prefix, f"netmask {text} is /{prefix}"


def _dns_name_problem(name: str) -> str:
    if len(name) > 253:
        return "longer than a DNS name may be (253)"
    labels = name.split(".")
    for label in labels:
        if not label:
            return "has an empty label (two dots in a row)"
        if len(label) > 63:
            return f"label {label[:20]!r}... is longer than 63 characters"
        if not set(label.lower()) <= _LABEL_CHARS:
            return f"label {label!r} holds characters a DNS name cannot"
        if label.startswith("-") or label.endswith("-"):
            return f"label {label!r} starts or ends with a hyphen"
    if set(labels[-1]) <= _DIGITS:
        return "ends in an all-digit label, so it is no hostname, and it is no valid address either"
    return ""


def _hostname(text: str) -> ClientEntry:
    name = text.removesuffix(".")
    problem = _dns_name_problem(name)
    if problem:
        return _unparseable(text, f"not an address, subnet, hostname, .domain or @netgroup: {problem}")
    return ClientEntry(text, "hostname", name=name.lower())


def _domain(text: str) -> ClientEntry:
    domain = text[1:].removesuffix(".")
    if not domain:
        return _unparseable(text, "a domain needs a name after the leading dot")
    problem = _dns_name_problem(domain)
    if problem:
        return _unparseable(text, f"not a domain: {problem}")
    return ClientEntry(text, "domain", name=f".{domain.lower()}")


def _netgroup(text: str) -> ClientEntry:
    group = text[1:]
    if not group:
        return _unparseable(text, "a netgroup needs a name after '@'")
    if not set(group.lower()) <= _LABEL_CHARS | {"."} or group[0] in "-.":
        return _unparseable(text, f"netgroup name {group!r} holds characters NIS netgroup names do not use")
    return ClientEntry(text, "netgroup", name=group)
