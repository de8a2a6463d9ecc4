"""The end of each snapshot task (inventory/memory.py): cycles collected, what survives frozen out
of the next collections' reach, and every `FULL_EVERY`-th release collecting the whole heap."""

import gc
import weakref

import pytest

from inventory import memory


class Leaf:
    pass


class Node:
    def __init__(self):
        self.other = self  # a cycle: only the cyclic collector frees it


@pytest.fixture(autouse=True)
def _a_fresh_count(monkeypatch):
    monkeypatch.setattr(memory, "_since_full", 0)
    gc.unfreeze()  # whatever another test of this process froze
    yield
    gc.unfreeze()


def test_a_cycle_dropped_before_the_release_is_collected_and_what_lives_is_frozen():
    survivor, garbage = Node(), Node()
    dead = weakref.ref(garbage)
    del garbage
    memory.release_freed_memory()
    assert dead() is None
    assert gc.get_freeze_count() > 0 and survivor not in gc.get_objects()  # frozen: not in a generation


def test_a_frozen_cycle_dropped_later_is_collected_by_the_next_full_release():
    frozen = Node()
    memory.release_freed_memory()
    dead = weakref.ref(frozen)
    del frozen
    for _ in range(memory.FULL_EVERY - 2):
        memory.release_freed_memory()
    assert dead() is not None  # a frozen cycle waits for the full release...
    memory.release_freed_memory()
    assert dead() is None  # ...which unfreezes and collects everything


def test_a_frozen_object_without_a_cycle_is_freed_when_dropped():
    kept = Leaf()
    memory.release_freed_memory()
    dead = weakref.ref(kept)
    del kept
    assert dead() is None  # its reference count freed it at once, frozen or not
