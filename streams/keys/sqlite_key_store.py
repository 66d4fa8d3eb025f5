"""Data keys in one SQLite file (`keys.db`), shared by the SDK and the Faust worker.

Destroying a key must leave no copy in the file: `secure_delete` zeroes freed cells and
pages, and a TRUNCATE checkpoint empties the write-ahead log, which would otherwise keep
the old page (with the key) until it is overwritten. Destroyed ids stay listed (without
key material), so a key is never silently re-created for an erased memory.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterable

from streams.embedded.sqlite import Transaction, open_sqlite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (key_id TEXT PRIMARY KEY, key BLOB, created_at INTEGER NOT NULL,
                                      destroyed_at INTEGER) WITHOUT ROWID;
"""
KEY_BYTES = 32  # AES-256


class SqliteKeyStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = open_sqlite(self.path)
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.executescript(_SCHEMA)
        os.chmod(self.path, 0o600)

    def get(self, key_id: str) -> bytes | None:
        row = self._db.execute("SELECT key FROM data_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None:
            raise KeyError(f"no data key {key_id!r} in {self.path}")
        return row[0]

    def create_many(self, key_ids: Iterable[str]) -> dict[str, bytes]:
        wanted = list(dict.fromkeys(key_ids))
        found: dict[str, bytes] = {}
        with Transaction(self._db) as tx:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                rows = tx.execute(f"SELECT key_id, key FROM data_keys WHERE key_id IN ({','.join('?' * len(chunk))})",
                                  chunk).fetchall()
                for key_id, key in rows:
                    if key is None:
                        raise KeyError(f"the data key of {key_id} was destroyed (erased memory)")
                    found[key_id] = key
            missing = [(k, os.urandom(KEY_BYTES), int(time.time() * 1000)) for k in wanted if k not in found]
            tx.executemany("INSERT INTO data_keys (key_id, key, created_at) VALUES (?, ?, ?)", missing)
        found.update({key_id: key for key_id, key, _ in missing})
        return found

    def destroy(self, key_ids: Iterable[str]) -> int:
        ids = list(dict.fromkeys(key_ids))
        now = int(time.time() * 1000)
        destroyed = 0
        with Transaction(self._db) as tx:
            for key_id in ids:
                destroyed += tx.execute("UPDATE data_keys SET key = NULL, destroyed_at = ? "
                                        "WHERE key_id = ? AND key IS NOT NULL", (now, key_id)).rowcount
                tx.execute("INSERT OR IGNORE INTO data_keys (key_id, key, created_at, destroyed_at) "
                           "VALUES (?, NULL, ?, ?)", (key_id, now, now))
        if destroyed:
            # secure_delete zeroed the old cells in the page now in the WAL; the TRUNCATE
            # checkpoint copies that page home and empties the WAL, dropping older frames
            # that still held the key. VACUUM rewrites pages that freelists would keep.
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._db.execute("VACUUM")
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return destroyed

    def close(self) -> None:
        self._db.close()
