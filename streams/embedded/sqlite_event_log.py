"""The embedded event log: an append-only SQLite file (`events.db`).

Rows are only ever inserted: triggers abort any UPDATE or DELETE, so the log cannot be
edited in place even by a buggy caller. Each row holds the Avro single-object encoded
event plus the envelope columns needed to index it (offset, stream key, version).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator, Sequence

from mos.domain.errors import Conflict, InvalidInput
from mos.domain.events import Event, RecordedEvent
from streams.avro_codec import AvroEventCodec
from streams.embedded.sqlite import IntegrityError, Transaction, open_sqlite
from streams.subscription import follow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    position    INTEGER PRIMARY KEY,
    event_id    TEXT    NOT NULL UNIQUE,
    stream_key  TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    event_type  TEXT    NOT NULL,
    occurred_at INTEGER NOT NULL,
    payload     BLOB    NOT NULL,
    UNIQUE (stream_key, version)
);
CREATE TRIGGER IF NOT EXISTS events_are_immutable_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only: events cannot be updated'); END;
CREATE TRIGGER IF NOT EXISTS events_are_immutable_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only: events cannot be deleted'); END;
"""


def check_stream_versions(events: Sequence[Event], current_version) -> None:
    """Raise Conflict unless each stream's events continue its current version without gaps.

    `current_version(stream_key) -> int` reports the stored version (0 for a new stream).
    Shared by every EventLog adapter so all of them enforce the same rule.
    """
    expected: dict[str, int] = {}
    for event in events:
        if event.stream_key not in expected:
            expected[event.stream_key] = current_version(event.stream_key) + 1
        if event.version != expected[event.stream_key]:
            raise Conflict(
                f"stream {event.stream_key} is at version {expected[event.stream_key] - 1}; "
                f"event {event.type_name} expected to write version {event.version}"
            )
        expected[event.stream_key] += 1


def _default_codec(path: Path) -> AvroEventCodec:
    keystore = path.parent / "keys.db"
    if not keystore.exists():
        return AvroEventCodec.from_directory()
    from streams.keys import ContentSealer, SqliteKeyStore

    return AvroEventCodec.from_directory(sealer=ContentSealer(SqliteKeyStore(keystore)))


class SqliteEventLog:
    """EventLog adapter over one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path | str, codec: AvroEventCodec | None = None):
        """Without `codec`, a `keys.db` beside the log (an embedded MOS data directory) is
        used to open sealed memory content; without one, content is read and written clear."""
        self.path = Path(path)
        self.codec = codec or _default_codec(self.path)
        self._connection = open_sqlite(self.path)
        self._connection.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def append(self, events: Sequence[Event]) -> list[RecordedEvent]:
        if not events:
            return []
        payloads = self.codec.encode_all(events)  # fail before touching the log
        with self._lock, Transaction(self._connection) as tx:
            check_stream_versions(events, self._stream_version)
            start = tx.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM events").fetchone()[0]
            rows = [
                (start + i, e.event_id, e.stream_key, e.version, e.type_name, e.occurred_at, payload)
                for i, (e, payload) in enumerate(zip(events, payloads))
            ]
            try:
                tx.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            except IntegrityError as exc:
                raise Conflict(f"append rejected: {exc}") from None
        return [RecordedEvent(start + i, e) for i, e in enumerate(events)]

    def _stream_version(self, stream_key: str) -> int:
        row = self._connection.execute(
            "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_key = ?", (stream_key,)
        ).fetchone()
        return row[0]

    def read(self, from_offset: int = 0, limit: int | None = None) -> Iterator[RecordedEvent]:
        if from_offset < 0:
            raise InvalidInput(f"offset must be >= 0, got {from_offset}")
        page = 1000 if limit is None else min(limit, 1000)
        remaining = limit
        position = from_offset
        while remaining is None or remaining > 0:
            rows = self._connection.execute(
                "SELECT position, payload FROM events WHERE position >= ? ORDER BY position LIMIT ?",
                (position, page if remaining is None else min(page, remaining)),
            ).fetchall()
            if not rows:
                return
            for offset, payload in rows:
                yield RecordedEvent(offset, self.codec.decode(payload))
            position = rows[-1][0] + 1
            if remaining is not None:
                remaining -= len(rows)

    def read_stream(self, stream_key: str) -> list[Event]:
        rows = self._connection.execute(
            "SELECT payload FROM events WHERE stream_key = ? ORDER BY version", (stream_key,)
        ).fetchall()
        return [self.codec.decode(payload) for (payload,) in rows]

    def head(self) -> int:
        return self._connection.execute("SELECT COALESCE(MAX(position) + 1, 0) FROM events").fetchone()[0]

    def subscribe(self, from_offset: int = 0, poll_interval: float = 0.1,
                  stop_when_idle: bool = False) -> Iterator[RecordedEvent]:
        return follow(lambda offset, limit: self.read(offset, limit), from_offset, poll_interval, stop_when_idle)

    def raw_payloads(self) -> Iterator[tuple[int, bytes]]:
        """(offset, stored bytes) of every event — for audits and tests of immutability."""
        yield from self._connection.execute("SELECT position, payload FROM events ORDER BY position")

    def close(self) -> None:
        self._connection.close()
