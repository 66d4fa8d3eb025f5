"""Point-in-time reads: `as_of` answers exactly what a store built from only the events up to
that moment would answer."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mos import MOS
from mos.domain.errors import InvalidInput, NotFound
from mos.embedders.hashing import HashingEmbedder
from streams.embedded.sqlite_event_log import SqliteEventLog

DAY_MS = 86_400_000
START = 1_767_225_600_000  # 2026-01-01T00:00:00Z


class Clock:
    now = START

    def __call__(self):
        return self.now


def moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


@pytest.fixture
def history(tmp_path):
    """Four days of changes: adds, an update, an archive, a share, a merge."""
    clock = Clock()
    mos = MOS(tmp_path / "live", embedder=HashingEmbedder(), clock=clock, record_access=False)
    mos._point_in_time.snapshot_every = 7  # exercise the snapshot path on a short log
    mos.create_user("alice")
    mos.create_user("bob")
    cube = mos.create_cube("diary", owner="alice")
    lisbon, dog = mos.add_many([{"text": "Alice lives in Lisbon"}, {"text": "Alice has a dog named Pixel"}],
                               "alice", cube)
    clock.now += DAY_MS
    mos.update(lisbon, "alice", text="Alice moved from Lisbon to Porto")
    cello = mos.add("Alice plays the cello on Sundays", "alice", cube)
    clock.now += DAY_MS
    mos.archive(dog, "alice")
    mos.share_cube(cube, "alice", "bob", "reader")
    clock.now += DAY_MS
    mos.merge([lisbon, cello], "alice", text="Alice lives in Porto and plays the cello")
    clock.now += 3_600_000
    yield mos, {"lisbon": lisbon, "dog": dog, "cello": cello}
    mos.close()


def store_of_prefix(tmp_path, mos, offset: int) -> MOS:
    (tmp_path / f"prefix-{offset}").mkdir()
    log = SqliteEventLog(tmp_path / f"prefix-{offset}" / "events.db")
    for recorded in mos.log.read(0, limit=offset):
        log.append([recorded.event])
    log.close()
    return MOS(tmp_path / f"prefix-{offset}", embedder=HashingEmbedder(), record_access=False)


def _answers(hits):
    return [(h.memory_id, h.text, h.state, round(h.score, 6)) for h in hits]


QUERIES = ["where does Alice live", "Alice dog Pixel", "cello"]


@pytest.mark.parametrize("day", [0, 1, 2, 3])
def test_search_as_of_equals_a_store_built_from_only_the_events_up_to_then(history, tmp_path, day):
    mos, _ = history
    at = moment(START + day * DAY_MS + 1000)
    offset = mos._point_in_time.offset_of(at, mos._clock())
    with store_of_prefix(tmp_path, mos, offset) as then:
        for query in QUERIES:
            for filters in (None, {"state": ["active", "archived"]}):
                assert _answers(mos.search(query, "alice", top_k=5, filters=filters, as_of=at)) == \
                       _answers(then.search(query, "alice", top_k=5, filters=filters))


def test_get_as_of_shows_the_memory_as_it_was(history):
    mos, ids = history
    assert mos.get(ids["lisbon"], "alice", as_of=moment(START + 1000)).text == "Alice lives in Lisbon"
    assert mos.get(ids["lisbon"], "alice", as_of=moment(START + DAY_MS + 1000)).text.startswith("Alice moved")
    assert mos.get(ids["dog"], "alice", as_of=moment(START + 1000)).state == "active"
    assert mos.get(ids["dog"], "alice").state == "archived"
    with pytest.raises(NotFound):
        mos.get(ids["cello"], "alice", as_of=moment(START + 1000))  # not written yet


def test_as_of_respects_who_could_see_what_then(history):
    mos, ids = history
    assert mos.search("cello", "bob", as_of=moment(START + DAY_MS + 1000)) == []  # shared on day 2
    assert mos.search("cello", "bob", as_of=moment(START + 2 * DAY_MS + 1000))
    with pytest.raises(NotFound):
        mos.get(ids["dog"], "bob", as_of=moment(START + 1000))


def test_snapshots_give_the_same_answers_as_a_replay_from_zero(history):
    mos, _ = history
    with_snapshots = _answers(mos.search("Alice", "alice", top_k=10, as_of=moment(START + 2 * DAY_MS + 1000)))
    assert list(mos._point_in_time.directory.glob("snapshot-*"))
    mos._point_in_time.close()
    mos._point_in_time.snapshot_every = 1_000_000
    for snapshot in mos._point_in_time.directory.glob("snapshot-*"):
        import shutil

        shutil.rmtree(snapshot)
    assert _answers(mos.search("Alice", "alice", top_k=10, as_of=moment(START + 2 * DAY_MS + 1000))) == with_snapshots


@pytest.mark.parametrize("as_of, message", [
    (moment(START + 365 * DAY_MS), "in the future"),
    (moment(START - DAY_MS), "before the first event"),
    (datetime(2026, 1, 2), "timezone-aware"),
    (0, "between 1 and the log head"),
    (10_000, "between 1 and the log head"),
    ("yesterday", "datetime or a log offset"),
])
def test_impossible_moments_are_a_clear_error(history, as_of, message):
    mos, _ = history
    mos._clock.now = START + 5 * DAY_MS
    with pytest.raises(InvalidInput, match=message):
        mos.search("Alice", "alice", as_of=as_of)


def test_as_of_a_log_offset_on_both_backends(mos, alice_cube):
    """Kafka's offsets have gaps (transaction markers): an offset still means "every event
    before it", on either log."""
    memory = mos.add("Alice's bike is red", "alice", alice_cube)
    mos.sync()
    after_add = mos.log.head()
    mos.update(memory, "alice", text="Alice's bike is green now")
    mos.archive(memory, "alice")
    assert mos.get(memory, "alice", as_of=after_add).text == "Alice's bike is red"
    assert [h.memory_id for h in mos.search("bike", "alice", as_of=after_add)] == [memory]
    assert mos.search("bike", "alice") == []  # archived now
    assert mos.get(memory, "alice", as_of=mos.log.head()).state == "archived"
