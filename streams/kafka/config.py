"""Kafka topic layout of a MOS log, in one typed place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KafkaLogConfig:
    """Where and how the log lives in Kafka.

    One partition: the EventLog port promises a total order (offsets that say "before" and
    "after" across all streams — replay, audits and point-in-time reads rely on it). Per-key
    order alone would allow more partitions, at the price of that promise; on a 2-core node
    one partition already takes tens of thousands of events/s (bench/pipeline.py).
    Retention is infinite: the log is the source of truth, never a buffer.
    """

    bootstrap_servers: str = "127.0.0.1:9092"
    topic: str = "mos.events"
    dead_letter_topic: str = "mos.events.dead-letter"
    partitions: int = 1
    writer_id: str = "mos-writer"
    max_message_bytes: int = 1_048_588
    # A broker that is down or restarting: appends and reads retry with backoff (delays
    # doubling from 0.1 s to 5 s) for this long, then raise Unavailable.
    unavailable_timeout_s: float = 120.0
    retry_initial_s: float = 0.1
    retry_max_s: float = 5.0

    def topic_configs(self) -> dict[str, str]:
        return {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete",
                "min.insync.replicas": "1", "max.message.bytes": str(self.max_message_bytes)}
