"""A rule's judgement of one item (a claim, a pod), kept by the worker for its next analysis of the
cluster and reused while the item's inputs are the very objects it was judged from.

From one snapshot to the next, an unchanged object is the same Python object: its kept form
(inventory/kept_reuse.py), its pod view (workloads.py `KeptPodViews`), its access record
(arrays/volume_access.py `RecordMemo`).  A judgement made from the same objects under the same
settings is the same judgement, so a 1% churn need not judge the 99% again.  Inputs are compared
by identity, except text, numbers, booleans and None, compared by value; the memory holds the
inputs, so an identity can never be that of a freed object whose address was reused.  Whatever a
rule reads to judge an item must be among its inputs (tests/test_kept_judgements.py checks that a
cluster remembering judges exactly as one judging everything anew).
"""

from collections.abc import Callable, Hashable
from typing import TypeVar

T = TypeVar("T")
_VALUES = (str, int, float, bool, type(None))


class KeptJudgements:
    """One rule's judgements in one analysis: those of the last analysis offered, this one's noted."""

    def __init__(self, settings: str, earlier: "KeptJudgements | None" = None):
        self.settings = settings  # the admin's decisions they were made under (their digest)
        self._earlier = earlier.judged if earlier is not None and earlier.settings == settings else {}
        self.judged: dict[Hashable, tuple[tuple, object]] = {}
        self.kept = 0

    def judge(self, key: Hashable, inputs: tuple, judging: Callable[..., T], *args) -> T:
        """`judging(*args)`, unless the last analysis judged `key` from the same inputs: its judgement."""
        earlier = self._earlier.get(key)
        if earlier is not None and _same(earlier[0], inputs):
            outcome = earlier[1]
            self.kept += 1
        else:
            outcome = judging(*args)
        self.judged[key] = (inputs, outcome)
        return outcome

    def done(self) -> "KeptJudgements":
        """What the next analysis may reuse: this one's judgements only."""
        self._earlier = {}
        return self


def _same(earlier: tuple, now: tuple) -> bool:
    if len(earlier) != len(now):
        return False
    pairs = zip(earlier, now, strict=True)
    return all(a is b or (type(a) in _VALUES and type(a) is type(b) and a == b) for a, b in pairs)
