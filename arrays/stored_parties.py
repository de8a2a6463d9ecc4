"""Access records' admitted parties stored once per list, not once per volume.

An igroup of every node, or an export policy admitting every node, lists a party per node, and
thousands of volumes sit behind it: stored inside each record, the parties were most of the
records' bytes (a gigabyte of JSON at the bench scale, serialised, hashed, sent and compressed
each time).  A record is stored with `party_lists`, the digests of its segments
(arrays/admission.py `Admissions.segments_of`), and each segment once, as a derived
`AdmittedParties` object named by its digest.  Readers of stored records get them back whole
(`with_admitted`), the records naming the same segments sharing one list: the same records a
snapshot's analysis holds in memory.
"""

from collections.abc import Iterable

from arrays.party_lists import PerPartyList
from inventory.history import StoredObject
from inventory.kept_fields import digest
from inventory.models import InventoryObject, Snapshot
from inventory.state import DERIVED_SCOPE

ADMITTED_PARTIES = "AdmittedParties"


class PartyListStore:
    """The stored forms of one derivation's records and the segments they name."""

    def __init__(self):
        self._digests: PerPartyList[str] = PerPartyList(digest)
        self.segments: dict[tuple[str, str], StoredObject] = {}

    def stored_form(self, record: dict, segments: tuple[list[dict], ...]) -> dict:
        """`record` as stored: its parties by their segments' digests."""
        stored = {key: value for key, value in record.items() if key != "admitted"}
        stored["party_lists"] = self.named(segments)
        return stored

    def named(self, segments: tuple[list[dict], ...]) -> list[str]:
        """The segments' names (their digests), each segment kept to be stored once."""
        names = []
        for segment in segments:
            name = self._digests(segment)
            if ("", name) not in self.segments:
                self.segments[("", name)] = StoredObject("", {"parties": segment}, name)
            names.append(name)
        return names


def with_admitted(snapshot: Snapshot, records: Iterable[dict]) -> None:
    """Give each stored record read as of `snapshot` its `admitted` parties back (in place), in one
    query for the segments they name.  A record stored before segments were (no `party_lists`)
    holds its parties itself.  A segment not found makes its record's parties unknown: not read,
    never "admits no one"."""
    records = [r for r in records if isinstance(r, dict) and isinstance(r.get("party_lists"), list)]
    names = sorted({name for r in records for name in r["party_lists"] if isinstance(name, str)})
    found = {}
    if names:
        # Unrestricted: the reader sees the records, and a record's parties are part of it.
        rows = InventoryObject.objects.as_of(snapshot).filter(
            scope=DERIVED_SCOPE, kind=ADMITTED_PARTIES, namespace="", name__in=names
        )
        found = dict(rows.values_list("name", "data__parties"))
    # Records naming the same segments get one list, as the derivation gives them (arrays/admission.py):
    # what the rules work out of a list of parties is then worked out once per list, not per record.
    joined: dict[tuple, tuple[list, bool]] = {}
    for record in records:
        key = tuple(name if isinstance(name, str) else None for name in record["party_lists"])
        if key not in joined:
            segments = [found.get(name) for name in key]
            parties = [party for segment in segments if isinstance(segment, list) for party in segment]
            joined[key] = (parties, all(isinstance(segment, list) for segment in segments))
        record["admitted"], whole = joined[key]
        if not whole:
            record["unknown"] = True
            record["problem"] = record.get("problem") or "some of its admitted parties could not be read back"
