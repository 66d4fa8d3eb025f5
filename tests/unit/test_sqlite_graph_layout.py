"""The embedded graph's storage layout: integer-keyed edges, rebuilt from the log when a
file of an older layout is opened, and strict about edge kinds."""

from __future__ import annotations

import sqlite3

import pytest

from mos import MOS
from mos.embedders.hashing import HashingEmbedder
from projections.embedded.sqlite_graph_store import SCHEMA_VERSION, SqliteGraphStore
from projections.graph_writes import UpsertEdge, UpsertNode


def _home_with_memories(path) -> dict:
    with MOS(path, embedder=HashingEmbedder(), record_access=False) as mos:
        mos.create_user("alice")
        cube = mos.create_cube("notes", owner="alice")
        for text in ("Alice met Bob in Paris", "Bob moved to Berlin", "Alice visited Berlin"):
            mos.add(text, "alice", cube)
        return mos._backend.graph.snapshot()


def test_a_graph_file_of_an_older_layout_is_rebuilt_from_the_log(tmp_path):
    built = _home_with_memories(tmp_path)
    with sqlite3.connect(tmp_path / "graph.db") as db:  # the text-keyed layout of version 1
        db.executescript(
            "DROP TABLE edges; CREATE TABLE edges (kind TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL, "
            "role TEXT, PRIMARY KEY (kind, source, target)) WITHOUT ROWID; "
            "INSERT INTO edges VALUES ('HAS_ROLE', 'user:alice', 'cube:x', 'owner'); PRAGMA user_version = 1;")
    with MOS(tmp_path, embedder=HashingEmbedder(), record_access=False) as mos:
        mos.search("Berlin", "alice")
        assert mos._backend.graph.snapshot() == built
    with sqlite3.connect(tmp_path / "graph.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_edges_reference_nodes_by_rowid_not_by_text(tmp_path):
    _home_with_memories(tmp_path)
    with sqlite3.connect(tmp_path / "graph.db") as db:
        types = db.execute("SELECT DISTINCT typeof(kind), typeof(source), typeof(target) FROM edges").fetchall()
    assert types == [("integer", "integer", "integer")]


def test_an_unknown_edge_kind_is_refused_and_changes_nothing(tmp_path):
    graph = SqliteGraphStore(tmp_path / "graph.db")
    graph.apply([UpsertNode("user:alice", "User")], next_offset=1)
    before = graph.snapshot()
    with pytest.raises(ValueError, match="unknown edge kind 'LIKES'"):
        graph.apply([UpsertNode("user:bob", "User"), UpsertEdge("LIKES", "user:alice", "user:bob")], next_offset=2)
    assert graph.snapshot() == before
    graph.close()


def test_a_role_on_a_cube_not_yet_upserted_grants_nothing_until_the_cube_exists(tmp_path):
    """An edge may name a node before that node's own UpsertNode (a placeholder row); as in
    Neo4j, the placeholder is no cube, so it gives the user no role yet."""
    graph = SqliteGraphStore(tmp_path / "graph.db")
    graph.apply([UpsertNode("user:u", "User"), UpsertEdge("HAS_ROLE", "user:u", "cube:c1", "owner")], next_offset=1)
    assert graph.cube_roles("u") == {}
    graph.apply([UpsertNode("cube:c1", "Cube", "c1")], next_offset=2)
    assert graph.cube_roles("u") == {"c1": "owner"}
    graph.close()
