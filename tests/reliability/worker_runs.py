"""What the fault tests do to a Faust worker and the read models it writes, in one place.

Built on the pipeline tests' helpers (worker process, clean replay); adds what faults need:
progress conditions that fail fast when the worker dies, and the exact-content checks of
the log that "no event lost, none applied twice" means.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

from mos.config import PipelineSettings
from streams.kafka.event_log import KafkaEventLog
from tests.pipeline import test_faust_pipeline
from tests.pipeline.test_faust_pipeline import start_worker

# The scheduler appends its own decisions to the log; it is not under test here. A short
# session (the broker's minimum) lets a restarted worker take over from a killed one sooner;
# a low backoff bound makes catch-up after an outage quick.
WORKER_ENV = {"MOS_SCHEDULER_INTERVAL_SECONDS": "0", "MOS_SESSION_TIMEOUT_SECONDS": "6",
              "MOS_RETRY_INITIAL_SECONDS": "0.25", "MOS_RETRY_MAX_SECONDS": "4"}


def worker(settings: PipelineSettings, cwd: Path):
    return start_worker(settings, cwd, **WORKER_ENV)


def close_read_models() -> None:
    """Close (and delete) every read model the pipeline helpers opened, now: a test on
    dedicated servers must do it before it stops them (the usual fixture runs after)."""
    while test_faust_pipeline._opened:
        test_faust_pipeline._opened.pop().close()


def projected_to(index, graph) -> int:
    """The offset both read models have reached (the smaller checkpoint)."""
    return min(index.checkpoint(), graph.checkpoint())


def wait_until(condition, timeout: float, what: str, worker=None, log: Path | None = None) -> float:
    """Poll `condition` until true; returns the seconds it took. Fails with `what` (and the
    worker log's tail) on timeout, or at once if `worker` exits."""
    began = time.monotonic()
    while not condition():
        if worker is not None and worker.poll() is not None:
            raise AssertionError(f"the worker exited ({worker.returncode}) while waiting for {what}{_tail(log)}")
        if time.monotonic() - began > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{_tail(log)}")
        time.sleep(0.1)
    return time.monotonic() - began


def _tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.exists():
        return ""
    return "\nworker log tail:\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def committed_records(settings: PipelineSettings, topic: str | None = None) -> list:
    """Every committed record of the events topic (or `topic`), in offset order, read to the
    end (one fetch, as the pipeline tests' consume_all does, stops at ~1 MB)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    async def run() -> list:
        partition = TopicPartition(topic or settings.events_topic, 0)
        consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, isolation_level="read_committed",
                                    enable_auto_commit=False, auto_offset_reset="earliest",
                                    max_partition_fetch_bytes=4 * 1_048_576)
        await consumer.start()
        try:
            consumer.assign([partition])
            end = (await consumer.end_offsets([partition]))[partition]
            records: list = []
            while await consumer.position(partition) < end:
                batch = await consumer.getmany(partition, timeout_ms=500)
                records += [m for m in batch.get(partition, []) if m.offset < end]
            return records
        finally:
            await consumer.stop()

    return asyncio.run(run())


def assert_log_holds_each_acked_append_once(event_log: KafkaEventLog, settings: PipelineSettings,
                                            producers, foreign: set[int] = frozenset()) -> int:
    """Every acknowledged event is in the log exactly once, at the offset its append
    returned, and the log holds nothing else but the records at `foreign` offsets (poison a
    test wrote on purpose); returns the number of events."""
    logged = [(record.offset, event_log.codec.decode(record.value).event_id)
              for record in committed_records(settings) if record.offset not in foreign]
    counts = Counter(event_id for _, event_id in logged)
    repeated = {event_id: n for event_id, n in counts.items() if n > 1}
    assert not repeated, f"{len(repeated)} events appear more than once in the log, e.g. {list(repeated.items())[:3]}"
    acked = {event_id: offset for producer in producers for append in producer.acked
             for event_id, offset in zip(append.event_ids, append.offsets)}
    where = dict((event_id, offset) for offset, event_id in logged)
    missing = sorted(set(acked) - set(where))
    assert not missing, f"{len(missing)} acknowledged events are not in the log, e.g. {missing[:3]}"
    moved = {e: (acked[e], where[e]) for e in acked if acked[e] != where[e]}
    assert not moved, f"{len(moved)} events are not at the offset their append returned, e.g. {list(moved.items())[:3]}"
    unacked = sorted(set(where) - set(acked))
    assert not unacked, f"{len(unacked)} events in the log were never acknowledged, e.g. {unacked[:3]}"
    return len(logged)
