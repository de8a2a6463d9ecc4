"""Each namespace's volumes counted by what their access control admits, derived with the access
records (arrays/volume_access.py) so that the arrays page never reads every record.

A group is the volumes of one array and backend, with one array status, whose admitted parties draw
the same verdicts (and whose gates were all read, or not): per-volume export policies, igroups and
subsystems make nearly every volume's party list its own, so grouping by the parties themselves
shows one group per volume at scale; grouping by verdicts says what matters (who outside the
cluster is admitted, and to how many volumes).  Each group names one of its volumes, the smallest
by kind and name, whose record the page shows as an example.  A summary is a function of the
records alone (no row ids), so that a dump imported elsewhere derives the same.  Kept in the
namespace of the volumes it counts, so that a reader's scope restricts the summaries as it
restricts the records.
"""

from collections import defaultdict

from arrays.party_lists import PerPartyList
from inventory.history import StoredObject
from inventory.kept_fields import digest

ACCESS_SUMMARY = "VolumeAccessSummary"
SUMMARY_NAME = "volumes"  # one summary a namespace
SUMMARIES_SINCE = 4  # arrays/volume_access.py's DERIVATION_VERSION that first wrote them
# Verdicts of admitted parties, worst first (arrays/node_set.py's vocabulary).
VERDICTS = ("wildcard", "foreign", "unverifiable", "unparseable", "stale-node", "chap-account", "node")
_RANK = {verdict: rank for rank, verdict in enumerate(VERDICTS)}


def verdicts_of(parties) -> list[str]:
    """The distinct verdicts of a party list, worst first (an unknown word after the known ones)."""
    found = {str(p.get("verdict", "")) for p in parties or () if isinstance(p, dict)}
    return sorted(found, key=lambda verdict: (_RANK.get(verdict, len(VERDICTS)), verdict))


def group_of(data: dict, verdicts: PerPartyList[tuple] | None = None) -> tuple:
    """(array, backend, array status, unknown, verdicts) of one access record.  `verdicts`: those
    of each party list, worked out once per list."""
    admitted = data.get("admitted")
    return (
        data.get("array") or "",
        data.get("backend") or "",
        data.get("array_status") or "",
        bool(data.get("unknown")),
        verdicts(admitted) if verdicts is not None else _verdicts_of_list(admitted),
    )


def _verdicts_of_list(parties) -> tuple:
    return tuple(verdicts_of(parties))


def summaries(records: dict[str, dict[tuple[str, str], dict]]) -> dict[tuple[str, str], StoredObject]:
    """(namespace, SUMMARY_NAME) -> the namespace's summary, from kind -> (namespace, name) -> record.

    A summary's data: {"groups": [[array, backend, array status, unknown, [verdicts], volumes,
    [example kind, example name]], ...]}, sorted, so that an unchanged namespace writes no row."""
    counted: dict[str, dict[tuple, list]] = defaultdict(dict)
    verdicts = PerPartyList(_verdicts_of_list)
    for kind, by_key in records.items():
        for (namespace, name), data in by_key.items():
            group = counted[namespace].setdefault(group_of(data, verdicts), [0, (kind, name)])
            group[0] += 1
            group[1] = min(group[1], (kind, name))
    stored = {}
    for namespace, groups in counted.items():
        data = {
            "groups": [
                [array, backend, status, unknown, list(verdicts), n, list(example)]
                for (array, backend, status, unknown, verdicts), (n, example) in sorted(groups.items())
            ]
        }
        stored[(namespace, SUMMARY_NAME)] = StoredObject("", data, digest(data))
    return stored
