"""Neo4j tests run against a real server (`streams.services.endpoints_for_tests`); each
test gets its own namespace, dropped when the test ends."""

from __future__ import annotations

import uuid

import pytest

from projections.embedded.sqlite_graph_store import SqliteGraphStore


@pytest.fixture(scope="session")
def neo4j_uri() -> str:
    from streams.services import endpoints_for_tests

    return endpoints_for_tests(("neo4j",)).neo4j_uri


@pytest.fixture
def neo4j_graph(neo4j_uri):
    from projections.neo4j.graph_store import Neo4jGraphStore

    store = Neo4jGraphStore(neo4j_uri, namespace=f"test-{uuid.uuid4().hex[:12]}", drop_on_close=True)
    yield store
    store.close()


@pytest.fixture
def sqlite_graph(tmp_path):
    store = SqliteGraphStore(tmp_path / "graph.db")
    yield store
    store.close()
