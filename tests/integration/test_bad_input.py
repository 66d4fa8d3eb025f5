"""Bad input gets a specific error and changes nothing: not the log, not any read model."""

from __future__ import annotations

import math

import pytest

from mos import AlreadyExists, InvalidInput, NotFound
from mos.domain.validation import MAX_TEXT_CHARS


@pytest.fixture
def world(mos, alice_cube):
    mos.create_user("bob")
    bob_cube = mos.create_cube("bob-cube", owner="bob")
    memory_id = mos.add("an existing memory", "alice", alice_cube)
    return {"cube": alice_cube, "bob_cube": bob_cube, "memory": memory_id}


class NotJson:
    pass


BAD_CALLS = {
    "empty text": (InvalidInput, lambda m, w: m.add("", "alice", w["cube"])),
    "whitespace text": (InvalidInput, lambda m, w: m.add("  \n\t ", "alice", w["cube"])),
    "text not a string": (InvalidInput, lambda m, w: m.add(42, "alice", w["cube"])),
    "oversize text": (InvalidInput, lambda m, w: m.add("x" * (MAX_TEXT_CHARS + 1), "alice", w["cube"])),
    "unknown user": (NotFound, lambda m, w: m.add("hi", "mallory", w["cube"])),
    "malformed user id": (InvalidInput, lambda m, w: m.add("hi", "", w["cube"])),
    "unknown cube": (NotFound, lambda m, w: m.add("hi", "alice", "no-such-cube")),
    "cube not theirs": (NotFound, lambda m, w: m.add("hi", "alice", w["bob_cube"])),
    "metadata not serialisable": (InvalidInput, lambda m, w: m.add("hi", "alice", w["cube"], metadata={"o": NotJson()})),
    "metadata not a dict": (InvalidInput, lambda m, w: m.add("hi", "alice", w["cube"], metadata=["a"])),
    "metadata with NaN": (InvalidInput, lambda m, w: m.add("hi", "alice", w["cube"], metadata={"x": math.nan})),
    "tags not a list": (InvalidInput, lambda m, w: m.add("hi", "alice", w["cube"], tags="work")),
    "empty tag": (InvalidInput, lambda m, w: m.add("hi", "alice", w["cube"], tags=[""])),
    "one bad item in a batch": (InvalidInput, lambda m, w: m.add_many(
        [{"text": "fine"}, {"text": "also fine"}, {"text": ""}], "alice", w["cube"])),
    "batch item with unknown key": (InvalidInput, lambda m, w: m.add_many([{"txt": "typo"}], "alice", w["cube"])),
    "empty batch": (InvalidInput, lambda m, w: m.add_many([], "alice", w["cube"])),
    "unknown memory id (get)": (NotFound, lambda m, w: m.get("no-such-memory", "alice")),
    "unknown memory id (update)": (NotFound, lambda m, w: m.update("no-such-memory", "alice", text="x")),
    "unknown memory id (archive)": (NotFound, lambda m, w: m.archive("no-such-memory", "alice")),
    "unknown memory id (history)": (NotFound, lambda m, w: m.history("no-such-memory", "alice")),
    "someone else's memory": (NotFound, lambda m, w: m.update(w["memory"], "bob", text="mine now")),
    "update to empty text": (InvalidInput, lambda m, w: m.update(w["memory"], "alice", text=" ")),
    "merge of one memory": (InvalidInput, lambda m, w: m.merge([w["memory"]], "alice")),
    "merge with an unknown id": (NotFound, lambda m, w: m.merge([w["memory"], "nope"], "alice")),
    "duplicate user": (AlreadyExists, lambda m, w: m.create_user("alice")),
    "empty cube name": (InvalidInput, lambda m, w: m.create_cube(" ", owner="alice")),
    "share by a stranger": (NotFound, lambda m, w: m.share_cube(w["cube"], "bob", "bob", "writer")),
    "share with bad role": (InvalidInput, lambda m, w: m.share_cube(w["cube"], "alice", "bob", "admin")),
    "empty query": (InvalidInput, lambda m, w: m.search("", "alice")),
    "bad top_k": (InvalidInput, lambda m, w: m.search("x", "alice", top_k=0)),
    "unknown filter key": (InvalidInput, lambda m, w: m.search("x", "alice", filters={"colour": "red"})),
    "unknown state filter": (InvalidInput, lambda m, w: m.search("x", "alice", filters={"state": "deleted"})),
}


@pytest.mark.parametrize("case", list(BAD_CALLS), ids=list(BAD_CALLS))
def test_bad_input_raises_a_specific_error_and_changes_nothing(mos, world, case):
    error, call = BAD_CALLS[case]
    head = mos.log.head()
    search_before = mos._backend.index.snapshot()
    graph_before = mos._backend.graph.snapshot()
    with pytest.raises(error):
        call(mos, world)
    assert mos.log.head() == head
    mos.sync()
    assert mos._backend.index.snapshot() == search_before
    assert mos._backend.graph.snapshot() == graph_before


@pytest.mark.parametrize("call, message", [
    (lambda m, c: m.add("tea \udc00", "alice", c), "unpaired surrogate"),
    (lambda m, c: m.add("tea", "alice", c, tags=["ok", "bad\udc00"]), "unpaired surrogate"),
    (lambda m, c: m.add("tea", "alice", c, metadata={"k\udc00": 1}), "unpaired surrogate"),
    (lambda m, c: m.add("tea", "alice", c, tags=["nul\x00tag"]), "NUL"),
    (lambda m, c: m.add("tea", "alice", c, metadata=_nested(40)), "nested more than 32"),
    (lambda m, c: m.create_cube("bad \udc00 name", "alice"), "unpaired surrogate"),
    (lambda m, c: m.search("tea", "alice", filters={"metadata": {'a\\\\': 1}}), "metadata filter keys"),
    (lambda m, c: m.search("tea", "alice", filters={"metadata": {'a"b': 1}}), "metadata filter keys"),
    (lambda m, c: m.get_all("alice", limit=2 ** 63), "limit must be"),
    (lambda m, c: m.get_all("alice", offset=-1), "offset must be"),
])
def test_unencodable_hostile_or_oversized_input_is_a_clear_error_and_writes_nothing(mos, alice_cube, call, message):
    """Found by fuzzing the REST API: these used to escape as UnicodeEncodeError, a SQLite JSON
    path error, an OverflowError, or metadata that broke every later read."""
    head = mos.log.head()
    with pytest.raises(InvalidInput, match=message):
        call(mos, alice_cube)
    assert mos.log.head() == head


def _nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth):
        value = {"n": value}
    return value
