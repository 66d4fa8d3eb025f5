"""The memory lifecycle state machine: legal transitions emit one event, illegal ones raise."""

from __future__ import annotations

import itertools

import pytest

from mos.domain import memory as m
from mos.domain.commands import CommandContext
from mos.domain.errors import InvalidInput, InvalidTransition

CONTENT = m.MemoryContentValues("text", (), "{}", (1.0,), "test")


def ctx():
    counter = itertools.count()
    return CommandContext(actor="alice", clock=lambda: 1000, new_id=lambda: f"e{next(counter)}")


def memory_in(state: str, tiers=()) -> m.Memory:
    memory = m.evolve(None, m.create(ctx(), "m1", "c1", CONTENT))
    if state == "archived":
        memory = m.evolve(memory, m.archive(memory, ctx()))
    if state == "merged":
        other = m.evolve(None, m.create(ctx(), "m2", "c1", CONTENT))
        events = m.merge([memory, other], ctx(), "m3", CONTENT)
        memory = m.evolve(memory, events[1])
    for tier in tiers:
        memory = m.evolve(memory, m.promote(memory, ctx(), tier))
    return memory


COMMANDS = {
    "update": lambda mem: m.update(mem, ctx(), CONTENT),
    "archive": lambda mem: m.archive(mem, ctx()),
    "restore": lambda mem: m.restore(mem, ctx()),
    "promote": lambda mem: m.promote(mem, ctx(), "activation"),
}
# (state, command) -> state after, or None when the command is illegal in that state.
TRANSITIONS = {
    ("active", "update"): "active", ("active", "archive"): "archived", ("active", "restore"): None,
    ("active", "promote"): "active",
    ("archived", "update"): None, ("archived", "archive"): None, ("archived", "restore"): "active",
    ("archived", "promote"): None,
    ("merged", "update"): None, ("merged", "archive"): None, ("merged", "restore"): None,
    ("merged", "promote"): None,
}


@pytest.mark.parametrize("state, command", list(TRANSITIONS), ids=[f"{s}-{c}" for s, c in TRANSITIONS])
def test_transition_table(state, command):
    memory = memory_in(state)
    expected = TRANSITIONS[(state, command)]
    if expected is None:
        with pytest.raises(InvalidTransition, match=f"cannot {command}"):
            COMMANDS[command](memory)
        return
    event = COMMANDS[command](memory)
    assert event.version == memory.version + 1
    assert event.stream_key == "memory:m1"
    assert m.evolve(memory, event).state.value == expected


def test_merge_emits_target_creation_then_one_merged_event_per_source():
    a = memory_in("active")
    b = m.evolve(None, m.create(ctx(), "m2", "c1", CONTENT))
    created, *merged = m.merge([a, b], ctx(), "m9", CONTENT)
    assert created.memory_id == "m9" and created.derived_from == ("m1", "m2")
    assert [e.memory_id for e in merged] == ["m1", "m2"]
    assert all(e.target_memory_id == "m9" and e.provenance.causation_id == created.event_id for e in merged)


@pytest.mark.parametrize("sources, error", [
    (lambda a, b: [a], InvalidInput),
    (lambda a, b: [a, a], InvalidInput),
    (lambda a, b: [a, m.evolve(None, m.create(ctx(), "m7", "other-cube", CONTENT))], InvalidInput),
    (lambda a, b: [a, m.evolve(b, m.archive(b, ctx()))], InvalidTransition),
])
def test_merge_rejects_bad_sources(sources, error):
    a = memory_in("active")
    b = m.evolve(None, m.create(ctx(), "m2", "c1", CONTENT))
    with pytest.raises(error):
        m.merge(sources(a, b), ctx(), "m9", CONTENT)


def test_promotion_is_per_tier_and_demotion_needs_a_promotion():
    memory = memory_in("active", tiers=["activation"])
    assert memory.tiers == {"activation"}
    with pytest.raises(InvalidTransition, match="already promoted"):
        m.promote(memory, ctx(), "activation")
    with pytest.raises(InvalidTransition, match="not promoted to parametric"):
        m.demote(memory, ctx(), "parametric")
    with pytest.raises(InvalidInput):
        m.promote(memory, ctx(), "gpu")
    demoted = m.evolve(memory, m.demote(memory, ctx(), "activation"))
    assert demoted.tiers == frozenset()


def test_merging_drops_promotions_of_the_source():
    memory = memory_in("merged")
    assert memory.state is m.MemoryState.MERGED and memory.merged_into == "m3" and memory.tiers == frozenset()
