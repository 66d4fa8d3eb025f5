"""Factories of every read-model adapter the contract suite runs against.

Each factory takes pytest's `tmp_path` and returns a fresh, empty adapter. Server-backed
adapters (Elasticsearch, Neo4j) get their endpoints from `streams.services` and isolate
each test by a unique index name / database label.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from projections.embedded.sqlite_graph_store import SqliteGraphStore
from projections.embedded.sqlite_search_index import SqliteSearchIndex

DIM = 4


def sqlite_index(tmp_path: Path) -> SqliteSearchIndex:
    return SqliteSearchIndex(tmp_path / "search.db", DIM)


def sqlite_graph(tmp_path: Path) -> SqliteGraphStore:
    return SqliteGraphStore(tmp_path / "graph.db")


SEARCH_INDEXES: dict[str, Callable] = {"sqlite": sqlite_index}
GRAPH_STORES: dict[str, Callable] = {"sqlite": sqlite_graph}
