"""A Kafka client dropped after the broker went away stops without cancelling its caller.

The event log drops its reader and producer after a transient failure and retries with
fresh ones. aiokafka's consumer stop, called while a fetch sleeps out its retry backoff
after the lost broker, re-raises that fetch's cancellation in the caller: an append that
should have waited the restart out failed with CancelledError (CI, the broker restart test).
The fetch backoff is stretched here to make that window certain rather than lucky.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.kafka.closing import stop_abandoned

pytestmark = pytest.mark.services

TOPIC = "dropped-clients"
PARTITION = TopicPartition(TOPIC, 0)


async def _consumer_that_has_read_one_record(bootstrap: str) -> AIOKafkaConsumer:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(TOPIC, b"one record", partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20,
                                retry_backoff_ms=60_000)
    await consumer.start()
    consumer.assign([PARTITION])
    consumer.seek(PARTITION, 0)
    assert (await consumer.getmany(PARTITION, timeout_ms=5_000))[PARTITION], "the record was not read"
    return consumer


async def _stop(consumer: AIOKafkaConsumer, stopping) -> tuple[str, int, bool]:
    """How stopping `consumer` ended for the calling task, whether the caller was asked to
    cancel, and whether the client's metadata task was left running."""
    await asyncio.sleep(3)  # the fetch after the loss failed and sleeps out its backoff
    try:
        await stopping(consumer)
        ended = "returned"
    except asyncio.CancelledError:
        ended = "raised CancelledError"
    metadata_task = consumer._client._sync_task
    left_running = metadata_task is not None and not metadata_task.done()
    if left_running:
        await consumer._client.close()  # tidy up after aiokafka alone
    return ended, asyncio.current_task().cancelling(), left_running


def _stop_after_broker_loss(stopping) -> tuple[str, int, bool]:
    from streams.services import dedicated_servers

    with dedicated_servers(["kafka"]) as servers:
        loop = asyncio.new_event_loop()
        try:
            consumer = loop.run_until_complete(_consumer_that_has_read_one_record(servers.endpoints.kafka_bootstrap))
            servers.stop("kafka")
            time.sleep(0.5)
            return loop.run_until_complete(_stop(consumer, stopping))
        finally:
            loop.close()


def test_aiokafka_alone_cancels_the_caller_of_stop_after_a_broker_loss():
    """The condition the event log must survive (if aiokafka fixes it, this tells us)."""
    ended, caller_cancel_requests, _ = _stop_after_broker_loss(lambda consumer: consumer.stop())
    assert (ended, caller_cancel_requests) == ("raised CancelledError", 0)


def test_a_dropped_reader_stops_without_cancelling_its_caller_and_leaves_no_task_running():
    ended, caller_cancel_requests, metadata_task_running = _stop_after_broker_loss(
        lambda consumer: stop_abandoned(consumer, "reader"))
    assert (ended, caller_cancel_requests, metadata_task_running) == ("returned", 0, False)


class _SlowToStop:
    async def stop(self) -> None:
        await asyncio.sleep(60)


def test_a_cancellation_of_the_caller_itself_still_propagates():
    async def cancelled_while_stopping() -> str:
        stopping = asyncio.create_task(stop_abandoned(_SlowToStop(), "client"))
        await asyncio.sleep(0.05)
        stopping.cancel()
        try:
            await stopping
        except asyncio.CancelledError:
            return "cancelled"
        return "returned"

    assert asyncio.run(cancelled_while_stopping()) == "cancelled"
