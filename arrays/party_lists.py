"""What is worked out of an access record's list of parties, once per list.

A volume admitted by its chain of rules alone holds the chain's list itself (arrays/admission.py
`Admissions.of`), so thousands of records share one list: the access summaries, the node sets and
the rules work each list out once.  Free of imports, so that the rules may use it.
"""

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerPartyList(Generic[T]):
    """`work_out(parties)`, once per list: keyed by the list's identity, each list held here too, so
    that no identity is reused while this lives."""

    def __init__(self, work_out: Callable[[list], T]):
        self._work_out = work_out
        self._found: dict[int, tuple[list, T]] = {}

    def __call__(self, parties: list) -> T:
        found = self._found.get(id(parties))
        if found is None:
            found = self._found[id(parties)] = (parties, self._work_out(parties))
        return found[1]
