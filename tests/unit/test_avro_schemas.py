"""The Avro schemas are the contract; the Python event classes must mirror them exactly."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mos.domain.events import EVENT_TYPES, MemoryCreated, Provenance
from schemas import schema_directory
from streams.avro_codec import AvroEventCodec, DecodeError


def _schema(name: str) -> dict:
    return json.loads((schema_directory() / f"{name}.avsc").read_text())


def sample_event(cls):
    values = {"event_id": "e-1", "stream_key": "memory:m-1", "version": 3, "occurred_at": 1_700_000_000_123,
              "provenance": Provenance("alice", "test-app", "e-0", "c-9")}
    samples = {"user_id": "alice", "cube_id": "c-1", "name": "notes", "owner": "alice", "with_user": "bob",
               "role": "writer", "memory_id": "m-1", "text": "Alice lives in Lisbon", "tags": ("a", "b"),
               "metadata_json": '{"k":1}', "embedding": (0.5, -0.25, 0.125), "embedding_model": "test",
               "memory_type": "plaintext", "derived_from": ("m-0",), "target_memory_id": "m-2",
               "source_memory_ids": ("m-1", "m-3"), "reason": "because", "target": "parametric",
               "accessed_by": "bob", "count": 4, "artifact_id": "kv-abc", "tier": "activation",
               "kind": "kv_cache", "model_id": "tiny-llama", "model_fingerprint": "f" * 64,
               "manifest_hash": "a" * 64, "content_hash": "b" * 64, "token_count": 321,
               "source_event_ids": ("e-7", "e-8"), "replaces_artifact_id": "kv-old",
               "from_user": "bob", "sealed": None, "scope": "user", "subject_user": "alice"}
    for field in dataclasses.fields(cls):
        if field.name not in values:
            values[field.name] = samples[field.name]
    return cls(**values)


def test_every_event_class_has_a_schema_with_the_same_fields():
    files = {p.stem for p in schema_directory().glob("*.avsc")}
    assert files == set(EVENT_TYPES)
    for name, cls in EVENT_TYPES.items():
        schema_fields = [f["name"] for f in _schema(name)["fields"]]
        class_fields = [f.name for f in dataclasses.fields(cls)]
        assert sorted(schema_fields) == sorted(class_fields), name


def test_each_schema_carries_the_envelope_and_provenance():
    for name in EVENT_TYPES:
        fields = {f["name"]: f for f in _schema(name)["fields"]}
        assert {"event_id", "stream_key", "version", "occurred_at", "provenance"} <= set(fields)
        provenance = {f["name"] for f in fields["provenance"]["type"]["fields"]}
        assert provenance == {"actor", "source_app", "causation_id", "correlation_id"}


def test_memory_created_carries_content_type_and_embedding():
    fields = {f["name"] for f in _schema("MemoryCreated")["fields"]}
    assert {"text", "tags", "metadata_json", "memory_type", "embedding", "embedding_model"} <= fields


@pytest.mark.parametrize("cls", list(EVENT_TYPES.values()), ids=list(EVENT_TYPES))
def test_every_event_round_trips_through_avro(cls):
    codec = AvroEventCodec.from_directory()
    event = sample_event(cls)
    payload = codec.encode(event)
    assert payload[:2] == b"\xc3\x01"  # Avro single-object encoding marker
    assert codec.decode(payload) == event


OLDER_MEMORY_CREATED = {
    # What MemoryCreated looked like before memory_type, derived_from and embedding_model.
    "type": "record", "name": "MemoryCreated", "namespace": "mos.events",
    "fields": [
        {"name": "event_id", "type": "string"}, {"name": "stream_key", "type": "string"},
        {"name": "version", "type": "long"},
        {"name": "occurred_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "provenance", "type": {"type": "record", "name": "Provenance", "fields": [
            {"name": "actor", "type": "string"}, {"name": "source_app", "type": "string"},
            {"name": "causation_id", "type": ["null", "string"], "default": None},
            {"name": "correlation_id", "type": ["null", "string"], "default": None}]}},
        {"name": "memory_id", "type": "string"}, {"name": "cube_id", "type": "string"},
        {"name": "text", "type": "string"}, {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "metadata_json", "type": "string"},
        {"name": "embedding", "type": {"type": "array", "items": "float"}},
    ],
}


def test_reader_on_current_schemas_reads_events_written_with_an_older_schema():
    codec = AvroEventCodec.from_directory()
    old_record = {"event_id": "e-1", "stream_key": "memory:m-1", "version": 1, "occurred_at": 1_600_000_000_000,
                  "provenance": {"actor": "alice", "source_app": "v0-app", "causation_id": None,
                                 "correlation_id": None},
                  "memory_id": "m-1", "cube_id": "c-1", "text": "old text", "tags": ["x"],
                  "metadata_json": "{}", "embedding": [0.5, 0.5]}
    payload = AvroEventCodec.encode_with(OLDER_MEMORY_CREATED, old_record)
    with pytest.raises(DecodeError, match="unknown writer schema"):
        codec.decode(payload)
    codec.register_writer_schema(OLDER_MEMORY_CREATED)
    event = codec.decode(payload)
    assert isinstance(event, MemoryCreated)
    assert event.text == "old text" and event.embedding == (0.5, 0.5) and event.occurred_at == 1_600_000_000_000
    assert (event.memory_type, event.derived_from, event.embedding_model) == ("plaintext", (), "")


@pytest.mark.parametrize("payload, reason", [
    (b"", "bad header"), (b"\x00\x01" + bytes(8) + b"x", "bad header"),
    (b"\xc3\x01" + bytes(8), "unknown writer schema"),
])
def test_undecodable_bytes_raise_decode_error(payload, reason):
    with pytest.raises(DecodeError, match=reason):
        AvroEventCodec.from_directory().decode(payload)


def test_truncated_body_raises_decode_error():
    codec = AvroEventCodec.from_directory()
    payload = codec.encode(sample_event(MemoryCreated))
    with pytest.raises(DecodeError, match="corrupt"):
        codec.decode(payload[:-20])


def test_merges_written_before_reason_existed_still_decode():
    """MemoriesMerged v1 (no `reason`) is kept in schemas/history/: its events read as reason=None."""
    v1 = json.loads((schema_directory() / "history" / "MemoriesMerged.v1.avsc").read_text())
    record = {"event_id": "e-1", "stream_key": "memory:m-1", "version": 2, "occurred_at": 1_700_000_000_000,
              "provenance": {"actor": "alice", "source_app": "old-app", "causation_id": None, "correlation_id": None},
              "memory_id": "m-1", "cube_id": "c-1", "target_memory_id": "m-9", "source_memory_ids": ["m-1", "m-2"]}
    event = AvroEventCodec.from_directory().decode(AvroEventCodec.encode_with(v1, record))
    assert event.type_name == "MemoriesMerged" and event.reason is None and event.target_memory_id == "m-9"
