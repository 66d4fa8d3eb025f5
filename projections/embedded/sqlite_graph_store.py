"""Embedded graph read model: nodes and typed edges in SQLite (`graph.db`).

A property graph small enough for a laptop: one table of nodes, one of edges, and the tail
of each conversation session so NEXT_IN_SESSION links can be added in append order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from projections.graph_writes import (
    AppendToSession,
    EraseNode,
    GraphWrite,
    RemoveEdges,
    SetNodeState,
    UpsertEdge,
    UpsertNode,
)
from projections.ports import Neighbour, undirected
from projections.checkpoints import require_checkpoint as _require_checkpoint
from streams.embedded.sqlite import Transaction, open_sqlite, recreate_tables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 0), next_offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS nodes (
    node_id TEXT PRIMARY KEY, kind TEXT NOT NULL, cube_id TEXT, state TEXT, name TEXT);
CREATE TABLE IF NOT EXISTS edges (
    kind TEXT NOT NULL, source TEXT NOT NULL, target TEXT NOT NULL, role TEXT,
    PRIMARY KEY (kind, source, target)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_by_target ON edges (target, kind);
CREATE INDEX IF NOT EXISTS edges_by_source ON edges (source, kind);
CREATE TABLE IF NOT EXISTS session_tails (session_key TEXT PRIMARY KEY, node_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS session_members (node_id TEXT PRIMARY KEY, session_key TEXT NOT NULL);
"""

_TABLES = ("nodes", "edges", "session_tails", "session_members", "checkpoint")
_MEMORY_PREFIX = "memory:"


def _strip(node_id: str) -> str:
    return node_id[len(_MEMORY_PREFIX):] if node_id.startswith(_MEMORY_PREFIX) else node_id


class SqliteGraphStore:
    """GraphStore adapter over one SQLite file."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._db = open_sqlite(self.path)
        self._db.execute("PRAGMA secure_delete=ON")  # erased nodes leave no bytes in freed pages
        self._db.executescript(_SCHEMA)

    def checkpoint(self) -> int:
        row = self._db.execute("SELECT next_offset FROM checkpoint WHERE id = 0").fetchone()
        return row[0] if row else 0

    def apply(self, writes: Sequence[GraphWrite], next_offset: int, expected_checkpoint: int | None = None) -> None:
        with Transaction(self._db) as tx:
            _require_checkpoint(tx, expected_checkpoint)
            for write in writes:
                self._apply_one(tx, write)
            tx.execute("INSERT INTO checkpoint (id, next_offset) VALUES (0, ?) "
                       "ON CONFLICT (id) DO UPDATE SET next_offset = excluded.next_offset", (next_offset,))
        if any(isinstance(write, EraseNode) for write in writes):
            # secure_delete zeroed the freed cells; the TRUNCATE checkpoint empties the WAL,
            # whose older frames still hold the pages as they were.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    @staticmethod
    def _erase(tx, node_id: str) -> None:
        previous = tx.execute("SELECT source FROM edges WHERE kind = 'NEXT_IN_SESSION' AND target = ?",
                              (node_id,)).fetchone()
        following = tx.execute("SELECT target FROM edges WHERE kind = 'NEXT_IN_SESSION' AND source = ?",
                               (node_id,)).fetchone()
        if previous and following:
            tx.execute("INSERT OR IGNORE INTO edges VALUES ('NEXT_IN_SESSION', ?, ?, NULL)",
                       (previous[0], following[0]))
        if previous:
            tx.execute("UPDATE session_tails SET node_id = ? WHERE node_id = ?", (previous[0], node_id))
        else:
            tx.execute("DELETE FROM session_tails WHERE node_id = ?", (node_id,))
        mentioned = [row[0] for row in tx.execute(
            "SELECT target FROM edges WHERE kind = 'MENTIONS' AND source = ?", (node_id,))]
        tx.execute("DELETE FROM edges WHERE source = ? OR target = ?", (node_id, node_id))
        tx.execute("DELETE FROM session_members WHERE node_id = ?", (node_id,))
        tx.execute("DELETE FROM nodes WHERE node_id = ?", (node_id,))
        for entity in mentioned:
            if not tx.execute("SELECT 1 FROM edges WHERE target = ? AND kind = 'MENTIONS'", (entity,)).fetchone():
                tx.execute("DELETE FROM nodes WHERE node_id = ?", (entity,))
                tx.execute("DELETE FROM edges WHERE source = ? OR target = ?", (entity, entity))

    @staticmethod
    def _apply_one(tx, write: GraphWrite) -> None:
        if isinstance(write, UpsertNode):
            tx.execute(
                "INSERT INTO nodes VALUES (?, ?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET "
                "kind = excluded.kind, cube_id = COALESCE(excluded.cube_id, cube_id), "
                "state = COALESCE(excluded.state, state), name = COALESCE(excluded.name, name)",
                (write.node_id, write.kind, write.cube_id, write.state, write.name))
        elif isinstance(write, SetNodeState):
            tx.execute("UPDATE nodes SET state = ? WHERE node_id = ?", (write.state, write.node_id))
        elif isinstance(write, UpsertEdge):
            tx.execute("INSERT INTO edges VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET role = excluded.role",
                       (write.kind, write.source, write.target, write.role))
        elif isinstance(write, RemoveEdges):
            tx.execute("DELETE FROM edges WHERE kind = ? AND source = ? AND (? IS NULL OR target = ?)",
                       (write.kind, write.source, write.target, write.target))
        elif isinstance(write, AppendToSession):
            if tx.execute("SELECT 1 FROM session_members WHERE node_id = ?", (write.node_id,)).fetchone():
                return  # appended once already: a re-delivered append must not relink it
            tx.execute("INSERT INTO session_members VALUES (?, ?)", (write.node_id, write.session_key))
            row = tx.execute("SELECT node_id FROM session_tails WHERE session_key = ?",
                             (write.session_key,)).fetchone()
            if row is not None and row[0] != write.node_id:
                tx.execute("INSERT OR IGNORE INTO edges VALUES ('NEXT_IN_SESSION', ?, ?, NULL)",
                           (row[0], write.node_id))
            tx.execute("INSERT INTO session_tails VALUES (?, ?) ON CONFLICT DO UPDATE SET node_id = excluded.node_id",
                       (write.session_key, write.node_id))
        elif isinstance(write, EraseNode):
            SqliteGraphStore._erase(tx, write.node_id)
        else:
            raise TypeError(f"unknown graph write {write!r}")

    def reset(self) -> None:
        """As the search index's: dropped and recreated, not deleted row by row (erased nodes
        were zeroed when they were erased; the rest is about to be rebuilt)."""
        recreate_tables(self._db, _TABLES, _SCHEMA)

    def cube_roles(self, user_id: str) -> dict[str, str]:
        rows = self._db.execute(
            "SELECT n.cube_id, e.role FROM edges e JOIN nodes n ON n.node_id = e.target "
            "WHERE e.kind = 'HAS_ROLE' AND e.source = ?", (f"user:{user_id}",))
        return dict(rows.fetchall())

    def memory_neighbours(self, memory_ids: Sequence[str], edge_kinds: Sequence[str],
                          cube_ids: Sequence[str], states: Sequence[str],
                          max_entity_degree: int = 25) -> list[Neighbour]:
        if not memory_ids or not cube_ids or not states:
            return []
        seeds = [_MEMORY_PREFIX + m for m in memory_ids]
        s, c, st = (",".join("?" * len(x)) for x in (seeds, cube_ids, states))
        direct = [k for k in edge_kinds if k != "MENTIONS"]
        results: list[Neighbour] = []
        if direct:
            k = ",".join("?" * len(direct))
            rows = self._db.execute(
                f"SELECT e.source, e.target, e.kind FROM edges e JOIN nodes n ON n.node_id = e.target "
                f"WHERE e.source IN ({s}) AND e.kind IN ({k}) AND n.cube_id IN ({c}) AND n.state IN ({st}) "
                f"UNION ALL "
                f"SELECT e.target, e.source, e.kind FROM edges e JOIN nodes n ON n.node_id = e.source "
                f"WHERE e.target IN ({s}) AND e.kind IN ({k}) AND n.cube_id IN ({c}) AND n.state IN ({st})",
                (*seeds, *direct, *cube_ids, *states) * 2).fetchall()
            results += [Neighbour(_strip(a), _strip(b), kind) for a, b, kind in rows]
        if "MENTIONS" in edge_kinds:
            rows = self._db.execute(
                f"WITH seed_entities AS (SELECT source AS seed, target AS entity FROM edges "
                f"  WHERE kind = 'MENTIONS' AND source IN ({s})), "
                f"rare AS (SELECT target AS entity FROM edges WHERE kind = 'MENTIONS' "
                f"  AND target IN (SELECT entity FROM seed_entities) GROUP BY target HAVING COUNT(*) <= ?) "
                f"SELECT se.seed, e.source FROM seed_entities se JOIN rare r ON r.entity = se.entity "
                f"JOIN edges e ON e.kind = 'MENTIONS' AND e.target = se.entity AND e.source != se.seed "
                f"JOIN nodes n ON n.node_id = e.source WHERE n.cube_id IN ({c}) AND n.state IN ({st})",
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

    def snapshot(self) -> dict:
        return {
            "checkpoint": self.checkpoint(),
            "nodes": sorted(self._db.execute("SELECT * FROM nodes").fetchall()),
            "edges": sorted(self._db.execute("SELECT kind, source, target, COALESCE(role, '') FROM edges").fetchall()),
            "session_tails": sorted(self._db.execute("SELECT * FROM session_tails").fetchall()),
        }

    def close(self) -> None:
        self._db.close()
