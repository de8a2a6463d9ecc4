"""Sets of IP addresses with exact set arithmetic, for "which addresses does this rule decide".

A set is kept as sorted, disjoint, inclusive integer ranges per IP version, so subtracting a
/8 from 0.0.0.0/0 or counting a /64 costs a handful of integer operations, not an enumeration.
IPv4 and IPv6 are separate spaces: ONTAP matches an IPv4 client only against IPv4 entries.
"""

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, summarize_address_range

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network

_Ranges = tuple[tuple[int, int], ...]
_ADDRESS_CLASS = {4: IPv4Address, 6: IPv6Address}
_LAST = {4: 2**32 - 1, 6: 2**128 - 1}


def _normalised(ranges: Iterable[tuple[int, int]]) -> _Ranges:
    merged: list[list[int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return tuple((first, last) for first, last in merged)


def _subtract(ranges: _Ranges, removed: _Ranges) -> _Ranges:
    """Both arguments sorted and disjoint, so one pass per range suffices."""
    out = []
    for first, last in ranges:
        start = first
        for cut_first, cut_last in removed:
            if cut_last < start:
                continue
            if cut_first > last:
                break
            if cut_first > start:
                out.append((start, cut_first - 1))
            start = cut_last + 1
            if start > last:
                break
        if start <= last:
            out.append((start, last))
    return tuple(out)


def _intersect(a: _Ranges, b: _Ranges) -> _Ranges:
    return _normalised(
        (max(a_first, b_first), min(a_last, b_last))
        for a_first, a_last in a
        for b_first, b_last in b
        if a_first <= b_last and b_first <= a_last
    )


@dataclass(frozen=True)
class AddressSet:
    v4: _Ranges = ()
    v6: _Ranges = ()

    @classmethod
    def of(cls, networks: Iterable[IPNetwork]) -> "AddressSet":
        by_version: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for network in networks:
            by_version[network.version].append((int(network.network_address), int(network.broadcast_address)))
        return cls(_normalised(by_version[4]), _normalised(by_version[6]))

    @classmethod
    def union(cls, sets: Iterable["AddressSet"]) -> "AddressSet":
        """All of `sets` at once: one normalisation instead of one per `|`."""
        sets = list(sets)
        return cls(_normalised(r for s in sets for r in s.v4), _normalised(r for s in sets for r in s.v6))

    @classmethod
    def everything(cls) -> "AddressSet":
        return cls(((0, _LAST[4]),), ((0, _LAST[6]),))

    def _ranges(self, version: int) -> _Ranges:
        return self.v4 if version == 4 else self.v6

    def __or__(self, other: "AddressSet") -> "AddressSet":
        return AddressSet(_normalised(self.v4 + other.v4), _normalised(self.v6 + other.v6))

    def __sub__(self, other: "AddressSet") -> "AddressSet":
        return AddressSet(_subtract(self.v4, other.v4), _subtract(self.v6, other.v6))

    def __and__(self, other: "AddressSet") -> "AddressSet":
        return AddressSet(_intersect(self.v4, other.v4), _intersect(self.v6, other.v6))

    def __bool__(self) -> bool:
        return bool(self.v4 or self.v6)

    def __contains__(self, address: IPAddress) -> bool:
        value = int(address)
        return any(first <= value <= last for first, last in self._ranges(address.version))

    def size(self) -> int:
        """How many addresses (a method, not len(): an IPv6 /64 overflows what len() may return)."""
        return sum(last - first + 1 for first, last in self.v4 + self.v6)

    def covers_all(self, version: int) -> bool:
        return self._ranges(version) == ((0, _LAST[version]),)

    def networks(self) -> tuple[IPNetwork, ...]:
        """The fewest CIDR blocks that make up exactly this set, IPv4 first."""
        out: list[IPNetwork] = []
        for version in (4, 6):
            address = _ADDRESS_CLASS[version]
            for first, last in self._ranges(version):
                out.extend(summarize_address_range(address(first), address(last)))
        return tuple(out)


class GrowingAddressSet:
    """An address set that only grows, built one network at a time in O(log n) per step.

    First-match evaluation asks, rule after rule, "what of this entry is not decided yet?" and then
    adds the rule's entries: with an immutable AddressSet that is quadratic in the rules, and
    Trident's automatic policies carry one rule per node address (thousands in a large cluster).
    """

    def __init__(self):
        self._starts = {4: [], 6: []}  # sorted, disjoint ranges per version, as parallel lists
        self._ends = {4: [], 6: []}

    def covers_all(self, version: int) -> bool:
        return self._starts[version] == [0] and self._ends[version] == [_LAST[version]]

    def missing_from(self, network: IPNetwork) -> AddressSet:
        """The part of `network` not in this set."""
        version, first, last = network.version, int(network.network_address), int(network.broadcast_address)
        starts, ends = self._starts[version], self._ends[version]
        gaps, cursor = [], first
        i = max(bisect.bisect_right(starts, first) - 1, 0)
        while i < len(starts) and starts[i] <= last and cursor <= last:
            if ends[i] >= cursor:
                if starts[i] > cursor:
                    gaps.append((cursor, starts[i] - 1))
                cursor = ends[i] + 1
            i += 1
        if cursor <= last:
            gaps.append((cursor, last))
        return AddressSet(tuple(gaps), ()) if version == 4 else AddressSet((), tuple(gaps))

    def add(self, network: IPNetwork) -> None:
        version, first, last = network.version, int(network.network_address), int(network.broadcast_address)
        starts, ends = self._starts[version], self._ends[version]
        lo = bisect.bisect_left(ends, first - 1)  # first range that ends at or after first - 1
        hi = bisect.bisect_right(starts, last + 1)  # ranges from lo to hi touch [first, last]
        if lo < hi:
            first, last = min(first, starts[lo]), max(last, ends[hi - 1])
        starts[lo:hi], ends[lo:hi] = [first], [last]
