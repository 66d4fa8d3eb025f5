"""Embedded search read model: SQLite FTS5 (BM25) + sqlite-vec (exact cosine kNN) in one file.

Why these engines (bench/vector_engines.py has the numbers): both live inside the same
SQLite transaction as the projection checkpoint, so a crash can never leave the text
index, the vectors and the checkpoint out of step; sqlite-vec's `vec0` table partitions
vectors by cube, so a filtered kNN scans only the caller's cubes and stays exact.
"""

from __future__ import annotations

import json
import struct
from functools import lru_cache
from pathlib import Path
from collections.abc import Iterator
from typing import Any, Sequence

from mos.retrieval.text_analysis import document_terms, stems
from projections.ports import Document, RankedLists, ScoredId, SearchFilter, ranked_lists_in_two_reads
from projections.search_writes import EraseDocument, PatchDocument, ReplaceContent, SearchWrite, UpsertDocument
from projections.checkpoints import require_checkpoint as _require_checkpoint
from streams.embedded.sqlite import Transaction, open_sqlite, recreate_tables
from streams.embedded.sqlite import placeholders as _placeholders

_COLUMNS = (
    "memory_id, cube_id, text, tags_json, metadata_json, memory_type, state, version, created_at, "
    "updated_at, created_by, last_actor, source_app, created_event_id, last_event_id, "
    "derived_from_json, merged_into, tiers_json"
)


def _schema(dimension: int) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 0), next_offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_rowid INTEGER PRIMARY KEY, memory_id TEXT NOT NULL UNIQUE, cube_id TEXT NOT NULL,
    text TEXT NOT NULL, tags_json TEXT NOT NULL, metadata_json TEXT NOT NULL,
    memory_type TEXT NOT NULL, state TEXT NOT NULL, version INTEGER NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, created_by TEXT NOT NULL,
    last_actor TEXT NOT NULL, source_app TEXT NOT NULL, created_event_id TEXT NOT NULL,
    last_event_id TEXT NOT NULL, derived_from_json TEXT NOT NULL, merged_into TEXT,
    tiers_json TEXT NOT NULL, embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_by_cube ON documents (cube_id, state);
CREATE TABLE IF NOT EXISTS document_tags (doc_rowid INTEGER NOT NULL, tag TEXT NOT NULL,
    PRIMARY KEY (tag, doc_rowid)) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts USING fts5(
    text, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 0');
CREATE VIRTUAL TABLE IF NOT EXISTS documents_fts_terms USING fts5vocab(documents_fts, 'instance');
CREATE TABLE IF NOT EXISTS erased (memory_id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS documents_vec USING vec0(
    cube_id TEXT PARTITION KEY, state TEXT, embedding FLOAT[{dimension}] distance_metric=cosine);
"""


_TABLES = ("documents_fts_terms", "documents_fts", "documents_vec", "document_tags", "documents", "erased",
           "checkpoint")


def _rows_by_memory_id(connection, select: str, memory_ids: Sequence[str]) -> Iterator[tuple]:
    """Rows of `select` (a query on a table with a memory_id column) for the distinct
    `memory_ids`, 500 ids per statement: under SQLite's bound-parameter limit."""
    ids = list(dict.fromkeys(memory_ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        yield from connection.execute(f"{select} WHERE memory_id IN ({_placeholders(chunk)})", chunk)


@lru_cache(maxsize=8)
def _float32_packer(length: int) -> struct.Struct:
    return struct.Struct(f"<{length}f")


def _blob(vector: Sequence[float]) -> bytes:
    """Little-endian float32 bytes, as sqlite-vec reads them (a cached `struct` packs a tuple
    of floats ~4x faster than `np.asarray(...).tobytes()`, which a replay pays per memory)."""
    return _float32_packer(len(vector)).pack(*vector)


class SqliteSearchIndex:
    """SearchIndex adapter; one instance per process, thread-safe through SQLite's locking."""

    def __init__(self, path: Path | str, dimension: int):
        self.path = Path(path)
        self.dimension = dimension
        self._db = open_sqlite(self.path, with_vectors=True, durable=False)
        # Freed pages and cells are zeroed, so an erased document leaves no bytes behind.
        self._db.execute("PRAGMA secure_delete=ON")
        self._drop_porter_index()
        self._db.executescript(_schema(dimension))

    def _drop_porter_index(self) -> None:
        """An index written before terms were analysed in Python (FTS5 `porter`) holds other
        terms than queries now look for: drop it whole, so the projection rebuilds it from
        offset 0 with the shared analyser's terms."""
        row = self._db.execute("SELECT sql FROM sqlite_master WHERE name = 'documents_fts'").fetchone()
        if row and "porter" in row[0]:
            for name in _TABLES:
                self._db.execute(f"DROP TABLE IF EXISTS {name}")

    # --- writes -------------------------------------------------------------------------

    def checkpoint(self) -> int:
        row = self._db.execute("SELECT next_offset FROM checkpoint WHERE id = 0").fetchone()
        return row[0] if row else 0

    def apply(self, writes: Sequence[SearchWrite], next_offset: int, expected_checkpoint: int | None = None) -> None:
        erased = 0
        with Transaction(self._db) as tx:
            _require_checkpoint(tx, expected_checkpoint)
            gone = self._erased_among(tx, [write.memory_id for write in writes])
            for write in writes:
                if not isinstance(write, (UpsertDocument, ReplaceContent, PatchDocument, EraseDocument)):
                    raise TypeError(f"unknown search write {write!r}")
                if write.memory_id in gone:
                    continue  # an erased memory stays erased, whatever of its past is replayed
                if isinstance(write, UpsertDocument):
                    self._upsert(tx, write)
                elif isinstance(write, ReplaceContent):
                    self._replace_content(tx, write)
                elif isinstance(write, PatchDocument):
                    self._patch(tx, write)
                else:
                    self._erase(tx, write)
                    gone.add(write.memory_id)
                    erased += 1
            tx.execute("INSERT INTO checkpoint (id, next_offset) VALUES (0, ?) "
                       "ON CONFLICT (id) DO UPDATE SET next_offset = excluded.next_offset", (next_offset,))
        if erased:
            self.purge()

    @staticmethod
    def _erased_among(tx, memory_ids: Sequence[str]) -> set[str]:
        """The erased ones of `memory_ids`: one query per 500 ids, not one per write."""
        return {m for (m,) in _rows_by_memory_id(tx, "SELECT memory_id FROM erased", memory_ids)}

    def _erase(self, tx, w: EraseDocument) -> None:
        rowid = self._rowid(tx, w.memory_id)
        if rowid is not None:
            # vec0 clears a deleted row's validity bit but keeps its vector in the chunk:
            # overwrite the vector first, then delete.
            tx.execute("UPDATE documents_vec SET embedding = ? WHERE rowid = ?",
                       (_blob([0.0] * self.dimension), rowid))
            tx.execute("DELETE FROM documents_vec WHERE rowid = ?", (rowid,))
            tx.execute("DELETE FROM documents_fts WHERE rowid = ?", (rowid,))
            tx.execute("DELETE FROM document_tags WHERE doc_rowid = ?", (rowid,))
            tx.execute("DELETE FROM documents WHERE doc_rowid = ?", (rowid,))
        tx.execute("INSERT OR IGNORE INTO erased VALUES (?)", (w.memory_id,))

    def purge(self, wait_s: float = 0.0) -> bool:
        """Make deletions physical: FTS5 keeps a deleted row's terms in its segments until
        they are merged ('optimize'); secure_delete zeroes the freed pages; the TRUNCATE
        checkpoint empties the WAL, whose frames still hold the pages as they were.
        Complete when it returns (`wait_s` is for adapters that purge in the background)."""
        self._db.execute("INSERT INTO documents_fts (documents_fts) VALUES ('optimize')")
        self._db.execute("VACUUM")
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return True

    def _rowid(self, tx, memory_id: str) -> int | None:
        row = tx.execute("SELECT doc_rowid FROM documents WHERE memory_id = ?", (memory_id,)).fetchone()
        return row[0] if row else None

    def _upsert(self, tx, w: UpsertDocument) -> None:
        if self._rowid(tx, w.memory_id) is not None:
            return  # a memory is created once; a re-delivered creation is a no-op
        embedding = _blob(w.embedding)
        cursor = tx.execute(
            f"INSERT INTO documents ({_COLUMNS}, embedding) VALUES ({_placeholders(range(19))})",
            (w.memory_id, w.cube_id, w.text, json.dumps(list(w.tags)), w.metadata_json, w.memory_type,
             w.state, w.version, w.created_at, w.created_at, w.created_by, w.created_by, w.source_app,
             w.created_event_id, w.created_event_id, json.dumps(list(w.derived_from)), None, "[]",
             embedding),
        )
        rowid = cursor.lastrowid
        tx.execute("INSERT INTO documents_fts (rowid, text) VALUES (?, ?)", (rowid, document_terms(w.text)))
        tx.execute("INSERT INTO documents_vec (rowid, cube_id, state, embedding) VALUES (?, ?, ?, ?)",
                   (rowid, w.cube_id, w.state, embedding))
        if w.tags:
            tx.executemany("INSERT INTO document_tags VALUES (?, ?)", [(rowid, t) for t in w.tags])

    def _current(self, tx, memory_id: str, write) -> tuple | None:
        """(rowid, cube_id, state, merged_into, tiers_json) if `write` is newer than the
        document; None for a stale or duplicate write (versions make writes idempotent)."""
        row = tx.execute("SELECT doc_rowid, cube_id, state, merged_into, tiers_json, version FROM documents "
                         "WHERE memory_id = ?", (memory_id,)).fetchone()
        if row is None:
            raise KeyError(f"{type(write).__name__} for unknown memory {memory_id}")
        return row[:5] if write.version > row[5] else None

    def _replace_content(self, tx, w: ReplaceContent) -> None:
        current = self._current(tx, w.memory_id, w)
        if current is None:
            return
        rowid, cube_id, state = current[:3]
        tx.execute(
            "UPDATE documents SET text = ?, tags_json = ?, metadata_json = ?, embedding = ?, version = ?, "
            "updated_at = ?, last_event_id = ?, last_actor = ? WHERE doc_rowid = ?",
            (w.text, json.dumps(list(w.tags)), w.metadata_json, _blob(w.embedding), w.version,
             w.updated_at, w.last_event_id, w.last_actor, rowid),
        )
        tx.execute("DELETE FROM documents_fts WHERE rowid = ?", (rowid,))
        tx.execute("INSERT INTO documents_fts (rowid, text) VALUES (?, ?)", (rowid, document_terms(w.text)))
        tx.execute("DELETE FROM documents_vec WHERE rowid = ?", (rowid,))
        tx.execute("INSERT INTO documents_vec (rowid, cube_id, state, embedding) VALUES (?, ?, ?, ?)",
                   (rowid, cube_id, state, _blob(w.embedding)))
        tx.execute("DELETE FROM document_tags WHERE doc_rowid = ?", (rowid,))
        tx.executemany("INSERT INTO document_tags VALUES (?, ?)", [(rowid, t) for t in w.tags])

    def _patch(self, tx, w: PatchDocument) -> None:
        current = self._current(tx, w.memory_id, w)
        if current is None:
            return
        rowid, _, state, merged_into, tiers_json = current
        tiers = [] if w.clear_tiers else json.loads(tiers_json)
        if w.add_tier and w.add_tier not in tiers:
            tiers = sorted(tiers + [w.add_tier])
        if w.remove_tier:
            tiers = [t for t in tiers if t != w.remove_tier]
        new_state = w.state or state
        tx.execute(
            "UPDATE documents SET state = ?, merged_into = ?, tiers_json = ?, version = ?, updated_at = ?, "
            "last_event_id = ?, last_actor = ? WHERE doc_rowid = ?",
            (new_state, w.merged_into or merged_into, json.dumps(tiers), w.version, w.updated_at,
             w.last_event_id, w.last_actor, rowid),
        )
        if new_state != state:
            tx.execute("UPDATE documents_vec SET state = ? WHERE rowid = ?", (new_state, rowid))

    def reset(self) -> None:
        """Dropped and recreated (`recreate_tables`), not deleted row by row."""
        recreate_tables(self._db, _TABLES, _schema(self.dimension))

    # --- queries ------------------------------------------------------------------------

    def _filter_sql(self, where: SearchFilter, alias: str = "d") -> tuple[str, list]:
        clauses = [f"{alias}.cube_id IN ({_placeholders(where.cube_ids)})",
                   f"{alias}.state IN ({_placeholders(where.states)})"]
        params: list = [*where.cube_ids, *where.states]
        for tag in where.tags_all:
            clauses.append(f"EXISTS (SELECT 1 FROM document_tags t WHERE t.tag = ? AND t.doc_rowid = {alias}.doc_rowid)")
            params.append(tag)
        for key, value in where.metadata_equals.items():
            clauses.append(f"json_extract({alias}.metadata_json, ?) = json_extract(?, '$')")
            params += [f'$."{key}"', json.dumps(value)]
        return " AND ".join(clauses), params

    def bm25(self, terms: Sequence[str], where: SearchFilter, k: int) -> list[ScoredId]:
        terms = stems(terms)
        if not terms or not where.cube_ids or not where.states:
            return []
        match = " OR ".join('"' + term + '"' for term in terms)  # stems are letters and digits only
        clause, params = self._filter_sql(where)
        rows = self._db.execute(
            f"SELECT d.memory_id, bm25(documents_fts) AS rank FROM documents_fts "
            f"JOIN documents d ON d.doc_rowid = documents_fts.rowid "
            f"WHERE documents_fts MATCH ? AND {clause} ORDER BY rank LIMIT ?",
            (match, *params, k),
        ).fetchall()
        return [ScoredId(memory_id, -rank) for memory_id, rank in rows]

    def knn(self, vector: Sequence[float], where: SearchFilter, k: int) -> list[ScoredId]:
        """A zero vector has no direction, so it is nobody's neighbour: no hits, as on
        Elasticsearch (which refuses it for cosine)."""
        if not where.cube_ids or not where.states or not any(vector):
            return []
        query = _blob(vector)
        if where.tags_all or where.metadata_equals:  # exact scan restricted by SQL filters
            clause, params = self._filter_sql(where)
            rows = self._db.execute(
                f"SELECT d.memory_id, vec_distance_cosine(d.embedding, ?) AS distance FROM documents d "
                f"WHERE {clause} ORDER BY distance LIMIT ?", (query, *params, k)).fetchall()
        else:
            rows = self._db.execute(
                f"SELECT d.memory_id, v.distance FROM documents_vec v JOIN documents d ON d.doc_rowid = v.rowid "
                f"WHERE v.embedding MATCH ? AND v.k = ? AND v.cube_id IN ({_placeholders(where.cube_ids)}) "
                f"AND v.state IN ({_placeholders(where.states)}) ORDER BY v.distance LIMIT ?",
                (query, k, *where.cube_ids, *where.states, k)).fetchall()  # vec0's k is per partition
        return [ScoredId(memory_id, 1.0 - distance) for memory_id, distance in rows]

    def bm25_and_knn(self, terms: Sequence[str], vector: Sequence[float], where: SearchFilter,
                     k: int) -> tuple[list[ScoredId], list[ScoredId]]:
        """In process there is no round trip to save: the two queries, one after the other."""
        return self.bm25(terms, where, k), self.knn(vector, where, k)

    def ranked_lists(self, terms: Sequence[str], vector: Sequence[float], where: SearchFilter, k: int,
                     metadata_key: str) -> RankedLists:
        return ranked_lists_in_two_reads(self, terms, vector, where, k, metadata_key)

    def documents(self, memory_ids: Sequence[str]) -> dict[str, Document]:
        return {row[0]: _document(row) for row in _rows_by_memory_id(
            self._db, f"SELECT {_COLUMNS} FROM documents", memory_ids)}

    def metadata_values(self, memory_ids: Sequence[str], key: str) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for memory_id, metadata_json in _rows_by_memory_id(
                self._db, "SELECT memory_id, metadata_json FROM documents", memory_ids):
            metadata = json.loads(metadata_json)
            if isinstance(metadata, dict) and key in metadata:
                found[memory_id] = metadata[key]
        return found

    def list_documents(self, where: SearchFilter, limit: int, offset: int) -> list[Document]:
        if not where.cube_ids or not where.states:
            return []
        clause, params = self._filter_sql(where)
        rows = self._db.execute(
            f"SELECT {', '.join('d.' + c.strip() for c in _COLUMNS.split(','))} FROM documents d "
            f"WHERE {clause} ORDER BY d.created_at, d.memory_id LIMIT ? OFFSET ?", (*params, limit, offset))
        return [_document(row) for row in rows]

    def snapshot(self) -> dict:
        """Every document with its embedding, its vector row and its postings in the text index."""
        docs = {row[0]: (_document(row), bytes(row[-1])) for row in self._db.execute(
            f"SELECT {_COLUMNS}, embedding FROM documents")}
        vectors = {rowid: (cube, state, bytes(emb)) for rowid, cube, state, emb in self._db.execute(
            "SELECT v.rowid, v.cube_id, v.state, v.embedding FROM documents_vec v")}
        rowids = dict(self._db.execute("SELECT doc_rowid, memory_id FROM documents").fetchall())
        vec_by_memory = {rowids[rowid]: value for rowid, value in vectors.items() if rowid in rowids}
        postings = sorted((term, rowids.get(rowid, "<orphan>"), offset) for term, rowid, offset in self._db.execute(
            "SELECT term, doc, offset FROM documents_fts_terms"))
        erased = sorted(m for (m,) in self._db.execute("SELECT memory_id FROM erased"))
        return {"checkpoint": self.checkpoint(), "documents": docs, "vectors": vec_by_memory,
                "orphans": len(vectors) - len(vec_by_memory), "postings": postings, "erased": erased}

    def close(self) -> None:
        self._db.close()


def _document(row) -> Document:
    (memory_id, cube_id, text, tags_json, metadata_json, memory_type, state, version, created_at,
     updated_at, created_by, last_actor, source_app, created_event_id, last_event_id,
     derived_from_json, merged_into, tiers_json) = row[:18]
    return Document(memory_id, cube_id, text, tuple(json.loads(tags_json)), json.loads(metadata_json),
                    memory_type, state, version, created_at, updated_at, created_by, last_actor,
                    source_app, created_event_id, last_event_id, tuple(json.loads(derived_from_json)),
                    merged_into, tuple(json.loads(tiers_json)))
