"""The production event log: one Kafka topic, Avro single-object encoded events.

Writes: an idempotent, transactional aiokafka producer (acks=all), message key = stream key
(per-key order), headers = event type and id. Every `append` is one Kafka transaction, so a
multi-event command (a merge, an `add_many`) is all-or-nothing for read_committed readers.

Optimistic concurrency on a log that has no compare-and-set: all writers of a log share one
`transactional.id`, so Kafka's producer fencing lets exactly one of them commit at a time.
A writer checks versions against its stream cache, which it brings up to the log end after
(re)initialising its producer epoch; any other writer that commits afterwards must first
fence it, so its own commit then fails with ProducerFenced — it re-initialises, re-reads,
re-checks (now raising Conflict if the stream moved) and retries. No stale write commits.

Offsets are Kafka offsets: strictly increasing but not gap-free (transaction markers take
offsets), which is what the EventLog port promises.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import ProducerFenced

from mos.domain.errors import Conflict
from mos.domain.events import Event, RecordedEvent
from streams.avro_codec import AvroEventCodec, DecodeError
from streams.embedded.sqlite_event_log import check_stream_versions
from streams.kafka.background_loop import BackgroundLoop
from streams.kafka.config import KafkaLogConfig
from streams.kafka.stream_cache import StreamCache
from streams.kafka.topics import ensure_topics
from streams.subscription import follow

log = logging.getLogger(__name__)
_FENCED_RETRIES = 5


async def _stop_quietly(producer: AIOKafkaProducer) -> None:
    try:
        await producer.stop()
    except Exception:  # a fenced producer may fail to flush; it holds nothing we need
        log.debug("stopping a fenced producer failed", exc_info=True)


async def _make_lock() -> asyncio.Lock:
    return asyncio.Lock()  # created on the background loop it guards


class KafkaEventLog:
    def __init__(self, config: KafkaLogConfig | None = None, cache_path: Path | str | None = None,
                 codec: AvroEventCodec | None = None):
        self.config = config or KafkaLogConfig()
        self.codec = codec or AvroEventCodec.from_directory()
        self._partition = TopicPartition(self.config.topic, 0)
        if cache_path is None:
            self._cache_dir = tempfile.TemporaryDirectory(prefix="mos-kafka-cache-")
            cache_path = Path(self._cache_dir.name) / "streams.db"
        self._cache = StreamCache(cache_path)
        self._bg = BackgroundLoop("mos-kafka-log")
        self._producer: AIOKafkaProducer | None = None
        self._reader: AIOKafkaConsumer | None = None
        self._empty_tail = (0, -1)  # [start, end): offsets known to hold no records
        self._read_lock = self._bg.run(_make_lock())
        self._write_lock = self._bg.run(_make_lock())
        self._bg.run(ensure_topics(self.config))

    # --- writes -------------------------------------------------------------------------

    async def _new_producer(self) -> AIOKafkaProducer:
        if self._producer is not None:
            await self._producer.stop()
        producer = AIOKafkaProducer(
            bootstrap_servers=self.config.bootstrap_servers, enable_idempotence=True, acks="all",
            transactional_id=self.config.writer_id, linger_ms=5, max_batch_size=1_048_576,
            max_request_size=self.config.max_message_bytes)
        await producer.start()  # initialises the transactional epoch: fences older writers
        self._producer = producer
        return producer

    def append(self, events: Sequence[Event]) -> list[RecordedEvent]:
        if not events:
            return []
        payloads = self.codec.encode_all(events)  # fail before touching Kafka
        return self._bg.run(self._append(events, payloads))

    async def _append(self, events: Sequence[Event], payloads: list[bytes]) -> list[RecordedEvent]:
        async with self._write_lock:  # one transaction at a time per producer
            return await self._append_locked(events, payloads)

    async def _append_locked(self, events: Sequence[Event], payloads: list[bytes]) -> list[RecordedEvent]:
        for attempt in range(_FENCED_RETRIES):
            fresh = self._producer is None
            producer = self._producer or await self._new_producer()
            await self._catch_up_cache()
            check_stream_versions(events, self._cache.version)
            try:
                async with producer.transaction():
                    futures = [await producer.send(self.config.topic, value=payload,
                                                   key=event.stream_key.encode(), partition=0,
                                                   headers=[("type", event.type_name.encode()),
                                                            ("event_id", event.event_id.encode())])
                               for event, payload in zip(events, payloads)]
                offsets = [(await future).offset for future in futures]
                break
            except ProducerFenced:
                log.info("writer fenced by another MOS writer (attempt %d); re-reading the log", attempt + 1)
                await _stop_quietly(producer)
                self._producer = None
                if fresh:
                    await asyncio.sleep(0.05 * (attempt + 1))
        else:
            raise Conflict("another writer kept taking over the log; retry the command")
        await self._wait_until_readable(offsets[-1])
        # Our epoch was current from the catch-up to the commit, so nothing else was committed in
        # between: the cache can take our own events as they are, without re-reading them.
        self._cache.add([(offset, e.stream_key, e.version, e.event_id, payload)
                         for offset, e, payload in zip(offsets, events, payloads)], offsets[-1] + 1)
        return [RecordedEvent(offset, event) for offset, event in zip(offsets, events)]

    # --- reads --------------------------------------------------------------------------

    async def _reader_at(self, from_offset: int) -> AIOKafkaConsumer:
        """The log's one reading consumer (callers hold `_read_lock`), positioned at an offset."""
        if self._reader is None:
            self._reader = AIOKafkaConsumer(
                bootstrap_servers=self.config.bootstrap_servers, enable_auto_commit=False,
                isolation_level="read_committed", auto_offset_reset="earliest",
                max_partition_fetch_bytes=4 * 1_048_576, fetch_max_wait_ms=20)
            await self._reader.start()
            self._reader.assign([self._partition])
        self._reader.seek(self._partition, from_offset)
        return self._reader

    async def _end_offset(self) -> int:
        """End of the committed log (the last stable offset, for a read_committed consumer)."""
        return (await self._reader.end_offsets([self._partition]))[self._partition]

    async def _wait_until_readable(self, offset: int, timeout_s: float = 30.0) -> None:
        """Read-your-writes: Kafka writes the commit markers after `commit` returns, and until
        they land a read_committed reader (ours included) stops before the new records. Wait
        until the last stable offset has passed `offset`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with self._read_lock:
            await self._reader_at(0)
            while await self._end_offset() <= offset:
                if loop.time() > deadline:
                    raise TimeoutError(f"offset {offset} of {self.config.topic} not readable after {timeout_s}s")
                await asyncio.sleep(0.002)

    async def _read_raw(self, from_offset: int, limit: int | None) -> tuple[list, int]:
        """Committed records [(offset, value)] from `from_offset` to the end, and that end."""
        async with self._read_lock:
            consumer = await self._reader_at(from_offset)
            end = await self._end_offset()
            tail_start, tail_end = self._empty_tail
            if tail_end == end and from_offset >= tail_start:
                return [], end  # only transaction markers lie ahead: skip a fetch that would wait
            records: list[tuple[int, bytes]] = []
            while await consumer.position(self._partition) < end and (limit is None or len(records) < limit):
                batch = await consumer.getmany(self._partition, timeout_ms=50)  # markers: no records
                records += [(m.offset, m.value) for m in batch.get(self._partition, []) if m.offset < end]
            if limit is None or len(records) < limit:
                self._empty_tail = ((records[-1][0] + 1) if records else from_offset, end)
            return (records if limit is None else records[:limit]), end

    async def _catch_up_cache(self) -> None:
        while True:
            records, end = await self._read_raw(self._cache.checkpoint(), 5000)
            rows = []
            for offset, event, value in self._decoded(records):
                rows.append((offset, event.stream_key, event.version, event.event_id, value))
            reached = records[-1][0] + 1 if len(records) == 5000 else end
            self._cache.add(rows, reached)
            if reached >= end:
                return

    def _decoded(self, records: list[tuple[int, bytes]]) -> Iterator[tuple[int, Event, bytes]]:
        """Events of the records; a record that is not a MOS event (someone wrote garbage to the
        topic) is skipped here — the Faust worker sends it to the dead-letter topic."""
        for offset, value in records:
            try:
                yield offset, self.codec.decode(value or b""), value
            except DecodeError as exc:
                log.warning("offset %d of %s is not a MOS event, skipped: %s", offset, self.config.topic, exc)

    def read(self, from_offset: int = 0, limit: int | None = None) -> Iterator[RecordedEvent]:
        position = from_offset
        remaining = limit
        while remaining is None or remaining > 0:
            page = 1000 if remaining is None else min(remaining, 1000)
            records, end = self._bg.run(self._read_raw(position, page), timeout=None)
            for offset, event, _ in self._decoded(records):
                yield RecordedEvent(offset, event)
            if len(records) < page:
                return
            position = records[-1][0] + 1
            if remaining is not None:
                remaining -= len(records)

    def read_stream(self, stream_key: str) -> list[Event]:
        self._bg.run(self._catch_up_cache())
        return [self.codec.decode(payload) for payload in self._cache.stream(stream_key)]

    def head(self) -> int:
        async def end() -> int:
            async with self._read_lock:
                await self._reader_at(0)
                return await self._end_offset()
        return self._bg.run(end())

    def subscribe(self, from_offset: int = 0, poll_interval: float = 0.1,
                  stop_when_idle: bool = False) -> Iterator[RecordedEvent]:
        return follow(lambda offset, limit: self.read(offset, limit), from_offset, poll_interval, stop_when_idle)

    def close(self) -> None:
        if self._producer is not None:
            self._bg.run(self._producer.stop())
        if self._reader is not None:
            self._bg.run(self._reader.stop())
        self._bg.stop()
        self._cache.close()
