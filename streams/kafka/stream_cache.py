"""A local, rebuildable copy of the Kafka log indexed by stream key.

Kafka answers "everything from offset N" well and "every event of memory X" not at all.
Commands need the latter (to load an aggregate and check its version), so the Kafka event
log keeps this cache: a projection of the topic like any other read model, with its own
checkpoint, safe to delete at any time (it is re-read from the topic).

First writer wins: if two events ever claim the same (stream_key, version) — possible only
if two writers bypass the transactional fencing — the later one is recorded as a loser and
left out of every stream, exactly as the version-guarded read models ignore it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from streams.embedded.sqlite import Transaction, open_sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoint (id INTEGER PRIMARY KEY CHECK (id = 0), next_offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY, stream_key TEXT NOT NULL, version INTEGER NOT NULL,
    event_id TEXT NOT NULL, payload BLOB NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS events_by_stream ON events (stream_key, version);
CREATE TABLE IF NOT EXISTS losers (position INTEGER PRIMARY KEY, stream_key TEXT NOT NULL,
    version INTEGER NOT NULL, event_id TEXT NOT NULL);
"""


class StreamCache:
    def __init__(self, path: Path | str):
        self._db = open_sqlite(path)
        self._db.executescript(_SCHEMA)

    def checkpoint(self) -> int:
        row = self._db.execute("SELECT next_offset FROM checkpoint WHERE id = 0").fetchone()
        return row[0] if row else 0

    def add(self, rows: Iterable[tuple[int, str, int, str, bytes]], next_offset: int) -> None:
        """Store (offset, stream_key, version, event_id, payload) rows read from the topic."""
        with Transaction(self._db) as tx:
            for offset, stream_key, version, event_id, payload in rows:
                if tx.execute("SELECT 1 FROM events WHERE position = ?", (offset,)).fetchone():
                    continue  # re-read after a crash: already cached
                taken = tx.execute("SELECT 1 FROM events WHERE stream_key = ? AND version = ?",
                                   (stream_key, version)).fetchone()
                if taken:
                    tx.execute("INSERT OR IGNORE INTO losers VALUES (?, ?, ?, ?)",
                               (offset, stream_key, version, event_id))
                else:
                    tx.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?)",
                               (offset, stream_key, version, event_id, payload))
            tx.execute("INSERT INTO checkpoint VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET "
                       "next_offset = MAX(next_offset, excluded.next_offset)", (next_offset,))

    def version(self, stream_key: str) -> int:
        row = self._db.execute("SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_key = ?",
                               (stream_key,)).fetchone()
        return row[0]

    def stream(self, stream_key: str) -> list[bytes]:
        return [payload for (payload,) in self._db.execute(
            "SELECT payload FROM events WHERE stream_key = ? ORDER BY version", (stream_key,))]

    def offsets_of(self, event_ids: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(event_ids), 500):
            chunk = event_ids[start:start + 500]
            found.update(self._db.execute(
                f"SELECT event_id, position FROM events WHERE event_id IN ({','.join('?' * len(chunk))})",
                chunk).fetchall())
        return found

    def close(self) -> None:
        self._db.close()
