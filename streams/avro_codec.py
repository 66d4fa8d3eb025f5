"""Avro encoding of events in Avro's *single-object encoding*.

Wire format (Avro spec, "Single object encoding"): the two bytes ``C3 01``, the 8-byte
little-endian CRC-64-AVRO fingerprint of the writer schema's canonical form, then the Avro
binary body. A reader looks the fingerprint up among every schema it knows (current and
historical) and resolves the writer schema against its current reader schema, so events
written by an older release decode with the fields added since filled by their defaults.
"""

from __future__ import annotations

import dataclasses
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.schema import fingerprint, to_parsing_canonical_form

from mos.domain.events import EVENT_TYPES, Event, Provenance, SealedContent
from schemas import schema_directory

MAGIC = b"\xc3\x01"
HEADER_BYTES = len(MAGIC) + 8
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class DecodeError(ValueError):
    """Bytes that are not a decodable MOS event (bad header, unknown schema, corrupt body)."""


def _schema_fingerprint(parsed: Mapping[str, Any]) -> bytes:
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))


def _event_name(parsed: Mapping[str, Any]) -> str:
    return parsed["name"].rsplit(".", 1)[-1]


class AvroEventCodec:
    """Encodes with the current schemas; decodes anything written with a known schema.

    With a `sealer` (streams.keys.ContentSealer), memory content is encrypted on encode and
    opened on decode, so the bytes in the log never hold it in the clear. Without one, a
    sealed event cannot be read: decoding it raises KeyStoreMissing rather than handing a
    consumer empty content it would take for an erasure.
    """

    def __init__(self, current: Iterable[Mapping[str, Any]], historical: Iterable[Mapping[str, Any]] = (),
                 sealer: Any = None):
        self.sealer = sealer
        self._current: dict[str, dict] = {}
        self._writers: dict[bytes, dict] = {}
        for raw in current:
            parsed = parse_schema(dict(raw), named_schemas={})
            name = _event_name(parsed)
            if name not in EVENT_TYPES:
                raise ValueError(f"schema {name} has no event class in mos.domain.events")
            self._current[name] = parsed
            self._writers[_schema_fingerprint(parsed)] = parsed
        for raw in historical:
            self.register_writer_schema(raw)
        self._fingerprints = {name: _schema_fingerprint(p) for name, p in self._current.items()}

    @classmethod
    def from_directory(cls, directory: Path | None = None, sealer: Any = None) -> "AvroEventCodec":
        directory = directory or schema_directory()
        current = [json.loads(p.read_text()) for p in sorted(directory.glob("*.avsc"))]
        historical = [json.loads(p.read_text()) for p in sorted((directory / "history").glob("*.avsc"))]
        return cls(current, historical, sealer)

    def register_writer_schema(self, raw: Mapping[str, Any]) -> bytes:
        """Make events written with an older schema decodable; returns its fingerprint."""
        parsed = parse_schema(dict(raw), named_schemas={})
        if _event_name(parsed) not in EVENT_TYPES:
            raise ValueError(f"schema {parsed['name']} has no event class")
        key = _schema_fingerprint(parsed)
        self._writers[key] = parsed
        return key

    def current_schema(self, event_name: str) -> dict:
        return self._current[event_name]

    def encode_all(self, events: Sequence[Event]) -> list[bytes]:
        """Encode a batch; data keys for all of its memories are created in one go."""
        if self.sealer is not None:
            events = self.sealer.seal(events)
        return [self._encode_one(event) for event in events]

    def encode(self, event: Event) -> bytes:
        return self.encode_all([event])[0]

    def _encode_one(self, event: Event) -> bytes:
        buffer = io.BytesIO()
        buffer.write(MAGIC + self._fingerprints[event.type_name])
        schemaless_writer(buffer, self._current[event.type_name], event_to_record(event))
        return buffer.getvalue()

    @staticmethod
    def encode_with(schema: Mapping[str, Any], record: Mapping[str, Any]) -> bytes:
        """Encode a raw record with any schema (used to write with an older schema)."""
        parsed = parse_schema(dict(schema), named_schemas={})
        buffer = io.BytesIO()
        buffer.write(MAGIC + _schema_fingerprint(parsed))
        schemaless_writer(buffer, parsed, dict(record))
        return buffer.getvalue()

    def decode(self, payload: bytes) -> Event:
        if len(payload) < HEADER_BYTES or payload[:2] != MAGIC:
            raise DecodeError("not an Avro single-object encoded event (bad header)")
        writer = self._writers.get(payload[2:HEADER_BYTES])
        if writer is None:
            raise DecodeError(f"unknown writer schema fingerprint {payload[2:HEADER_BYTES].hex()}")
        name = _event_name(writer)
        try:
            record = schemaless_reader(io.BytesIO(payload[HEADER_BYTES:]), writer, self._current[name])
        except Exception as exc:  # fastavro raises several types for corrupt bodies
            raise DecodeError(f"corrupt {name} body: {exc}") from None
        event = record_to_event(name, record)
        if self.sealer is not None:
            return self.sealer.open(event)
        if getattr(event, "sealed", None) is not None:
            from streams.keys.sealer import KeyStoreMissing

            raise KeyStoreMissing(f"{name} {event.event_id} is sealed; open the log with a key store "
                                  f"(MOS_KEYSTORE or <data dir>/keys.db)")
        return event


def event_to_record(event: Event) -> dict[str, Any]:
    """Shallow conversion (no deep copy of the embedding: `asdict` made encoding 3x slower)."""
    record: dict[str, Any] = {}
    for field in dataclasses.fields(event):
        value = getattr(event, field.name)
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, (Provenance, SealedContent)):
            value = dataclasses.asdict(value)
        record[field.name] = value
    return record


def record_to_event(name: str, record: Mapping[str, Any]) -> Event:
    cls = EVENT_TYPES[name]
    known = {f.name for f in dataclasses.fields(cls)}
    values = {k: v for k, v in record.items() if k in known}
    values["provenance"] = Provenance(**values["provenance"])
    if values.get("sealed") is not None:
        values["sealed"] = SealedContent(**values["sealed"])
    occurred_at = values["occurred_at"]
    if not isinstance(occurred_at, int):  # timestamp-millis decodes to datetime
        values["occurred_at"] = (occurred_at - _EPOCH) // timedelta(milliseconds=1)
    for key, value in values.items():
        if isinstance(value, list):
            values[key] = tuple(value)
    return cls(**values)
