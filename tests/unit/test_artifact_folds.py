"""The model runtime's view of the log, as pure folds: promoted sets and live artifacts."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from mos.domain import artifacts as a
from mos.domain import memory as m
from mos.domain.commands import CommandContext
from mos.domain.errors import MosError

CONTENT = m.MemoryContentValues("text", (), "{}", (1.0,), "test")
_ids = itertools.count()


def ctx():
    return CommandContext(actor="alice", clock=lambda: 1000, new_id=lambda: f"e{next(_ids)}")


ACTIONS = st.lists(st.tuples(
    st.sampled_from(["promote-a", "promote-p", "demote-a", "demote-p", "update", "archive", "restore", "merge"]),
    st.integers(0, 3), st.integers(0, 3)), max_size=40)


@settings(max_examples=150, deadline=None)
@given(ACTIONS)
def test_promoted_sets_equal_what_the_memory_aggregates_say(actions):
    """For any command sequence, the fold's promoted set of a (cube, tier) is exactly the active
    memories whose own state has that tier: the runtime never builds from a stale view."""
    memories = {f"m{i}": m.evolve(None, m.create(ctx(), f"m{i}", "c1", CONTENT)) for i in range(4)}
    state = a.PromotionState.empty()
    new_ids = itertools.count(10)
    for action, first, second in actions:
        memory = memories[f"m{first}"]
        try:
            if action.startswith(("promote", "demote")):
                tier = "activation" if action.endswith("-a") else "parametric"
                decide = m.promote if action.startswith("promote") else m.demote
                events = [decide(memory, ctx(), tier)]
            elif action == "update":
                events = [m.update(memory, ctx(), CONTENT)]
            elif action in ("archive", "restore"):
                events = [getattr(m, action)(memory, ctx())]
            else:
                events = m.merge([memory, memories[f"m{second}"]], ctx(), f"m{next(new_ids)}", CONTENT)
        except MosError:
            continue
        for event in events:
            memories[event.memory_id] = m.evolve(memories.get(event.memory_id), event)
            state, _ = a.evolve_promotions(state, event)
    for tier in m.TIERS:
        expected = sorted((mid, mem.version) for mid, mem in memories.items()
                          if tier in mem.tiers and mem.state is m.MemoryState.ACTIVE)
        assert state.promoted_set("c1", tier) == expected


def _built(registry, artifact_id, tier="activation"):
    artifact = a.BuiltArtifact(artifact_id, "c1", tier, a.TIER_KINDS[tier], "tiny", "f" * 64, "m" * 64, "c" * 64,
                               10, ("m1",), ("e1",))
    return a.built(registry, ctx(), artifact)


def test_a_new_artifact_supersedes_the_live_one_of_its_tier_in_one_append():
    registry = a.ArtifactRegistry.empty()
    for event in _built(registry, "kv-1"):
        registry = a.evolve_registry(registry, event)
    events = _built(registry, "kv-2")
    assert [e.type_name for e in events] == ["ArtifactBuilt", "ArtifactDropped"]
    assert [e.version for e in events] == [2, 3] and events[0].replaces_artifact_id == "kv-1"
    for event in events:
        registry = a.evolve_registry(registry, event)
    assert registry.live[("c1", "activation")].artifact_id == "kv-2"
    assert a.evolve_registry(registry, events[-1]) == registry  # re-folding an event changes nothing


def test_tiers_are_independent_and_dropping_an_empty_tier_appends_nothing():
    registry = a.ArtifactRegistry.empty()
    for event in _built(registry, "kv-1"):
        registry = a.evolve_registry(registry, event)
    for event in _built(registry, "lora-1", "parametric"):
        registry = a.evolve_registry(registry, event)
    assert sorted(x.artifact_id for x in registry.of_cube("c1")) == ["kv-1", "lora-1"]
    [drop] = a.dropped(registry, ctx(), ("c1", "activation"), "no promoted memories left")
    registry = a.evolve_registry(registry, drop)
    assert [x.artifact_id for x in registry.of_cube("c1")] == ["lora-1"]
    assert a.dropped(registry, ctx(), ("c1", "activation"), "again") == []
