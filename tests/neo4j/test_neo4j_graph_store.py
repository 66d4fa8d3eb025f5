"""What is specific to the Neo4j graph store: its property-graph shape, namespaces that never
see each other, and write orders whose result depends on applying writes one at a time."""

from __future__ import annotations

import uuid
from dataclasses import astuple

import pytest

from projections.graph_writes import (
    AppendToSession,
    RemoveEdges,
    SetNodeState,
    UpsertEdge,
    UpsertNode,
)

ORDER_CASES = {
    "remove_then_upsert_keeps_the_new_edge": [
        UpsertEdge("MENTIONS", "memory:a", "entity:x"), RemoveEdges("MENTIONS", "memory:a"),
        UpsertEdge("MENTIONS", "memory:a", "entity:y")],
    "state_of_a_node_not_yet_upserted_is_ignored": [
        UpsertEdge("DERIVED_FROM", "memory:a", "memory:b"), SetNodeState("memory:b", "merged"),
        UpsertNode("memory:b", "Memory", cube_id="c1")],
    "upserts_coalesce_and_the_last_kind_wins": [
        UpsertNode("memory:a", "Entity", name="n"), UpsertNode("memory:a", "Memory", cube_id="c1", state="active"),
        SetNodeState("memory:a", "archived"), UpsertNode("memory:a", "Memory", cube_id="c2")],
    "edge_role_is_overwritten_even_by_none": [
        UpsertEdge("HAS_ROLE", "user:u", "cube:c1", role="owner"), UpsertEdge("HAS_ROLE", "user:u", "cube:c1")],
    "session_tail_moves_in_append_order": [
        AppendToSession("c1", "memory:a"), AppendToSession("c1", "memory:b"),
        RemoveEdges("NEXT_IN_SESSION", "memory:a"), AppendToSession("c1", "memory:c"),
        AppendToSession("c1/s", "memory:d")],
    "self_loops_are_kept": [
        UpsertNode("memory:a", "Memory", cube_id="c1", state="active"),
        UpsertEdge("DERIVED_FROM", "memory:a", "memory:a")],
}


@pytest.mark.parametrize("writes", ORDER_CASES.values(), ids=ORDER_CASES.keys())
def test_write_order_gives_the_sqlite_graph(sqlite_graph, neo4j_graph, writes):
    for store in (sqlite_graph, neo4j_graph):
        store.apply(writes, next_offset=1)
    assert neo4j_graph.snapshot() == sqlite_graph.snapshot()
    query = (["DERIVED_FROM", "NEXT_IN_SESSION", "MENTIONS"], ["c1", "c2"], ["active", "archived"])
    assert sorted(map(astuple, neo4j_graph.memory_neighbours(["a", "b"], *query))) == \
        sorted(map(astuple, sqlite_graph.memory_neighbours(["a", "b"], *query)))


def test_nodes_carry_their_kind_as_a_label_and_edges_their_kind_as_a_type(neo4j_graph):
    neo4j_graph.apply([UpsertNode("user:u", "User"), UpsertNode("cube:c1", "Cube", cube_id="c1"),
                       UpsertEdge("HAS_ROLE", "user:u", "cube:c1", role="owner"),
                       UpsertNode("memory:a", "Memory", cube_id="c1", state="active"),
                       UpsertNode("memory:a", "Entity")], next_offset=1)
    records, _, _ = neo4j_graph._driver.execute_query(
        "MATCH (n:MosNode {namespace: $ns}) OPTIONAL MATCH (n)-[r]->() "
        "RETURN n.node_id AS id, labels(n) AS labels, collect(type(r)) AS types", ns=neo4j_graph.namespace)
    shape = {r["id"]: (sorted(r["labels"]), r["types"]) for r in records}
    assert shape == {"user:u": (["MosNode", "User"], ["HAS_ROLE"]), "cube:c1": (["Cube", "MosNode"], []),
                     "memory:a": (["Entity", "MosNode"], [])}


def test_namespaces_are_isolated(neo4j_uri, neo4j_graph):
    from projections.neo4j.graph_store import Neo4jGraphStore

    other = Neo4jGraphStore(neo4j_uri, namespace=f"test-{uuid.uuid4().hex[:12]}", drop_on_close=True)
    try:
        writes = [UpsertNode("memory:a", "Memory", cube_id="c1", state="active"), AppendToSession("c1", "memory:a"),
                  UpsertNode("memory:b", "Memory", cube_id="c1", state="active"), AppendToSession("c1", "memory:b")]
        neo4j_graph.apply(writes, next_offset=2)
        other.apply(writes[:2], next_offset=1)
        assert other.snapshot()["edges"] == [] and other.checkpoint() == 1
        assert other.memory_neighbours(["a"], ["NEXT_IN_SESSION"], ["c1"], ["active"]) == []
        other.reset()
        assert neo4j_graph.checkpoint() == 2 and len(neo4j_graph.snapshot()["nodes"]) == 2
    finally:
        other.close()
