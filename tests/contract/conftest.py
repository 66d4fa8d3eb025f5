"""Every adapter of a port runs the same contract tests (one fixture, parametrised)."""

from __future__ import annotations

import pytest

from streams.embedded.sqlite_event_log import SqliteEventLog


@pytest.fixture(params=["sqlite"])
def event_log(request, tmp_path):
    if request.param == "sqlite":
        log = SqliteEventLog(tmp_path / "events.db")
    yield log
    log.close()
