"""Memory content is sealed with a per-memory key; destroying the key erases it from every copy of the log."""

from __future__ import annotations

import dataclasses

import pytest

from mos.domain.erasure import erasure_index, memories_of_user, with_derived
from mos.domain.events import CubeCreated, MemoryCreated, MemoryErased, Provenance
from streams.avro_codec import AvroEventCodec
from streams.keys import ContentSealer, KeyStoreMissing, SqliteKeyStore

TEXT = "Zorblax keeps her diary in Lisbon"


def created(memory_id="m-1", text=TEXT, actor="alice", cube="c-1", derived_from=()):
    return MemoryCreated(event_id=f"e-{memory_id}", stream_key=f"memory:{memory_id}", version=1, occurred_at=1,
                         provenance=Provenance(actor), memory_id=memory_id, cube_id=cube, text=text,
                         tags=("diary",), metadata_json='{"mood":"calm"}', embedding=(0.5, -0.25),
                         embedding_model="test", derived_from=derived_from)


def erased(memory_id="m-1"):
    return MemoryErased(event_id=f"x-{memory_id}", stream_key=f"memory:{memory_id}", version=2, occurred_at=2,
                        provenance=Provenance("alice"), memory_id=memory_id, cube_id="c-1", scope="memory")


@pytest.fixture
def codec(tmp_path):
    return AvroEventCodec.from_directory(sealer=ContentSealer(SqliteKeyStore(tmp_path / "keys.db")))


def test_sealed_bytes_hold_no_content_and_open_back_to_the_same_event(codec):
    payload = codec.encode(created())

    assert b"Zorblax" not in payload and b"diary" not in payload and b"calm" not in payload
    assert codec.decode(payload) == created()


def test_after_the_key_is_destroyed_the_event_opens_to_empty_content_but_keeps_its_envelope(codec):
    payload = codec.encode(created())
    codec.sealer.destroy(["m-1"])

    event = codec.decode(payload)

    assert event.content_erased
    assert (event.text, event.tags, event.metadata_json, event.embedding) == ("", (), "{}", ())
    assert (event.event_id, event.memory_id, event.provenance.actor) == ("e-m-1", "m-1", "alice")


def test_a_destroyed_key_is_not_recreated_for_its_memory(codec):
    codec.encode(created())
    codec.sealer.destroy(["m-1"])

    with pytest.raises(KeyError, match="destroyed"):
        codec.encode(dataclasses.replace(created(), version=2))


def test_reading_an_erasure_destroys_the_key_it_names(tmp_path, codec):
    # The SDK appends MemoryErased, then destroys the key; a crash in between is repaired by
    # whichever process reads the erasure next.
    payload = codec.encode(created())
    erasure = codec.encode(erased())
    reader = AvroEventCodec.from_directory(sealer=ContentSealer(SqliteKeyStore(tmp_path / "keys.db")))

    reader.decode(erasure)

    assert reader.decode(payload).content_erased
    assert SqliteKeyStore(tmp_path / "keys.db").get("m-1") is None


def test_no_copy_of_a_destroyed_key_stays_in_the_key_store_file(tmp_path, codec):
    codec.encode(created())
    key = codec.sealer.keys.get("m-1")
    files = [tmp_path / "keys.db", tmp_path / "keys.db-wal"]
    assert any(f.exists() and key in f.read_bytes() for f in files)

    codec.sealer.destroy(["m-1"])

    assert not any(f.exists() and key in f.read_bytes() for f in files)


def test_a_reader_without_the_producers_key_store_fails_loudly(tmp_path, codec):
    payload = codec.encode(created())

    with pytest.raises(KeyStoreMissing, match="no data key"):
        AvroEventCodec.from_directory(sealer=ContentSealer(SqliteKeyStore(tmp_path / "other.db"))).decode(payload)
    with pytest.raises(KeyStoreMissing, match="sealed"):
        AvroEventCodec.from_directory().decode(payload)


def test_tampered_ciphertext_is_refused(codec):
    event = codec.sealer.seal([created()])[0]
    forged = dataclasses.replace(event, sealed=dataclasses.replace(event.sealed, ciphertext=b"x" * 40))

    with pytest.raises(ValueError, match="authentication"):
        codec.sealer.open(forged)


def cube(cube_id, owner):
    return CubeCreated(event_id=f"e-{cube_id}", stream_key=f"cube:{cube_id}", version=1, occurred_at=1,
                       provenance=Provenance(owner), cube_id=cube_id, name=cube_id, owner=owner)


def test_erasing_a_memory_covers_everything_derived_from_it_transitively():
    index = erasure_index([created("a"), created("b"), created("ab", derived_from=("a", "b")),
                           created("abc", derived_from=("ab",)), created("z")])

    assert with_derived(index, ["a"]) == {"a": "memory", "ab": "derived", "abc": "derived"}


def test_a_users_data_is_what_they_wrote_anywhere_and_everything_in_cubes_they_own():
    index = erasure_index([cube("alice-cube", "alice"), cube("team", "carol"),
                           created("a1", actor="alice", cube="alice-cube"),
                           created("b-in-alice", actor="bob", cube="alice-cube"),
                           created("a-in-team", actor="alice", cube="team"),
                           created("c-in-team", actor="carol", cube="team"), erased("a1")])

    assert memories_of_user(index, "alice") == ["a1", "b-in-alice", "a-in-team"]
    assert with_derived(index, memories_of_user(index, "alice")) == {"b-in-alice": "memory", "a-in-team": "memory"}
