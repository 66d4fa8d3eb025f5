"""What a stream agent does with a batch of raw log records, without any stream framework.

Decode each record; a record that does not decode (malformed, truncated, unknown schema,
oversize) becomes a dead letter with its reason instead of stopping the pipeline. Records
the read model already has (offset below its checkpoint) are skipped — at-least-once
delivery made effectively-once. The rest are projected by the pure projection function and
applied together with the new checkpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from mos.domain.events import Event
from projections.runner import ProjectionTarget
from streams.avro_codec import AvroEventCodec, DecodeError

MAX_EVENT_BYTES = 1_000_000
MAX_DEAD_LETTER_BYTES = 65_536  # what a dead letter keeps of its record: enough to inspect it


@dataclass(frozen=True)
class RawRecord:
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass(frozen=True)
class DeadLetter:
    """A record that is not a MOS event; `value` is its first MAX_DEAD_LETTER_BYTES bytes
    (an oversize record could not be re-published whole) and `original_bytes` its size."""

    offset: int
    key: bytes | None
    value: bytes
    reason: str
    original_bytes: int


@dataclass
class BatchProjector:
    name: str
    codec: AvroEventCodec
    project: Callable[[Event], list]
    target: ProjectionTarget

    def process(self, records: Sequence[RawRecord]) -> list[DeadLetter]:
        if not records:
            return []
        checkpoint = self.target.checkpoint()
        dead: list[DeadLetter] = []
        writes: list = []
        for record in records:
            if record.offset < checkpoint:
                continue
            try:
                event = self._decode(record)
            except DecodeError as exc:
                raw = record.value or b""
                dead.append(DeadLetter(record.offset, record.key, raw[:MAX_DEAD_LETTER_BYTES], str(exc), len(raw)))
                continue
            writes.extend(self.project(event))
        last = records[-1].offset + 1
        if last > checkpoint:
            self.target.apply(writes, last)
        return dead

    def _decode(self, record: RawRecord) -> Event:
        if record.value is None:
            raise DecodeError("empty message (no value)")
        if len(record.value) > MAX_EVENT_BYTES:
            raise DecodeError(f"message of {len(record.value)} bytes exceeds the {MAX_EVENT_BYTES}-byte event limit")
        event = self.codec.decode(record.value)
        if record.key is not None and record.key.decode(errors="replace") != event.stream_key:
            raise DecodeError(f"message key {record.key!r} does not match the event's stream {event.stream_key!r}")
        return event
