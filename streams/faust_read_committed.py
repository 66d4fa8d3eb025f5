"""Make Faust's worker consumer read committed Kafka transactions only.

MOS appends each command as one Kafka transaction; a reader must never see the events of an
aborted one. Faust only switches its consumer to `read_committed` under
`processing_guarantee="exactly_once"`, whose commit path fails on faust-streaming 0.15.3
("IllegalOperation: Not in the middle of a transaction") and then hangs on shutdown. Our
agents are idempotent, so at-least-once processing is all we need — plus read_committed.
This wraps the one factory that builds the worker's aiokafka consumer and sets its
isolation level before the consumer starts (aiokafka reads it in `start()`).
"""

from __future__ import annotations

from faust.transport.drivers import aiokafka as faust_aiokafka

_MARK = "_mos_read_committed"


def install() -> None:
    thread_class = faust_aiokafka.AIOKafkaConsumerThread
    if getattr(thread_class, _MARK, False):
        return
    original = thread_class._create_worker_consumer

    def create_worker_consumer(self, transport):
        consumer = original(self, transport)
        consumer._isolation_level = "read_committed"
        return consumer

    thread_class._create_worker_consumer = create_worker_consumer
    setattr(thread_class, _MARK, True)
