"""One way to open SQLite for MOS: WAL journal, durable commits, vector extension loaded.

`sqlean` is the stdlib `sqlite3` API over a recent SQLite build that can load extensions
(the interpreter's own sqlite3 often cannot), so `sqlite-vec` works everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlean
import sqlite_vec

IntegrityError = sqlean.IntegrityError
OperationalError = sqlean.OperationalError
CACHE_KIB = 128 * 1024  # per connection, an upper bound: pages are only cached once read


def open_sqlite(path: Path | str, *, with_vectors: bool = False, durable: bool = True) -> sqlean.Connection:
    """Open `path` in autocommit mode: callers use explicit BEGIN IMMEDIATE … COMMIT.

    `durable` (the default; the event log and the key store) sets `synchronous=FULL`: every
    COMMIT is fsynced before it returns, which is what "append" promises — an acknowledged
    event survives a power cut. Read models open with `durable=False` (`synchronous=NORMAL`):
    a power cut may roll back their last commits, but never corrupts them, and each commit
    carries its own checkpoint, so a rolled-back batch is simply projected again from the
    log. That spares one fsync per projected batch.
    """
    connection = sqlean.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30.0)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    connection.execute("PRAGMA foreign_keys=ON")
    # SQLite's default page cache is 2 MB: past ~100k memories the read models' B-trees
    # (random uuid keys) no longer fit and every insert reads pages back from the OS.
    connection.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    if with_vectors:
        connection.enable_load_extension(True)
        sqlite_vec.load(connection)
        connection.enable_load_extension(False)
    return connection


def placeholders(values: Sequence) -> str:
    """`?,?,…`: one bound parameter per value, for an `IN (…)` list."""
    return ",".join("?" * len(values))


class Transaction:
    """`with Transaction(conn):` — BEGIN IMMEDIATE, COMMIT on success, ROLLBACK on error."""

    def __init__(self, connection: sqlean.Connection):
        self._connection = connection

    def __enter__(self) -> sqlean.Connection:
        self._connection.execute("BEGIN IMMEDIATE")
        return self._connection

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self._connection.execute("COMMIT")
        else:
            self._connection.execute("ROLLBACK")


def recreate_tables(connection: sqlean.Connection, tables: Sequence[str], schema: str) -> None:
    """Drop `tables` and run `schema` (a script of `;`-separated statements, none with a `;`
    inside) in ONE transaction: a crash leaves the old tables or the new empty ones.

    secure_delete is off meanwhile: dropping under it zeroes every freed page (about 1 s per
    20k search documents, minutes at 1M). Read models call this to be rebuilt from the log;
    content erased earlier was already purged physically when it was erased."""
    connection.execute("PRAGMA secure_delete=OFF")
    try:
        with Transaction(connection) as tx:
            for table in tables:
                tx.execute(f"DROP TABLE IF EXISTS {table}")
            for statement in (part.strip() for part in schema.split(";")):
                if statement:
                    tx.execute(statement)
    finally:
        connection.execute("PRAGMA secure_delete=ON")
