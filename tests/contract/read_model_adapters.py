"""Factories of every read-model adapter the contract suite runs against.

Each factory takes pytest's `tmp_path` and returns a fresh, empty adapter. Server-backed
adapters (Elasticsearch, Neo4j) get their endpoints from `streams.services` and isolate
each test by a unique index name / database label.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable

from projections.embedded.sqlite_graph_store import SqliteGraphStore
from projections.embedded.sqlite_search_index import SqliteSearchIndex

DIM = 4


def sqlite_index(tmp_path: Path) -> SqliteSearchIndex:
    return SqliteSearchIndex(tmp_path / "search.db", DIM)


def elasticsearch_index(tmp_path: Path):
    from projections.elasticsearch.search_index import ElasticsearchSearchIndex
    from streams.services import endpoints_for_tests

    url = endpoints_for_tests(("elasticsearch",)).es_url
    return ElasticsearchSearchIndex(url, f"mos-test-{uuid.uuid4().hex[:12]}", DIM, delete_on_close=True)


def sqlite_graph(tmp_path: Path) -> SqliteGraphStore:
    return SqliteGraphStore(tmp_path / "graph.db")


def neo4j_graph(tmp_path: Path):
    from projections.neo4j.graph_store import Neo4jGraphStore
    from streams.services import endpoints_for_tests

    return Neo4jGraphStore(endpoints_for_tests(("neo4j",)).neo4j_uri, namespace=f"test-{uuid.uuid4().hex[:12]}",
                           drop_on_close=True)


SEARCH_INDEXES: dict[str, Callable] = {"sqlite": sqlite_index, "elasticsearch": elasticsearch_index}
GRAPH_STORES: dict[str, Callable] = {"sqlite": sqlite_graph, "neo4j": neo4j_graph}
