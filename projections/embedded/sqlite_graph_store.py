"""Embedded graph read model: nodes and typed edges in SQLite (`graph.db`).

A property graph small enough for a laptop: one table of nodes, one of edges, and the tail
of each conversation session so NEXT_IN_SESSION links can be added in append order.

Edges are keyed by small integers (a node's rowid, an edge kind's code), not by the text
ids the writes name: a text key (`memory:<uuid>`, `entity:<cube>/<hash>`) is ~45-75 bytes,
and each edge sits in two B-trees, so at a million memories the text-keyed graph was
several times larger than the page cache and every random insert read pages back. A node
an edge names before its own UpsertNode arrives (say a DERIVED_FROM source) gets a row
with no kind yet; reads ignore such rows (they have no cube and no state).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from projections.graph_writes import (
    EDGE_KINDS,
    AppendToSession,
    EraseNode,
    GraphWrite,
    RemoveEdges,
    SetNodeState,
    UpsertEdge,
    UpsertNode,
)
from projections.ports import GraphContext, Neighbour, context_in_two_reads, undirected
from projections.checkpoints import require_checkpoint as _require_checkpoint
from streams.embedded.sqlite import Transaction, open_sqlite, recreate_tables
from streams.embedded.sqlite import placeholders as _placeholders

SCHEMA_VERSION = 3  # 1: text-keyed edges; 2: integer-keyed edges; 3: speaker keys (an older file is
# rebuilt from the log)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 0), next_offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    id INTEGER PRIMARY KEY, node_id TEXT NOT NULL UNIQUE, kind TEXT, cube_id TEXT, state TEXT, name TEXT,
    speaker_keys TEXT);
CREATE TABLE IF NOT EXISTS edges (
    kind INTEGER NOT NULL, source INTEGER NOT NULL, target INTEGER NOT NULL, role TEXT,
    PRIMARY KEY (kind, source, target)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_by_target ON edges (target, kind);
CREATE TABLE IF NOT EXISTS session_tails (session_key TEXT PRIMARY KEY, node INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS session_members (node INTEGER PRIMARY KEY, session_key TEXT NOT NULL);
"""

_TABLES = ("nodes", "edges", "session_tails", "session_members", "checkpoint")
_MEMORY_PREFIX = "memory:"
_KIND_CODES = {kind: code for code, kind in enumerate(EDGE_KINDS, start=1)}
_ALL_KINDS = ",".join(str(code) for code in _KIND_CODES.values())
_NEXT, _MENTIONS = _KIND_CODES["NEXT_IN_SESSION"], _KIND_CODES["MENTIONS"]


def _strip(node_id: str) -> str:
    return node_id[len(_MEMORY_PREFIX):] if node_id.startswith(_MEMORY_PREFIX) else node_id


def _kind_code(kind: str) -> int:
    try:
        return _KIND_CODES[kind]
    except KeyError:
        raise ValueError(f"unknown edge kind {kind!r}; the graph knows {', '.join(EDGE_KINDS)}") from None


class _NodeIds:
    """Text id -> rowid within one transaction (the writer holds the database's write lock,
    so no other process can erase or create a node meanwhile; nothing is cached past it)."""

    def __init__(self, tx):
        self._tx = tx
        self._known: dict[str, int] = {}

    def find(self, node_id: str) -> int | None:
        if node_id in self._known:
            return self._known[node_id]
        row = self._tx.execute("SELECT id FROM nodes WHERE node_id = ?", (node_id,)).fetchone()
        if row is not None:
            self._known[node_id] = row[0]
        return row[0] if row else None

    def ensure(self, node_id: str) -> int:
        found = self.find(node_id)
        if found is None:
            found = self._tx.execute("INSERT INTO nodes (node_id) VALUES (?)", (node_id,)).lastrowid
            self._known[node_id] = found
        return found

    def forget(self, node_id: str) -> None:
        self._known.pop(node_id, None)


class SqliteGraphStore:
    """GraphStore adapter over one SQLite file."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._db = open_sqlite(self.path, durable=False)
        self._db.execute("PRAGMA secure_delete=ON")  # erased nodes leave no bytes in freed pages
        if self._db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            # An older layout (or a new file): start empty at checkpoint 0, so the runner
            # rebuilds this read model from the log — a read model is only ever a projection.
            self.reset()
        self._db.executescript(_SCHEMA)

    def checkpoint(self) -> int:
        row = self._db.execute("SELECT next_offset FROM checkpoint WHERE id = 0").fetchone()
        return row[0] if row else 0

    def apply(self, writes: Sequence[GraphWrite], next_offset: int, expected_checkpoint: int | None = None) -> None:
        with Transaction(self._db) as tx:
            _require_checkpoint(tx, expected_checkpoint)
            ids = _NodeIds(tx)
            for write in writes:
                self._apply_one(tx, ids, write)
            tx.execute("INSERT INTO checkpoint (id, next_offset) VALUES (0, ?) "
                       "ON CONFLICT (id) DO UPDATE SET next_offset = excluded.next_offset", (next_offset,))
        if any(isinstance(write, EraseNode) for write in writes):
            # secure_delete zeroed the freed cells; the TRUNCATE checkpoint empties the WAL,
            # whose older frames still hold the pages as they were.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @staticmethod
    def _erase(tx, ids: _NodeIds, node_id: str) -> None:
        node = ids.find(node_id)
        ids.forget(node_id)
        if node is None:
            return
        previous = tx.execute("SELECT source FROM edges WHERE target = ? AND kind = ?", (node, _NEXT)).fetchone()
        following = tx.execute("SELECT target FROM edges WHERE kind = ? AND source = ?", (_NEXT, node)).fetchone()
        if previous and following:
            tx.execute("INSERT OR IGNORE INTO edges VALUES (?, ?, ?, NULL)", (_NEXT, previous[0], following[0]))
        if previous:
            tx.execute("UPDATE session_tails SET node = ? WHERE node = ?", (previous[0], node))
        else:
            tx.execute("DELETE FROM session_tails WHERE node = ?", (node,))
        mentioned = [row[0] for row in tx.execute(
            "SELECT target FROM edges WHERE kind = ? AND source = ?", (_MENTIONS, node))]
        SqliteGraphStore._delete_node(tx, node)
        for entity in mentioned:
            if not tx.execute("SELECT 1 FROM edges WHERE target = ? AND kind = ?", (entity, _MENTIONS)).fetchone():
                entity_id = tx.execute("SELECT node_id FROM nodes WHERE id = ?", (entity,)).fetchone()
                if entity_id:
                    ids.forget(entity_id[0])
                SqliteGraphStore._delete_node(tx, entity)

    @staticmethod
    def _delete_node(tx, node: int) -> None:
        tx.execute(f"DELETE FROM edges WHERE kind IN ({_ALL_KINDS}) AND source = ?", (node,))
        tx.execute("DELETE FROM edges WHERE target = ?", (node,))
        tx.execute("DELETE FROM session_members WHERE node = ?", (node,))
        tx.execute("DELETE FROM nodes WHERE id = ?", (node,))

    @staticmethod
    def _apply_one(tx, ids: _NodeIds, write: GraphWrite) -> None:
        if isinstance(write, UpsertNode):
            tx.execute(
                "INSERT INTO nodes (node_id, kind, cube_id, state, name, speaker_keys) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (node_id) DO UPDATE SET "
                "kind = excluded.kind, cube_id = COALESCE(excluded.cube_id, cube_id), "
                "state = COALESCE(excluded.state, state), name = COALESCE(excluded.name, name), "
                "speaker_keys = excluded.speaker_keys",
                (write.node_id, write.kind, write.cube_id, write.state, write.name,
                 " ".join(write.speaker_keys) or None))
        elif isinstance(write, SetNodeState):
            # a node only named by an edge so far is not there yet: its state comes with it
            tx.execute("UPDATE nodes SET state = ? WHERE node_id = ? AND kind IS NOT NULL", (write.state, write.node_id))
        elif isinstance(write, UpsertEdge):
            tx.execute("INSERT INTO edges VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET role = excluded.role",
                       (_kind_code(write.kind), ids.ensure(write.source), ids.ensure(write.target), write.role))
        elif isinstance(write, RemoveEdges):
            source = ids.find(write.source)
            target = None if write.target is None else ids.find(write.target)
            if source is not None and (write.target is None or target is not None):
                tx.execute("DELETE FROM edges WHERE kind = ? AND source = ? AND (? IS NULL OR target = ?)",
                           (_kind_code(write.kind), source, target, target))
        elif isinstance(write, AppendToSession):
            node = ids.ensure(write.node_id)
            if tx.execute("SELECT 1 FROM session_members WHERE node = ?", (node,)).fetchone():
                return  # appended once already: a re-delivered append must not relink it
            tx.execute("INSERT INTO session_members VALUES (?, ?)", (node, write.session_key))
            row = tx.execute("SELECT node FROM session_tails WHERE session_key = ?", (write.session_key,)).fetchone()
            if row is not None and row[0] != node:
                tx.execute("INSERT OR IGNORE INTO edges VALUES (?, ?, ?, NULL)", (_NEXT, row[0], node))
            tx.execute("INSERT INTO session_tails VALUES (?, ?) ON CONFLICT DO UPDATE SET node = excluded.node",
                       (write.session_key, node))
        elif isinstance(write, EraseNode):
            SqliteGraphStore._erase(tx, ids, write.node_id)
        else:
            raise TypeError(f"unknown graph write {write!r}")

    def reset(self) -> None:
        """As the search index's: dropped and recreated, not deleted row by row (erased nodes
        were zeroed when they were erased; the rest is about to be rebuilt)."""
        recreate_tables(self._db, _TABLES, _SCHEMA)
        self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def cube_roles(self, user_id: str) -> dict[str, str]:
        rows = self._db.execute(
            "SELECT c.cube_id, e.role FROM nodes u JOIN edges e ON e.kind = ? AND e.source = u.id "
            "JOIN nodes c ON c.id = e.target WHERE u.node_id = ? AND c.kind IS NOT NULL",
            (_kind_code("HAS_ROLE"), f"user:{user_id}"))
        return dict(rows.fetchall())

    def memory_neighbours(self, memory_ids: Sequence[str], edge_kinds: Sequence[str],
                          cube_ids: Sequence[str], states: Sequence[str],
                          max_entity_degree: int = 25) -> list[Neighbour]:
        if not memory_ids or not cube_ids or not states:
            return []
        seeds = [_MEMORY_PREFIX + m for m in memory_ids]
        s, c, st = (_placeholders(x) for x in (seeds, cube_ids, states))
        seed_rows = f"seed AS (SELECT id, node_id FROM nodes WHERE node_id IN ({s}))"
        in_scope = f"n.cube_id IN ({c}) AND n.state IN ({st})"
        direct = [_kind_code(kind) for kind in edge_kinds if kind != "MENTIONS"]
        results: list[Neighbour] = []
        if direct:
            k = _placeholders(direct)
            rows = self._db.execute(
                f"WITH {seed_rows} "
                f"SELECT sd.node_id, n.node_id, e.kind FROM seed sd "
                f"JOIN edges e ON e.kind IN ({k}) AND e.source = sd.id JOIN nodes n ON n.id = e.target "
                f"WHERE {in_scope} "
                f"UNION ALL "
                f"SELECT sd.node_id, n.node_id, e.kind FROM seed sd "
                f"JOIN edges e ON e.target = sd.id AND e.kind IN ({k}) JOIN nodes n ON n.id = e.source "
                f"WHERE {in_scope}",
                (*seeds, *direct, *cube_ids, *states, *direct, *cube_ids, *states)).fetchall()
            results += [Neighbour(_strip(a), _strip(b), EDGE_KINDS[code - 1]) for a, b, code in rows]
        if "MENTIONS" in edge_kinds:
            rows = self._db.execute(
                f"WITH {seed_rows}, "
                f"seed_entities AS (SELECT sd.node_id AS seed, sd.id AS seed_id, e.target AS entity FROM seed sd "
                f"  JOIN edges e ON e.kind = {_MENTIONS} AND e.source = sd.id), "
                f"rare AS (SELECT target AS entity FROM edges WHERE target IN (SELECT entity FROM seed_entities) "
                f"  AND kind = {_MENTIONS} GROUP BY target HAVING COUNT(*) <= ?) "
                f"SELECT se.seed, n.node_id FROM seed_entities se JOIN rare r ON r.entity = se.entity "
                f"JOIN edges e ON e.target = se.entity AND e.kind = {_MENTIONS} AND e.source != se.seed_id "
                f"JOIN nodes n ON n.id = e.source WHERE {in_scope}",
                (*seeds, max_entity_degree, *cube_ids, *states)).fetchall()
            results += [Neighbour(_strip(a), _strip(b), "MENTIONS") for a, b in rows]
        return results

    def chain_links(self, memory_ids: Sequence[str], edge_kind: str, hops: int,
                    cube_ids: Sequence[str], states: Sequence[str]) -> set[tuple[str, str]]:
        """Breadth-first, one query per hop: in process, a hop costs no round trip."""
        links: set[tuple[str, str]] = set()
        reached = set(memory_ids)
        frontier = sorted(reached)
        for _ in range(hops):
            if not frontier:
                break
            step = self.memory_neighbours(frontier, (edge_kind,), cube_ids, states)
            links.update(undirected(n.seed_id, n.memory_id) for n in step)
            frontier = sorted({n.memory_id for n in step} - reached)
            reached.update(frontier)
        return links

    def speakers_named(self, memory_ids: Sequence[str], speaker_keys: Sequence[str]) -> set[str]:
        if not memory_ids or not speaker_keys:
            return set()
        nodes = [_MEMORY_PREFIX + m for m in memory_ids]
        rows = self._db.execute(f"SELECT node_id, speaker_keys FROM nodes WHERE node_id IN ({_placeholders(nodes)}) "
                                "AND speaker_keys IS NOT NULL", nodes).fetchall()
        wanted = set(speaker_keys)
        return {_strip(node) for node, keys in rows if not wanted.isdisjoint(keys.split())}

    def retrieval_context(self, memory_ids: Sequence[str], edge_kinds: Sequence[str],
                          cube_ids: Sequence[str], states: Sequence[str], max_entity_degree: int,
                          chain_kind: str, chain_hops: int, speaker_keys: Sequence[str] = ()) -> GraphContext:
        return context_in_two_reads(self, memory_ids, edge_kinds, cube_ids, states, max_entity_degree,
                                    chain_kind, chain_hops, speaker_keys)

    def snapshot(self) -> dict:
        """The graph in text ids (rowids depend on the order nodes were first named)."""
        edges = self._db.execute(
            "SELECT e.kind, s.node_id, t.node_id, COALESCE(e.role, '') FROM edges e "
            "JOIN nodes s ON s.id = e.source JOIN nodes t ON t.id = e.target").fetchall()
        return {
            "checkpoint": self.checkpoint(),
            "nodes": sorted((*row[:-1], tuple(row[-1].split()) if row[-1] else ()) for row in self._db.execute(
                "SELECT node_id, kind, cube_id, state, name, speaker_keys FROM nodes WHERE kind IS NOT NULL")),
            "edges": sorted((EDGE_KINDS[code - 1], source, target, role) for code, source, target, role in edges),
            "session_tails": sorted(self._db.execute(
                "SELECT t.session_key, n.node_id FROM session_tails t JOIN nodes n ON n.id = t.node").fetchall()),
        }

    def close(self) -> None:
        self._db.close()
