"""Access signals: what the scheduler's heat is made of (both backends)."""

from __future__ import annotations

import pytest

from mos.domain.errors import InvalidInput, NotFound
from mos.domain.events import MemoryAccessed


def _accesses(mos, memory_id):
    return [e for e in mos.log.read_stream(f"access:{memory_id}") if isinstance(e, MemoryAccessed)]


def test_searches_emit_batched_access_events_that_never_bump_the_memory_version(mos, alice_cube):
    memory = mos.add("Alice keeps bees on the roof.", "alice", alice_cube)
    for _ in range(5):
        assert mos.search("bees on the roof", "alice", top_k=1)[0].memory_id == memory
    assert _accesses(mos, memory) == []  # buffered, not one append per search
    assert mos.flush_access() == 1
    [event] = _accesses(mos, memory)
    assert event.count == 5 and event.accessed_by == "alice" and event.cube_id == alice_cube
    assert mos.get(memory, "alice").version == 1


def test_record_access_counts_other_uses_and_rejects_unknown_memories(mos, alice_cube):
    memory = mos.add("Alice's locker code is 4-1-7.", "alice", alice_cube)
    mos.record_access([memory, memory], "alice")
    head = mos.log.head()
    with pytest.raises(NotFound):
        mos.record_access([memory, "no-such-memory"], "alice")
    with pytest.raises(InvalidInput):
        mos.record_access(memory, "alice")
    mos.flush_access()
    assert [e.count for e in _accesses(mos, memory)] == [2]  # the refused call recorded nothing
    assert mos.log.head() > head


def test_other_users_cannot_record_access_to_a_cube_they_cannot_see(mos, alice_cube):
    memory = mos.add("Alice's secret recipe uses cardamom.", "alice", alice_cube)
    mos.create_user("mallory")
    with pytest.raises(NotFound):
        mos.record_access([memory], "mallory")
