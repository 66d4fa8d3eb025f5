"""Property: for any sequence of commands, read models built incrementally equal read models
rebuilt from an empty state by replaying the log (in place, and into a fresh directory)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mos import MOS, MosError
from mos.embedders.hashing import HashingEmbedder
from projections.embedded.sqlite_graph_store import SqliteGraphStore
from projections.embedded.sqlite_search_index import SqliteSearchIndex
from projections.graph_projection import project_graph
from projections.runner import ProjectionRunner
from projections.search_projection import project_search

WORDS = ["Alice", "Bob", "Lisbon", "tea", "marathon", "dog", "Paris", "meeting", "moved", "likes", "the", "on"]
texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)
tags = st.lists(st.sampled_from(["work", "home", "x"]), max_size=2)

commands = st.lists(st.one_of(
    st.tuples(st.just("add"), st.integers(0, 3), st.integers(0, 4), texts, tags),
    st.tuples(st.just("add_many"), st.integers(0, 3), st.integers(0, 4), st.lists(texts, min_size=1, max_size=4)),
    st.tuples(st.just("update"), st.integers(0, 3), st.integers(0, 50), texts),
    st.tuples(st.just("archive"), st.integers(0, 3), st.integers(0, 50)),
    st.tuples(st.just("restore"), st.integers(0, 3), st.integers(0, 50)),
    st.tuples(st.just("merge"), st.integers(0, 3), st.integers(0, 50), st.integers(0, 50)),
    st.tuples(st.just("share"), st.integers(0, 3), st.integers(0, 4), st.integers(0, 3),
              st.sampled_from(["reader", "writer"])),
    st.tuples(st.just("cube"), st.integers(0, 3)),
), max_size=25)

USERS = ["u0", "u1", "u2", "u3"]


def run_command(mos: MOS, cubes: list[str], memories: list[str], command) -> None:
    kind, user = command[0], USERS[command[1]]
    pick = lambda items, i: items[i % len(items)] if items else "missing"  # noqa: E731
    if kind == "add":
        memories.append(mos.add(command[3], user, pick(cubes, command[2]), tags=command[4]))
    elif kind == "add_many":
        memories.extend(mos.add_many([{"text": t} for t in command[3]], user, pick(cubes, command[2])))
    elif kind == "update":
        mos.update(pick(memories, command[2]), user, text=command[3])
    elif kind == "archive":
        mos.archive(pick(memories, command[2]), user)
    elif kind == "restore":
        mos.restore(pick(memories, command[2]), user)
    elif kind == "merge":
        memories.append(mos.merge([pick(memories, command[2]), pick(memories, command[3])], user))
    elif kind == "share":
        mos.share_cube(pick(cubes, command[2]), user, USERS[command[3]], command[4])
    elif kind == "cube":
        cubes.append(mos.create_cube(f"cube-{len(cubes)}", owner=user))


def snapshots(index, graph):
    return index.snapshot(), graph.snapshot()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(commands)
def test_incremental_read_models_equal_a_replay_from_empty(command_list):
    with tempfile.TemporaryDirectory() as tmp:
        embedder = HashingEmbedder(dimension=16)
        with MOS(Path(tmp) / "live", embedder=embedder) as mos:
            for user in USERS:
                mos.create_user(user)
            cubes = [mos.create_cube("common", owner="u0")] + [mos.create_cube(u, owner=u) for u in USERS]
            for user in USERS[1:]:
                mos.share_cube(cubes[0], "u0", user, "writer")
            memories: list[str] = []
            for command in command_list:
                try:
                    run_command(mos, cubes, memories, command)
                except MosError:
                    pass  # rejected commands must leave no trace; the comparison below checks it
            live = snapshots(mos._backend.index, mos._backend.graph)

            fresh_index = SqliteSearchIndex(Path(tmp) / "fresh-search.db", embedder.dimension)
            fresh_graph = SqliteGraphStore(Path(tmp) / "fresh-graph.db")
            ProjectionRunner("search", mos.log, project_search, fresh_index, batch_size=7).catch_up()
            ProjectionRunner("graph", mos.log, project_graph, fresh_graph, batch_size=7).catch_up()
            assert snapshots(fresh_index, fresh_graph) == live
            fresh_index.close()
            fresh_graph.close()

            mos.replay()
            assert snapshots(mos._backend.index, mos._backend.graph) == live
