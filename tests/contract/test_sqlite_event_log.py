"""What the embedded adapter adds to the contract: a file that survives reopening and that
rejects in-place edits."""

from __future__ import annotations

import pytest

from streams.embedded.sqlite import open_sqlite
from streams.embedded.sqlite_event_log import SqliteEventLog
from tests.contract.test_event_log_contract import user_event


def test_events_survive_reopening_the_file(tmp_path):
    log = SqliteEventLog(tmp_path / "events.db")
    log.append([user_event("a")])
    log.close()
    reopened = SqliteEventLog(tmp_path / "events.db")
    assert [r.event.user_id for r in reopened.read()] == ["a"]
    assert reopened.head() == 1


@pytest.mark.parametrize("statement", ["UPDATE events SET stream_key = 'x'", "DELETE FROM events"])
def test_stored_events_cannot_be_updated_or_deleted(tmp_path, statement):
    log = SqliteEventLog(tmp_path / "events.db")
    log.append([user_event("a")])
    raw = open_sqlite(tmp_path / "events.db")
    with pytest.raises(Exception, match="append-only"):
        raw.execute(statement)
    assert log.head() == 1


def test_the_log_runs_in_wal_mode_with_full_sync(tmp_path):
    log = SqliteEventLog(tmp_path / "events.db")
    assert log._connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert log._connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
