"""A Neo4j graph projected with an older layout (no `layout` on its checkpoint: memory nodes
without speaker keys) is deleted when a store opens it, so the runner rebuilds it from the
log, as the embedded graph does on its `user_version`; one of the current layout is kept."""

from __future__ import annotations

import uuid

from projections.graph_writes import UpsertNode
from projections.neo4j.graph_store import LAYOUT, Neo4jGraphStore
from streams.services import endpoints_for_tests


def _store(namespace: str) -> Neo4jGraphStore:
    return Neo4jGraphStore(endpoints_for_tests(("neo4j",)).neo4j_uri, namespace=namespace)


def test_a_graph_of_an_older_layout_is_deleted_to_be_rebuilt_and_a_current_one_is_kept():
    namespace = f"test-layout-{uuid.uuid4().hex[:10]}"
    store = _store(namespace)
    try:
        store.apply([UpsertNode("memory:a", "Memory", cube_id="c1", state="active")], next_offset=7)
        kept = _store(namespace)
        assert kept.checkpoint() == 7 and kept.snapshot()["nodes"]
        kept.close()
        with store._driver.session() as session:  # as a store of the older layout left it
            session.run("MATCH (c:MosCheckpoint {namespace: $ns}) REMOVE c.layout", ns=namespace).consume()
        reopened = _store(namespace)
        assert reopened.checkpoint() == 0 and reopened.snapshot()["nodes"] == []
        reopened.apply([UpsertNode("memory:a", "Memory", cube_id="c1", state="active")], next_offset=1)
        with store._driver.session() as session:
            layout = session.run("MATCH (c:MosCheckpoint {namespace: $ns}) RETURN c.layout AS layout",
                                 ns=namespace).single()["layout"]
        assert layout == LAYOUT
        reopened.close()
    finally:
        store.drop()
        store.close()
