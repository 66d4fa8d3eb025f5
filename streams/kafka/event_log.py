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

A broker that goes away (a restart, a network blip) is waited out: an append or read that
fails for a transient reason is retried with bounded exponential backoff for up to
`unavailable_timeout_s`, then raises Unavailable. A failure can be ambiguous — the commit
may have reached the broker before the connection died — so a retried append first
re-initialises its producer (the coordinator then finishes or aborts the old transaction),
reads the log, and returns the offsets of its events if they are there, appending them
only if they are not: each acknowledged append is in the log exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka import errors as kafka_errors
from aiokafka.errors import IllegalOperation, KafkaError, ProducerFenced

from mos.domain.errors import Conflict, Unavailable
from mos.domain.events import Event, RecordedEvent
from streams.avro_codec import AvroEventCodec, DecodeError
from streams.backoff import Backoff, retry_async
from streams.embedded.sqlite_event_log import check_stream_versions
from streams.kafka.background_loop import BackgroundLoop
from streams.kafka.closing import current_task_is_cancelled, stop_abandoned
from streams.kafka.config import KafkaLogConfig
from streams.kafka.stream_cache import StreamCache
from streams.kafka.topics import ensure_topics
from streams.subscription import follow

log = logging.getLogger(__name__)
_FENCED_RETRIES = 5
# Kafka errors that no retry can cure (the request itself is wrong or forbidden).
_PERMANENT = (kafka_errors.MessageSizeTooLargeError, kafka_errors.RecordTooLargeError,
              kafka_errors.RecordListTooLargeError, kafka_errors.InvalidTopicError,
              kafka_errors.TopicAuthorizationFailedError, kafka_errors.TransactionalIdAuthorizationFailed,
              kafka_errors.ClusterAuthorizationFailedError, kafka_errors.UnsupportedVersionError)


def _transient(exc: BaseException) -> bool:
    """A failure of the connection or the broker's availability, worth a retry with a fresh
    client: any Kafka error but the permanent ones and fencing (handled on its own), a
    timeout, a socket error, or a client left in a state it cannot continue from."""
    if isinstance(exc, (ProducerFenced, *_PERMANENT)):
        return False
    return isinstance(exc, (KafkaError, TimeoutError, OSError, IllegalOperation))


def _retrieve(futures: list) -> None:
    """Mark failed send futures of an abandoned transaction as seen (no 'never retrieved')."""
    for future in futures:
        if future.done() and not future.cancelled():
            future.exception()


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
        self._offsets: AIOKafkaConsumer | None = None  # asks for end offsets only (see _end_offset)
        self._empty_tail = (0, -1)  # [start, end): offsets known to hold no records
        self._read_lock = self._bg.run(_make_lock())
        self._write_lock = self._bg.run(_make_lock())
        self._bg.run(ensure_topics(self.config))

    # --- writes -------------------------------------------------------------------------

    async def _new_producer(self) -> AIOKafkaProducer:
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
        return self._bg.run(self._append(events, payloads), timeout=None)

    async def _append(self, events: Sequence[Event], payloads: list[bytes]) -> list[RecordedEvent]:
        async with self._write_lock:  # one transaction at a time per producer
            retried = False

            async def attempt() -> list[RecordedEvent]:
                nonlocal retried
                try:
                    try:
                        return await self._append_locked(events, payloads, recheck=retried)
                    except asyncio.CancelledError as exc:
                        if current_task_is_cancelled():
                            raise
                        # aiokafka cancels the futures of a sender that lost the broker: a
                        # connection failure like any other, not a cancellation of this append.
                        raise kafka_errors.KafkaConnectionError(f"the producer's sender was cancelled: {exc!r}") from exc
                except Exception as exc:
                    if _transient(exc):
                        retried = True
                        await self._drop_producer()
                        await self._drop_reader()
                    raise

            return await self._while_unavailable(attempt, f"append of {len(events)} events to {self.config.topic}")

    async def _while_unavailable(self, call, what: str):
        """`call()`, retried with backoff while the broker is unreachable; Unavailable after
        `unavailable_timeout_s`."""
        backoff = Backoff(self.config.retry_initial_s, self.config.retry_max_s)
        try:
            return await retry_async(call, backoff, what, log, give_up_after_s=self.config.unavailable_timeout_s,
                                     retry_if=_transient)
        except Exception as exc:
            if _transient(exc):
                raise Unavailable(f"{what}: Kafka at {self.config.bootstrap_servers} unreachable for "
                                  f"{self.config.unavailable_timeout_s:.0f} s ({exc!r}); an append may or may "
                                  f"not have been committed — read its stream before retrying") from exc
            raise

    async def _drop_producer(self) -> None:
        """Forget the producer after a transient failure: a fresh one reconnects, and its
        initialisation settles the transaction the old one left in doubt."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await stop_abandoned(producer, "producer")

    async def _drop_reader(self) -> None:
        async with self._read_lock:
            reader, offsets, self._reader, self._offsets = self._reader, self._offsets, None, None
            self._empty_tail = (0, -1)
            if reader is not None:
                await stop_abandoned(reader, "reader")
            if offsets is not None:
                await stop_abandoned(offsets, "end-offsets client")

    async def _reading(self, read, what: str):
        """`await read()`, with a fresh reader after each transient failure, while the broker
        is unreachable (see `_while_unavailable`)."""

        async def attempt():
            try:
                return await read()
            except Exception as exc:
                if _transient(exc):
                    await self._drop_reader()
                raise

        return await self._while_unavailable(attempt, what)

    def _committed(self, events: Sequence[Event]) -> list[RecordedEvent] | None:
        """Where the cached log holds `events`, or None if it holds none of them."""
        found = self._cache.offsets_of([event.event_id for event in events])
        if not found:
            return None
        if len(found) != len(events):  # a transaction is all or nothing: the log is not ours
            raise RuntimeError(f"only {len(found)} of {len(events)} events of one append are in {self.config.topic}")
        return [RecordedEvent(found[event.event_id], event) for event in events]

    async def _append_locked(self, events: Sequence[Event], payloads: list[bytes],
                             recheck: bool = False) -> list[RecordedEvent]:
        """One append. `recheck`: an earlier attempt failed, perhaps after its commit; if the
        log (read after a fresh producer settled that transaction) holds these events, return
        where they are instead of appending them again."""
        for attempt in range(_FENCED_RETRIES):
            fresh = self._producer is None
            producer = self._producer or await self._new_producer()
            await self._catch_up_cache()
            if recheck:
                committed = self._committed(events)
                if committed is not None:
                    log.warning("append of %d events to %s had been committed before its failure; not "
                                "appended again", len(events), self.config.topic)
                    return committed
            check_stream_versions(events, self._cache.version)
            futures: list = []
            try:
                async with producer.transaction():
                    for event, payload in zip(events, payloads):
                        futures.append(await producer.send(
                            self.config.topic, value=payload, key=event.stream_key.encode(), partition=0,
                            headers=[("type", event.type_name.encode()), ("event_id", event.event_id.encode())]))
                offsets = [(await future).offset for future in futures]
                break
            except ProducerFenced:
                _retrieve(futures)
                log.info("writer fenced by another MOS writer (attempt %d); re-reading the log", attempt + 1)
                await stop_abandoned(producer, "fenced producer")
                self._producer = None
                if fresh:
                    await asyncio.sleep(0.05 * (attempt + 1))
            except BaseException:
                _retrieve(futures)
                raise
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
        """End of the committed log (the last stable offset, for a read_committed consumer).

        Asked on a connection of its own: on the reader's, the request queues behind the
        reader's fetch, which the broker holds for up to `fetch_max_wait_ms` when the reader
        is at the log end — 21 ms added to every read of an up-to-date log (measured), i.e. to
        every permission check and read-model sync of a search."""
        if self._offsets is None:
            self._offsets = AIOKafkaConsumer(bootstrap_servers=self.config.bootstrap_servers,
                                             enable_auto_commit=False, isolation_level="read_committed")
            await self._offsets.start()
        return (await self._offsets.end_offsets([self._partition]))[self._partition]

    async def _wait_until_readable(self, offset: int, timeout_s: float = 30.0) -> None:
        """Read-your-writes: Kafka writes the commit markers after `commit` returns, and until
        they land a read_committed reader (ours included) stops before the new records. Wait
        until the last stable offset has passed `offset`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        async with self._read_lock:
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
            records, end = self._bg.run(self._reading(lambda: self._read_raw(position, page),
                                                      f"read of {self.config.topic} from offset {position}"),
                                        timeout=None)
            for offset, event, _ in self._decoded(records):
                yield RecordedEvent(offset, event)
            if len(records) < page:
                return
            position = records[-1][0] + 1
            if remaining is not None:
                remaining -= len(records)

    def read_stream(self, stream_key: str) -> list[Event]:
        self._bg.run(self._reading(self._catch_up_cache, f"catch-up of {self.config.topic}"), timeout=None)
        return [self.codec.decode(payload) for payload in self._cache.stream(stream_key)]

    def head(self) -> int:
        async def end() -> int:
            async with self._read_lock:
                return await self._end_offset()
        return self._bg.run(self._reading(end, f"end offset of {self.config.topic}"), timeout=None)

    def subscribe(self, from_offset: int = 0, poll_interval: float = 0.1,
                  stop_when_idle: bool = False) -> Iterator[RecordedEvent]:
        return follow(lambda offset, limit: self.read(offset, limit), from_offset, poll_interval, stop_when_idle)

    def close(self) -> None:
        if self._producer is not None:
            self._bg.run(self._producer.stop())
        for client in (self._reader, self._offsets):
            if client is not None:
                self._bg.run(client.stop())
        self._bg.stop()
        self._cache.close()
