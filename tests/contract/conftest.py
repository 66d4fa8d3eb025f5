"""Every adapter of a port runs the same contract tests (one fixture, parametrised).

The Kafka adapter runs against a real broker: `streams.services.endpoints_for_tests()`
uses MOS_KAFKA_BOOTSTRAP if set, else testcontainers if a Docker engine answers, else the
project's own launcher. Each test gets fresh topics, so tests never see each other's events.
"""

from __future__ import annotations

import uuid

import pytest

from streams.embedded.sqlite_event_log import SqliteEventLog


def _kafka_factory(tmp_path):
    from streams.kafka.config import KafkaLogConfig
    from streams.kafka.event_log import KafkaEventLog
    from streams.services import endpoints_for_tests

    name = f"mos-test-{uuid.uuid4().hex[:10]}"
    config = KafkaLogConfig(bootstrap_servers=endpoints_for_tests(("kafka",)).kafka_bootstrap, topic=name,
                            dead_letter_topic=f"{name}.dead-letter", writer_id=f"{name}-writer")
    counter = iter(range(1000))
    return lambda: KafkaEventLog(config, cache_path=tmp_path / f"cache-{next(counter)}.db")


def _sqlite_factory(tmp_path):
    return lambda: SqliteEventLog(tmp_path / "events.db")


FACTORIES = {"sqlite": _sqlite_factory, "kafka": _kafka_factory}


@pytest.fixture(params=sorted(FACTORIES))
def event_log_factory(request, tmp_path):
    make = FACTORIES[request.param](tmp_path)
    opened = []

    def factory():
        opened.append(make())
        return opened[-1]

    yield factory
    for log in opened:
        log.close()


@pytest.fixture
def event_log(event_log_factory):
    return event_log_factory()
