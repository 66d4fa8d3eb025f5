"""The Neo4j graph store holds the same graph as the embedded SQLite one for the same events:
equal snapshots, equal neighbours, equal roles — and re-delivered batches change nothing."""

from __future__ import annotations

import json
from itertools import count

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mos.domain import cube as cubes
from mos.domain import memory as memories
from mos.domain.commands import CommandContext
from projections.graph_projection import project_graph
from projections.graph_writes import (
    EDGE_KINDS,
    AppendToSession,
    RemoveEdges,
    SetNodeState,
    UpsertEdge,
    UpsertNode,
)


def context(actor: str) -> CommandContext:
    ticks, ids = count(1_700_000_000_000), count(1)
    return CommandContext(actor=actor, source_app="test", clock=lambda: next(ticks),
                          new_id=lambda: f"event-{actor}-{next(ids)}")


def content(text: str, session: str | None = None) -> memories.MemoryContentValues:
    metadata = json.dumps({"session_id": session} if session else {})
    return memories.MemoryContentValues(text, (), metadata, (1.0, 0.0), "test")


def history() -> list:
    """Users, two cubes, shares, memories in two sessions with shared entities, an update, a
    merge, an archive and a restore — in the order an app would append them."""
    alice, bob = context("alice"), context("bob")
    events = [cubes.create_user(alice, "alice"), cubes.create_user(bob, "bob"), cubes.create_user(alice, "carol"),
              cubes.create_cube(alice, "work", "Work", "alice"), cubes.create_cube(bob, "home", "Home", "bob")]
    work = cubes.rebuild_cube([events[3]])
    events += [cubes.share_cube(work, alice, "bob", "writer"), cubes.share_cube(work, alice, "carol", "reader")]
    texts = [("w1", "work", "Alice met Bob in Berlin about the Atlas project", "s1"),
             ("w2", "work", "The Atlas launch slipped to Q3 after Berlin review", "s1"),
             ("w3", "work", "Carol owns the Zephyr budget", "s2"),
             ("w4", "work", "Zephyr and Atlas share the Berlin office", None),
             ("w5", "work", "Lunch with Dana at Nopa", "s2"),
             ("h1", "home", "Bob bought a Trek bike in Berlin", None),
             ("h2", "home", "Bob rides the Trek to Potsdam", None)]
    state = {}
    for memory_id, cube_id, text, session in texts:
        created = memories.create(bob if cube_id == "home" else alice, memory_id, cube_id, content(text, session))
        events.append(created)
        state[memory_id] = memories.rebuild([created])
    updated = memories.update(state["w3"], alice, content("Carol and Dana own the Zephyr and Nopa budgets", "s2"))
    events.append(updated)
    state["w3"] = memories.evolve(state["w3"], updated)
    merged = memories.merge([state["w1"], state["w2"]], alice, "w6",
                            content("Atlas launch slipped to Q3 after the Berlin meeting with Bob", "s1"))
    events += merged
    archived = memories.archive(state["w5"], alice)
    events.append(archived)
    events.append(memories.restore(memories.evolve(state["w5"], archived), alice))
    events.append(memories.archive(state["h2"], bob))
    return events


def apply_in_batches(store, events, size: int = 4) -> None:
    for start in range(0, len(events), size):
        batch = events[start:start + size]
        store.apply([w for event in batch for w in project_graph(event)], next_offset=start + len(batch))


NEIGHBOUR_QUERIES = [
    (["NEXT_IN_SESSION"], ["work"], ["active"]),
    (["MENTIONS"], ["work"], ["active"]),
    (["MENTIONS"], ["work", "home"], ["active", "archived", "merged"]),
    (["DERIVED_FROM", "MERGED_INTO"], ["work"], ["active", "merged"]),
    (list(EDGE_KINDS), ["work", "home"], ["active", "archived", "merged"]),
]


def neighbours(store, seeds, query, max_degree=25):
    return sorted(store.memory_neighbours(seeds, *query, max_entity_degree=max_degree),
                  key=lambda n: (n.seed_id, n.memory_id, n.edge_kind))


def test_projected_history_gives_equal_snapshots_roles_and_neighbours(sqlite_graph, neo4j_graph):
    events = history()
    apply_in_batches(sqlite_graph, events)
    apply_in_batches(neo4j_graph, events)
    assert neo4j_graph.snapshot() == sqlite_graph.snapshot()
    assert neo4j_graph.checkpoint() == len(events)
    for user in ("alice", "bob", "carol", "nobody"):
        assert neo4j_graph.cube_roles(user) == sqlite_graph.cube_roles(user)
    seeds = ["w1", "w2", "w3", "w4", "w5", "w6", "h1", "h2"]
    for query in NEIGHBOUR_QUERIES:
        for max_degree in (1, 2, 25):
            for some in ([seed] for seed in seeds):
                assert neighbours(neo4j_graph, some, query, max_degree) == neighbours(sqlite_graph, some, query,
                                                                                    max_degree)
            assert neighbours(neo4j_graph, seeds, query, max_degree) == neighbours(sqlite_graph, seeds, query,
                                                                                 max_degree)
    assert neighbours(neo4j_graph, ["w6"], NEIGHBOUR_QUERIES[1])  # the check above is not vacuous


def test_redelivered_batch_changes_nothing(sqlite_graph, neo4j_graph):
    events = history()
    writes = [w for event in events for w in project_graph(event)]
    neo4j_graph.apply(writes, next_offset=len(events))
    once = neo4j_graph.snapshot()
    neo4j_graph.apply(writes, next_offset=len(events))  # at-least-once delivery
    assert neo4j_graph.snapshot() == once
    sqlite_graph.apply(writes, next_offset=len(events))
    assert once == sqlite_graph.snapshot()


def test_failed_batch_then_redelivery_equals_applying_once(neo4j_graph):
    events = history()
    first, rest = events[:8], events[8:]
    neo4j_graph.apply([w for e in first for w in project_graph(e)], next_offset=8)
    before = neo4j_graph.snapshot()
    rest_writes = [w for e in rest for w in project_graph(e)]
    with pytest.raises(TypeError):
        neo4j_graph.apply(rest_writes + [object()], next_offset=len(events))
    assert neo4j_graph.snapshot() == before
    neo4j_graph.apply(rest_writes, next_offset=len(events))
    after = neo4j_graph.snapshot()
    neo4j_graph.reset()
    assert neo4j_graph.snapshot() == {"checkpoint": 0, "nodes": [], "edges": [], "session_tails": []}
    apply_in_batches(neo4j_graph, events, size=len(events))
    assert neo4j_graph.snapshot() == after


def test_a_moved_checkpoint_rejects_the_batch(neo4j_graph):
    from projections.runner import CheckpointMoved

    neo4j_graph.apply([UpsertNode("user:alice", "User")], next_offset=1)
    with pytest.raises(CheckpointMoved):
        neo4j_graph.apply([UpsertNode("user:bob", "User")], next_offset=2, expected_checkpoint=0)
    assert neo4j_graph.checkpoint() == 1 and len(neo4j_graph.snapshot()["nodes"]) == 1


_IDS = st.sampled_from(["memory:a", "memory:b", "memory:c", "entity:x", "entity:y", "cube:c1", "user:u"])
_KIND = st.sampled_from(["Memory", "Entity", "Cube"])
_OPTIONAL = st.none() | st.sampled_from(["c1", "c2"])
_STATE = st.none() | st.sampled_from(["active", "archived"])
_EDGE = st.sampled_from(["MENTIONS", "NEXT_IN_SESSION", "DERIVED_FROM", "HAS_ROLE"])
_SPEAKER_KEYS = st.lists(st.sampled_from(["k1", "k2", "k3"]), max_size=2, unique=True).map(lambda keys: tuple(sorted(keys)))
_WRITE = st.one_of(
    st.builds(UpsertNode, _IDS, _KIND, _OPTIONAL, _STATE, st.none() | st.just("n"), _SPEAKER_KEYS),
    st.builds(SetNodeState, _IDS, st.sampled_from(["active", "archived", "merged"])),
    st.builds(UpsertEdge, _EDGE, _IDS, _IDS, st.none() | st.sampled_from(["owner", "reader"])),
    st.builds(RemoveEdges, _EDGE, _IDS),
    st.just("append"),
)


def _with_fresh_appends(draws: list) -> list:
    """Each AppendToSession links a node never appended before (as the projection does)."""
    fresh = count()
    return [AppendToSession(f"c{i % 2}", f"memory:s{next(fresh)}") if w == "append" else w
            for i, w in enumerate(draws)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_WRITE, max_size=12), min_size=1, max_size=4))
def test_any_write_sequence_gives_the_sqlite_graph(sqlite_graph, neo4j_graph, batches):
    """Order matters (remove-then-upsert, state after upsert, session tails): the one-query
    UNWIND must give what applying the writes one at a time gives."""
    sqlite_graph.reset()
    neo4j_graph.reset()
    appended = _with_fresh_appends([w for batch in batches for w in batch])
    for offset, batch in enumerate(batches, start=1):
        writes, appended = appended[:len(batch)], appended[len(batch):]
        sqlite_graph.apply(writes, offset)
        neo4j_graph.apply(writes, offset)
    assert neo4j_graph.snapshot() == sqlite_graph.snapshot()
    for user in ("u",):
        assert neo4j_graph.cube_roles(user) == sqlite_graph.cube_roles(user)
    query = (["MENTIONS", "NEXT_IN_SESSION", "DERIVED_FROM"], ["c1", "c2"], ["active", "archived"])
    for max_degree in (1, 25):
        assert neighbours(neo4j_graph, ["a", "b", "c", "s0"], query, max_degree) == \
            neighbours(sqlite_graph, ["a", "b", "c", "s0"], query, max_degree)
    for kinds in (query[0], ["NEXT_IN_SESSION"], ["DERIVED_FROM", "MENTIONS"]):
        for hops in (1, 2):
            assert retrieval_context(neo4j_graph, kinds, hops) == retrieval_context(sqlite_graph, kinds, hops)


def retrieval_context(store, kinds: list[str], hops: int) -> tuple:
    """The one-read context (Neo4j walks the chain from fewer starts, one hop further: see
    `cypher.chain_links_through_neighbours`), comparable across stores."""
    found = store.retrieval_context(["a", "b", "c", "s0", "s1"], kinds, ["c1", "c2"], ["active"], 25,
                                    "NEXT_IN_SESSION", hops, ["k1", "k3"])
    return (sorted(found.neighbours, key=lambda n: (n.seed_id, n.memory_id, n.edge_kind)), found.chain,
            found.speakers_named)


_NODES = [f"m{i}" for i in range(10)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(archived=st.sets(st.sampled_from(_NODES)), elsewhere=st.sets(st.sampled_from(_NODES), max_size=2),
       extra_next=st.lists(st.tuples(st.sampled_from(_NODES), st.sampled_from(_NODES)), max_size=4),
       derived=st.lists(st.tuples(st.sampled_from(_NODES), st.sampled_from(_NODES)), max_size=4),
       seeds=st.lists(st.sampled_from(_NODES + ["absent"]), min_size=1, max_size=4, unique=True),
       hops=st.integers(1, 3), kinds=st.sampled_from([("NEXT_IN_SESSION", "DERIVED_FROM"), ("NEXT_IN_SESSION",),
                                                      ("DERIVED_FROM",), ("NEXT_IN_SESSION", "MENTIONS")]),
       speakers=st.dictionaries(st.sampled_from(_NODES), _SPEAKER_KEYS),
       asked=st.lists(st.sampled_from(["k1", "k2", "k3"]), max_size=2))
def test_retrieval_context_walks_the_same_chain_as_the_sqlite_graph(sqlite_graph, neo4j_graph, archived, elsewhere,
                                                                   extra_next, derived, seeds, hops, kinds,
                                                                   speakers, asked):
    """Over a session chain with archived gaps, memories of another cube, stray
    NEXT_IN_SESSION edges (not a line; loops too) and DERIVED_FROM links: Neo4j's one query
    (which reads the seeds' chain neighbours off the chain and walks it from fewer starts:
    `cypher.retrieval_context_on_the_chain`) finds what the embedded store's reads find, the
    neighbours whose speaker the asked keys name included."""
    writes = [w for name in _NODES for w in (
        UpsertNode(f"memory:{name}", "Memory", cube_id="c2" if name in elsewhere else "c1",
                   state="archived" if name in archived else "active", speaker_keys=speakers.get(name, ())),
        AppendToSession("c1", f"memory:{name}"))]
    writes += [UpsertEdge("NEXT_IN_SESSION", f"memory:{a}", f"memory:{b}") for a, b in extra_next]
    writes += [UpsertEdge("DERIVED_FROM", f"memory:{a}", f"memory:{b}") for a, b in derived if a != b]
    found = []
    for store in (sqlite_graph, neo4j_graph):
        store.reset()
        store.apply(writes, 1)
        context = store.retrieval_context(seeds, kinds, ["c1"], ["active"], 25, "NEXT_IN_SESSION", hops, asked)
        found.append((sorted(context.neighbours, key=lambda n: (n.seed_id, n.memory_id, n.edge_kind)),
                      context.chain, context.speakers_named))
    assert found[0] == found[1]
