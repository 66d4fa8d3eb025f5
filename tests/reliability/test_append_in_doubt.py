"""An append whose connection fails around its commit is retried without being applied twice.

The broker restart test cannot choose where its outage falls; these inject the failure at
the two moments that matter, on a real broker: after the commit (the append is in the log
but the writer was not told) and before it (nothing was written).
"""

from __future__ import annotations

import logging
from collections import Counter

import pytest
from aiokafka.errors import KafkaConnectionError

from streams.kafka.event_log import KafkaEventLog
from tests.pipeline.test_faust_pipeline import kafka_log
from tests.reliability.workload import Workload
from tests.reliability.worker_runs import committed_records

pytestmark = pytest.mark.services


def fail_once(monkeypatch, method: str) -> list[int]:
    """Make `KafkaEventLog.<method>` raise a connection error on its first call only."""
    original, calls = getattr(KafkaEventLog, method), []

    async def flaky(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise KafkaConnectionError(f"injected: connection lost in {method}")
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(KafkaEventLog, method, flaky)
    return calls


@pytest.mark.parametrize("method, found_committed", [("_wait_until_readable", True), ("_catch_up_cache", False)],
                         ids=["after-the-commit", "before-the-commit"])
def test_an_append_failing_around_its_commit_is_in_the_log_exactly_once(method, found_committed, shared_settings,
                                                                         tmp_path, monkeypatch, caplog):
    event_log = kafka_log(shared_settings, tmp_path / "cache.db")
    try:
        commands = list(Workload("in-doubt", seed=7).commands(30))
        for command in commands[:-1]:
            event_log.append(command)
        fail_once(monkeypatch, method)
        with caplog.at_level(logging.WARNING, logger="streams.kafka.event_log"):
            recorded = event_log.append(commands[-1])

        messages = [r.getMessage() for r in caplog.records]
        assert any("succeeded after 1 failed attempts" in m for m in messages), messages
        assert any("had been committed before its failure" in m for m in messages) == found_committed, messages
        logged = {event_log.codec.decode(r.value).event_id: r.offset for r in committed_records(shared_settings)}
        counts = Counter(event_log.codec.decode(r.value).event_id for r in committed_records(shared_settings))
        assert max(counts.values()) == 1 and sum(counts.values()) == 30
        assert [(r.event.event_id, r.offset) for r in recorded] == [(e.event_id, logged[e.event_id])
                                                                     for e in commands[-1]]
        assert [r.event.event_id for r in event_log.read(0)] == [e.event_id for c in commands for e in c]
    finally:
        event_log.close()
