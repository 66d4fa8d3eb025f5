"""Explicit topic creation: Faust and MOS never rely on broker auto-creation."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from streams.kafka.config import KafkaLogConfig


async def ensure_topics(config: KafkaLogConfig, extra: tuple[str, ...] = ()) -> None:
    """Create the event and dead-letter topics (and `extra` ones) if missing (idempotent)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=config.bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [NewTopic(name, num_partitions=config.partitions, replication_factor=1,
                           topic_configs=config.topic_configs())
                  for name in (config.topic, config.dead_letter_topic, *extra) if name not in existing]
        if wanted:
            try:
                await admin.create_topics(wanted)
            except TopicAlreadyExistsError:
                pass
    finally:
        await admin.close()
