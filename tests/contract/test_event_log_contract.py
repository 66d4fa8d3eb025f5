"""EventLog contract: atomic appends, optimistic concurrency, gap-free offsets, immutability."""

from __future__ import annotations

import itertools
import threading

import pytest

from mos.domain.commands import CommandContext
from mos.domain.cube import create_user
from mos.domain.errors import Conflict
from mos.domain.events import UserCreated, user_key

_ids = itertools.count()


def user_event(user: str, version: int = 1) -> UserCreated:
    ctx = CommandContext(actor=user, new_id=lambda: f"evt-{next(_ids)}")
    event = create_user(ctx, user)
    return UserCreated(**{**event.__dict__, "version": version})


def test_offsets_increase_in_append_order_and_reads_resume_from_any_offset(event_log):
    recorded = event_log.append([user_event("a"), user_event("b")])
    recorded += event_log.append([user_event("c")])
    offsets = [r.offset for r in recorded]
    assert offsets == sorted(set(offsets)) and offsets[0] >= 0
    assert event_log.head() > offsets[-1]
    assert [r.offset for r in event_log.read(0)] == offsets
    assert [r.event.user_id for r in event_log.read(offsets[1])] == ["b", "c"]
    assert [r.event.user_id for r in event_log.read(0, limit=2)] == ["a", "b"]
    assert list(event_log.read(event_log.head())) == []


def test_stale_writer_gets_a_conflict_and_nothing_is_appended(event_log):
    event_log.append([user_event("a", 1)])
    with pytest.raises(Conflict):
        event_log.append([user_event("a", 1)])  # someone else already wrote version 1
    with pytest.raises(Conflict):
        event_log.append([user_event("a", 3)])  # a gap is as wrong as a duplicate
    assert len(list(event_log.read())) == 1


def test_a_batch_is_all_or_nothing(event_log):
    event_log.append([user_event("a", 1)])
    with pytest.raises(Conflict):
        event_log.append([user_event("b", 1), user_event("a", 1)])
    assert len(list(event_log.read())) == 1
    assert event_log.read_stream(user_key("b")) == []


def test_consecutive_versions_of_one_stream_in_one_batch(event_log):
    event_log.append([user_event("a", 1), user_event("a", 2)])
    assert [e.version for e in event_log.read_stream(user_key("a"))] == [1, 2]


def test_concurrent_writers_of_one_version_exactly_one_wins(event_log):
    outcomes = []

    def write():
        try:
            event_log.append([user_event("race", 1)])
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]
    assert len(list(event_log.read())) == 1


def test_events_read_back_equal_what_was_appended(event_log):
    events = [user_event("a"), user_event("b")]
    event_log.append(events)
    assert [r.event for r in event_log.read()] == events


def test_subscribe_delivers_existing_then_new_events(event_log):
    event_log.append([user_event("a")])
    stream = event_log.subscribe(0, poll_interval=0.01)
    assert next(stream).event.user_id == "a"
    event_log.append([user_event("b")])
    assert next(stream).event.user_id == "b"
    assert list(event_log.subscribe(event_log.head(), stop_when_idle=True)) == []


def test_two_writers_on_one_log_never_both_win_a_version(event_log_factory):
    first, second = event_log_factory(), event_log_factory()
    first.append([user_event("shared", 1)])
    with pytest.raises(Conflict):
        second.append([user_event("shared", 1)])  # its view must include the first writer's event
    second.append([user_event("shared", 2)])
    with pytest.raises(Conflict):
        first.append([user_event("shared", 2)])
    assert [e.version for e in first.read_stream(user_key("shared"))] == [1, 2]
