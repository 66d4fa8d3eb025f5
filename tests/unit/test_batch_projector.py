"""The stream agents' core: poison records become dead letters with a reason, the rest are
projected once, and records below the read model's checkpoint are skipped."""

from __future__ import annotations

import pytest

from mos.domain.commands import CommandContext
from mos.domain.cube import create_user
from projections.batch_projector import MAX_EVENT_BYTES, BatchProjector, RawRecord
from projections.embedded.sqlite_graph_store import SqliteGraphStore
from projections.graph_projection import project_graph
from streams.avro_codec import AvroEventCodec

CODEC = AvroEventCodec.from_directory()


def user_record(offset: int, user: str) -> RawRecord:
    event = create_user(CommandContext(actor=user), user)
    return RawRecord(offset, event.stream_key.encode(), CODEC.encode(event))


@pytest.fixture
def projector(tmp_path):
    graph = SqliteGraphStore(tmp_path / "graph.db")
    yield BatchProjector("graph", CODEC, project_graph, graph)
    graph.close()


def users(projector) -> list[str]:
    return [node[0] for node in projector.target.snapshot()["nodes"]]


@pytest.mark.parametrize("value, reason", [
    (b"\x00not avro at all", "bad header"),
    (None, "empty message"),
    (b"\xc3\x01" + bytes(8) + b"body", "unknown writer schema"),
    (b"x" * (MAX_EVENT_BYTES + 1), "exceeds"),
])
def test_poison_records_become_dead_letters_and_the_batch_goes_on(projector, value, reason):
    letters = projector.process([user_record(0, "alice"), RawRecord(1, b"k", value), user_record(2, "bob")])
    assert [(letter.offset, reason in letter.reason) for letter in letters] == [(1, True)]
    assert users(projector) == ["user:alice", "user:bob"]
    assert projector.target.checkpoint() == 3


def test_truncated_and_mismatched_records_are_dead_letters(projector):
    good = user_record(0, "alice")
    truncated = RawRecord(1, good.key, good.value[:-3])
    wrong_key = RawRecord(2, b"user:mallory", user_record(2, "carol").value)
    letters = projector.process([good, truncated, wrong_key])
    assert [letter.offset for letter in letters] == [1, 2]
    assert "corrupt" in letters[0].reason and "does not match" in letters[1].reason


def test_redelivered_records_below_the_checkpoint_are_skipped(projector):
    projector.process([user_record(0, "alice"), user_record(1, "bob")])
    before = projector.target.snapshot()
    assert projector.process([user_record(0, "alice"), user_record(1, "bob")]) == []
    assert projector.target.snapshot() == before
