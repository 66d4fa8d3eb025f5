"""How the Neo4j adapter splits a batch into statements: one per write type between
order-sensitive writes. (That the result equals applying the writes one by one is held by
tests/neo4j/test_neo4j_graph_equivalence.py against the SQLite graph.)"""

from __future__ import annotations

from projections.neo4j.graph_store import phases


def rows(*types: str) -> list[dict]:
    return [{"t": t, "n": i} for i, t in enumerate(types)]


def shape(batch: list[dict]) -> list[tuple[str, list[int]]]:
    return [(kind, [row["n"] for row in group]) for kind, group in phases(batch)]


def test_commuting_writes_are_gathered_by_type_keeping_their_order():
    batch = rows("UpsertNode", "UpsertEdge", "AppendToSession", "UpsertNode", "UpsertEdge", "AppendToSession")
    assert shape(batch) == [("UpsertNode", [0, 3]), ("UpsertEdge", [1, 4]), ("AppendToSession", [2, 5])]


def test_an_order_sensitive_write_runs_after_everything_before_it_and_before_everything_after():
    batch = rows("UpsertNode", "UpsertEdge", "RemoveEdges", "UpsertEdge", "EraseNode", "UpsertNode")
    assert shape(batch) == [("UpsertNode", [0]), ("UpsertEdge", [1]), ("RemoveEdges", [2]),
                            ("UpsertEdge", [3]), ("EraseNode", [4]), ("UpsertNode", [5])]


def test_consecutive_order_sensitive_writes_of_one_type_share_a_statement():
    assert shape(rows("SetNodeState", "SetNodeState", "EraseNode", "EraseNode", "SetNodeState")) == [
        ("SetNodeState", [0, 1]), ("EraseNode", [2, 3]), ("SetNodeState", [4])]


def test_an_empty_batch_has_no_statements():
    assert phases([]) == []
