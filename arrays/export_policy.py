"""ONTAP export policies evaluated as ONTAP evaluates them.

ONTAP's documented behaviour (NFS admin guide, "How export rules work" and "How security types
determine client access levels"; REST `/protocols/nfs/export-policies`):

- Rules are tried in ascending `index`; the first rule whose client match matches the client,
  and whose `protocols` admit the client's protocol, decides.  Later rules are not consulted; no
  matching rule means no access.  A rule for `cifs` only never decides for an NFS client, and an
  NFSv3 client is judged only by rules listing `nfs3`, `nfs` or `any`.
- `ro_rule`, `rw_rule` and `superuser` list security flavors (`any`, `none`, `never`, `sys`,
  `krb5`, `krb5i`, `krb5p`, `ntlm`).  For each level the client's flavor either matches (`any` or
  the flavor itself: access with the client's own uid), or the list holds `none` (access as the
  anonymous user), or it gets nothing at that level; `never` grants nothing.  Read-write needs
  both `ro_rule` and `rw_rule`; root stays root only when `superuser` also matches, and is
  otherwise mapped to `anonymous_user` (so `anonymous_user` 0 makes squashed users root).
- A client reaching a volume through its junction path must be granted at least read access by
  the SVM root volume's policy and by the policy of every parent junction it traverses.

Access is judged for a client using AUTH_SYS (`sys`) unless told otherwise: it is the flavor any
host can use without holding a secret, so it is what "who could reach this data" turns on.
Missing fields take ONTAP's REST defaults where it has them (`protocols` and `superuser`: `any`);
a record missing the required `ro_rule`/`rw_rule` is read as `any`, the widest reading, because
under-reporting access is the failure this product exists to avoid.
"""

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum

from arrays.address_set import AddressSet, GrowingAddressSet, IPAddress, IPNetwork
from arrays.client_match import (
    ClientEntry,
    canonical_address,
    entry_matches_address,
    excerpt,
    parse_client_match,
)
from arrays.process_cache import BoundedCache

NFS_VERSIONS = ("nfs3", "nfs4")
AUTH_SYS = "sys"
_DEFAULT_ANONYMOUS_USER = "65534"


class Access(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2


@dataclass(frozen=True)
class Grant:
    access: Access
    root: bool = False  # uid 0 on the client is uid 0 on the volume (root squash does not apply)
    anonymous: bool = False  # some granted level is reached only as the anonymous user

    @property
    def label(self) -> str:
        """`none`, `read`, `write` or `root` (root: any access where uid 0 stays root)."""
        if self.access is Access.NONE:
            return "none"
        level = "root" if self.root else self.access.name.lower()
        return f"{level} (as anonymous)" if self.anonymous and not self.root else level


NO_ACCESS = Grant(Access.NONE)

_OWN, _ANONYMOUS, _DENIED = "own", "anonymous", "denied"


def _flavor_outcome(flavors: frozenset[str], flavor: str) -> str:
    """How one access level treats a client using `flavor` (ONTAP: match, else `none`, else nothing)."""
    if "any" in flavors or flavor in flavors:
        return _OWN
    if "none" in flavors and "never" not in flavors:
        return _ANONYMOUS
    return _DENIED


@dataclass(frozen=True)
class ExportRule:
    index: int | None  # None only when the record had no usable index (ordered last, as listed)
    clients: tuple[ClientEntry, ...]
    protocols: frozenset[str]
    ro_rule: frozenset[str]
    rw_rule: frozenset[str]
    superuser: frozenset[str]
    anonymous_user: str
    position: int = field(default=0, compare=False)  # place in the record list, for stable ordering
    # Oddities that change no reading but deserve a look, e.g. a client whose match is empty.
    warnings: tuple[str, ...] = ()

    @classmethod
    def from_record(cls, record: object, position: int = 0) -> "ExportRule":
        """A rule from an ONTAP REST record; odd or missing fields get the readings documented above."""
        clients, warnings = _clients(record)
        record = record if isinstance(record, Mapping) else {}
        return cls(
            index=_index(record.get("index")),
            clients=clients,
            protocols=_words(record.get("protocols"), default="any"),
            ro_rule=_words(record.get("ro_rule"), default="any"),
            rw_rule=_words(record.get("rw_rule"), default="any"),
            superuser=_words(record.get("superuser"), default="any"),
            anonymous_user=str(record.get("anonymous_user", _DEFAULT_ANONYMOUS_USER)).strip(),
            position=position,
            warnings=warnings,
        )

    def __hash__(self) -> int:
        return self._hash

    @functools.cached_property
    def _hash(self) -> int:
        # A rule is a dict key once per entry it admits, and may hold thousands of entries: hashing
        # them all every time made evaluation quadratic.  The rule is frozen, so once is enough.
        return hash(
            (self.index, self.clients, self.protocols, self.ro_rule, self.rw_rule, self.superuser)
            + (self.anonymous_user, self.warnings)
        )

    def applies_to(self, protocol: str) -> bool:
        """Whether the rule can decide for a client speaking `protocol` (`nfs` covers every NFS version)."""
        nfs = protocol.startswith("nfs") and "nfs" in self.protocols
        return nfs or "any" in self.protocols or protocol in self.protocols

    def grant(self, flavor: str = AUTH_SYS) -> Grant:
        read = _flavor_outcome(self.ro_rule, flavor)
        if read == _DENIED:
            return NO_ACCESS
        write = _flavor_outcome(self.rw_rule, flavor)
        access = Access.READ if write == _DENIED else Access.WRITE
        used = (read,) if access is Access.READ else (read, write)
        # `superuser` always includes `none` (ONTAP): unmatched root becomes the anonymous user.
        root = _flavor_outcome(self.superuser, flavor) == _OWN or self.anonymous_user in ("0", "root")
        return Grant(access, root=root, anonymous=_ANONYMOUS in used)

    @property
    def names_unresolvable_clients(self) -> bool:
        """Whether some client entry cannot be tested against an address (names, unparseable)."""
        return any(entry.network is None for entry in self.clients)


@dataclass(frozen=True)
class Decision:
    """What one policy grants one client address."""

    grant: Grant
    rule: ExportRule | None  # the deciding rule; None when no rule matches (no access)
    # Earlier rules naming hosts by name (or unreadably): if the client is one of them, that rule
    # decides instead.  The address alone cannot tell.
    may_be_preempted_by: tuple[ExportRule, ...] = ()


@dataclass(frozen=True)
class AdmittedParty:
    """Clients one rule entry actually decides, and what they get."""

    rule: ExportRule
    entry: ClientEntry
    grant: Grant
    addresses: AddressSet | None  # the addresses this entry decides here; None for names/unparseable
    protocols: tuple[str, ...]  # the NFS versions over which these clients get `grant`
    may_be_preempted_by: tuple[ExportRule, ...] = ()  # see Decision

    @property
    def networks(self) -> tuple[IPNetwork, ...]:
        return self.addresses.networks() if self.addresses is not None else ()


@dataclass(frozen=True)
class ExportPolicy:
    rules: tuple[ExportRule, ...]  # in ONTAP's evaluation order
    name: str = ""

    def __hash__(self) -> int:
        return self._hash

    @functools.cached_property
    def _hash(self) -> int:
        # Thousands of rules are hashed once, not per call.
        return hash((self.rules, self.name))

    @functools.cached_property
    def _evaluations(self) -> dict[tuple, object]:
        # What admitted_parties and reach computed, kept with the policy (frozen: the same answers
        # for as long as it lives): a policy of policy_of lives as long as the worker keeps it.
        return {}

    @classmethod
    def from_records(cls, records: object, name: str = "") -> "ExportPolicy":
        """From the `rules` list of an export-policy record (or the /rules collection's records)."""
        rules = [ExportRule.from_record(record, position) for position, record in enumerate(_items(records))]
        rules.sort(key=lambda rule: (rule.index is None, rule.index or 0, rule.position))
        return cls(tuple(rules), name)

    def evaluate(self, address: IPAddress, protocol: str = "nfs3", flavor: str = AUTH_SYS) -> Decision:
        """ONTAP's first-match evaluation for one client address."""
        address = canonical_address(address)
        unresolved: list[ExportRule] = []
        for rule in self.rules:
            if not rule.applies_to(protocol):
                continue
            matches = {entry_matches_address(entry, address) for entry in rule.clients}
            if True in matches:
                return Decision(rule.grant(flavor), rule, tuple(unresolved))
            if None in matches:
                unresolved.append(rule)
        return Decision(NO_ACCESS, None, tuple(unresolved))

    def admitted_parties(
        self, protocols: Iterable[str] = NFS_VERSIONS, flavor: str = AUTH_SYS
    ) -> tuple[AdmittedParty, ...]:
        """Every client entry that some rule actually decides with some access, and for which addresses.

        An address entry is admitted for the addresses no earlier rule decides (rule 1 `never`
        10.0.0.0/8 before rule 2 `any` 0.0.0.0/0 admits everyone except 10/8 through rule 2).  A
        name entry (or an unparseable one) is admitted unless earlier rules decide every address
        of both families; and since a name may resolve to any address, an earlier name rule cannot
        be shown to shadow a later address entry: the party then lists it in `may_be_preempted_by`.
        An entry decided differently per NFS version yields disjoint pieces, each with its versions.
        """
        key = ("parties", tuple(protocols), flavor)
        found = self._evaluations.get(key)
        if found is None:
            found = self._evaluations[key] = self._admitted_parties(key[1], flavor)
        return found

    def reach(self, version: str, flavor: str = AUTH_SYS) -> AddressSet:
        """The addresses the policy may admit over one NFS version; everything when a name could
        resolve to any of them."""
        key = ("reach", version, flavor)
        found = self._evaluations.get(key)
        if found is None:
            parties = self.admitted_parties((version,), flavor)
            if any(party.addresses is None for party in parties):
                found = AddressSet.everything()
            else:
                found = AddressSet.union(party.addresses for party in parties)
            self._evaluations[key] = found
        return found

    def _admitted_parties(self, protocols: tuple[str, ...], flavor: str) -> tuple[AdmittedParty, ...]:
        by_party: dict[tuple, list[tuple[str, AddressSet | None]]] = {}
        for protocol in protocols:
            for party in self._decided(protocol, flavor):
                if party.grant.access is not Access.NONE:
                    key = (party.rule, party.entry, party.grant, party.may_be_preempted_by)
                    by_party.setdefault(key, []).append((protocol, party.addresses))
        parties = [
            AdmittedParty(rule, entry, grant, addresses, versions, preempting)
            for (rule, entry, grant, preempting), decided in by_party.items()
            for addresses, versions in _pieces_by_version(decided)
        ]
        parties.sort(key=lambda p: (p.rule.index is None, p.rule.index or 0, p.rule.position))
        return tuple(parties)

    def _decided(self, protocol: str, flavor: str) -> Iterable[AdmittedParty]:
        decided = GrowingAddressSet()
        unresolved: list[ExportRule] = []
        for rule in self.rules:
            if not rule.applies_to(protocol):
                continue
            grant = rule.grant(flavor)
            preempting = tuple(unresolved)
            for entry in rule.clients:
                if entry.network is None:
                    if not (decided.covers_all(4) and decided.covers_all(6)):
                        yield AdmittedParty(rule, entry, grant, None, (protocol,), preempting)
                    continue
                own = decided.missing_from(entry.network)
                if own:
                    yield AdmittedParty(rule, entry, grant, own, (protocol,), preempting)
            for entry in rule.clients:
                if entry.network is not None:
                    decided.add(entry.network)
            if rule.names_unresolvable_clients:
                unresolved.append(rule)


# Policies are values: the SVM root's, a backend's, a static one or Trident's per-volume ones of the
# same nodes recur for thousands of volumes, and snapshot after snapshot.
_POLICIES: BoundedCache["ExportPolicy"] = BoundedCache(maxsize=16384)


def policy_of(records: list, serialised: bytes) -> ExportPolicy:
    """The policy of these rule records (`serialised`: their JSON, the key), read once per worker
    process rather than once per snapshot, with what was evaluated of it kept (`_evaluations`).
    Nameless: no evaluation reads a policy's name, so one policy serves every name."""
    return _POLICIES.get_or_make(serialised, lambda: ExportPolicy.from_records(records))


def _pieces_by_version(
    decided: list[tuple[str, AddressSet | None]],
) -> list[tuple[AddressSet | None, tuple[str, ...]]]:
    """Split what one entry decides under each NFS version into disjoint pieces, each with the versions
    it holds for: 0.0.0.0/0 under nfs3 and 0.0.0.0/0 minus 10/8 under nfs4 become (all but 10/8: nfs3,
    nfs4) and (10/8: nfs3)."""
    if decided[0][1] is None:  # a name: no addresses to split
        return [(None, tuple(version for version, _ in decided))]
    pieces: list[tuple[AddressSet, tuple[str, ...]]] = []
    for version, addresses in decided:
        split = []
        for piece, versions in pieces:
            split += [(piece & addresses, (*versions, version)), (piece - addresses, versions)]
            addresses = addresses - piece
        pieces = [(piece, versions) for piece, versions in [*split, (addresses, (version,))] if piece]
    return pieces


@dataclass(frozen=True)
class PathDecision:
    """What a client gets through a junction path: policies from the SVM root to the volume's own."""

    decisions: tuple[Decision, ...]
    blocked_at: int | None  # position of the first policy on the path that grants no access

    @property
    def grant(self) -> Grant:
        return NO_ACCESS if self.blocked_at is not None else self.decisions[-1].grant


def path_admits(
    policies: Sequence[ExportPolicy], address: IPAddress, protocol: str = "nfs3", flavor: str = AUTH_SYS
) -> PathDecision:
    """The root volume's policy, each parent junction's and the volume's own must each grant the
    client at least read access (ONTAP checks every junction on the way); the last one decides what
    the client then gets.  `policies` runs from the SVM root to the volume (or qtree) itself."""
    if not policies:
        raise ValueError("a junction path has at least the volume's own policy")
    decisions = tuple(policy.evaluate(address, protocol, flavor) for policy in policies)
    blocked = next((i for i, d in enumerate(decisions) if d.grant.access is Access.NONE), None)
    return PathDecision(decisions, blocked)


def admitted_along_path(
    policies: Sequence[ExportPolicy], protocols: Iterable[str] = NFS_VERSIONS, flavor: str = AUTH_SYS
) -> tuple[AdmittedParty, ...]:
    """The volume's admitted parties, narrowed to the clients every policy on the path lets through.

    A party keeps, per NFS version, the addresses that every ancestor policy admits at least for
    reading.  An ancestor admitting a name or an unparseable entry could admit any address, so it
    narrows nothing (conservative); an ancestor admitting nobody removes every party.
    """
    if not policies:
        raise ValueError("a junction path has at least the volume's own policy")
    *ancestors, own = policies
    protocols = tuple(protocols)
    parties = own.admitted_parties(protocols, flavor)
    for ancestor in ancestors:
        # Kept with the policy: an economy FlexVol's policy is every one of its qtrees' ancestor.
        reach = {version: ancestor.reach(version, flavor) for version in protocols}
        parties = tuple(narrowed for party in parties for narrowed in _narrowed(party, reach))
    return parties


def _narrowed(party: AdmittedParty, reach: Mapping[str, AddressSet]) -> list[AdmittedParty]:
    decided = [
        (version, party.addresses & reach[version] if party.addresses is not None else None)
        for version in party.protocols
        if reach[version]
    ]
    decided = [(version, addresses) for version, addresses in decided if addresses is None or addresses]
    if not decided:
        return []
    return [
        AdmittedParty(party.rule, party.entry, party.grant, addresses, versions, party.may_be_preempted_by)
        for addresses, versions in _pieces_by_version(decided)
    ]


# --- tolerant field readers ---------------------------------------------------------------------


def _items(value: object) -> list:
    return list(value) if isinstance(value, list | tuple) else []


def _clients(record: object) -> tuple[tuple[ClientEntry, ...], tuple[str, ...]]:
    """A rule's client entries, and warnings.  A rule whose clients cannot be read (not a record, no
    `clients`, not a list) holds an unparseable entry saying so: it may
    admit anyone, never no one.  A client whose match is empty matches no one (ONTAP refuses to store
    one), which is odd enough to be warned of."""
    if not isinstance(record, Mapping) or "clients" not in record:
        return (ClientEntry("", "unparseable", reason="the rule's record has no `clients`"),), ()
    items = record["clients"]
    if not isinstance(items, list | tuple):
        reason = f"`clients` is {type(items).__name__}, not a list"
        return (ClientEntry(excerpt(repr(items)), "unparseable", reason=reason),), ()
    entries: list[ClientEntry] = []
    warnings: list[str] = []
    for position, item in enumerate(items):
        parsed = parse_client_match(item.get("match") if isinstance(item, Mapping) else item)
        if not parsed:
            warnings.append(f"client {position + 1} has an empty match: it matches no one")
        entries += parsed
    return tuple(entries), tuple(warnings)


def _index(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value.strip())
    return None


def _words(value: object, default: str) -> frozenset[str]:
    """A list of ONTAP keywords, lower-cased; a bare string is one keyword; missing or empty: `default`."""
    words = [value] if isinstance(value, str) else _items(value)
    cleaned = frozenset(str(word).strip().lower() for word in words if str(word).strip())
    return cleaned or frozenset({default})
