"""The access recorder: a search buffers its access signals and never waits for their append.

Over a real embedded log, wrapped where a spec needs the append to stall or fail the way a
fenced or unreachable Kafka writer does.
"""

from __future__ import annotations

import threading
import time

import pytest

from mos.access import AccessRecorder
from mos.domain.errors import Unavailable
from mos.domain.events import MemoryAccessed
from streams.embedded.sqlite_event_log import SqliteEventLog


class StallingLog:
    """The embedded log, whose appends wait for `release` (and fail while `failing`)."""

    def __init__(self, path):
        self.inner = SqliteEventLog(path)
        self.release = threading.Event()
        self.release.set()
        self.failing = False
        self.appends_started = 0

    def append(self, events):
        self.appends_started += 1
        self.release.wait(30)
        if self.failing:
            raise Unavailable("the log is unreachable")
        return self.inner.append(events)

    def read_stream(self, stream_key):
        return self.inner.read_stream(stream_key)


class Clock:
    def __init__(self, now: int = 1_000_000):
        self.now = now

    def __call__(self) -> int:
        return self.now


@pytest.fixture
def log(tmp_path):
    stalling = StallingLog(tmp_path / "events.db")
    yield stalling
    stalling.release.set()
    stalling.inner.close()


def _accesses(log) -> dict[str, int]:
    return {r.event.memory_id: r.event.count for r in log.inner.read(0) if isinstance(r.event, MemoryAccessed)}


def _wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_a_record_that_makes_the_buffer_due_returns_before_the_append_ends(log):
    recorder = AccessRecorder(log, Clock(), "spec", max_pending=2)
    log.release.clear()  # the append stalls, as a fenced Kafka writer's does
    began = time.monotonic()
    recorder.record([("m1", "c"), ("m2", "c")], "alice")
    returned_after = time.monotonic() - began
    assert _wait_for(lambda: log.appends_started == 1), "the due buffer was not flushed"
    recorder.record([("m1", "c")], "alice")  # buffering goes on while the append waits
    log.release.set()
    assert _wait_for(lambda: _accesses(log) == {"m1": 1, "m2": 1})
    assert returned_after < 1.0
    assert recorder.close() == 1  # the access recorded during the append: its own event
    assert [r.event.count for r in log.inner.read(0) if r.event.memory_id == "m1"] == [1, 1]


def test_the_oldest_access_is_flushed_after_max_delay_with_no_further_search(log):
    clock = Clock()
    recorder = AccessRecorder(log, clock, "spec", max_delay_ms=50)
    recorder.record([("m1", "c")], "alice")
    recorder.record([("m1", "c")], "bob")
    time.sleep(0.2)  # four of the flusher's wakes, but by the recorder's clock nothing is due
    assert _accesses(log) == {}
    clock.now += 50  # no search follows
    assert _wait_for(lambda: _accesses(log) == {"m1": 1} and recorder.pending() == 0)
    assert {r.event.accessed_by for r in log.inner.read(0)} == {"alice", "bob"}
    recorder.close()


def test_a_failed_flush_keeps_its_accesses_for_the_next_one(log):
    recorder = AccessRecorder(log, Clock(), "spec", background=False)
    recorder.record([("m1", "c"), ("m1", "c")], "alice")
    log.failing = True
    with pytest.raises(Unavailable):
        recorder.flush()
    assert recorder.pending() == 2
    recorder.record([("m1", "c")], "alice")
    log.failing = False
    assert recorder.flush() == 1
    assert _accesses(log) == {"m1": 3} and recorder.pending() == 0


def test_the_flusher_rides_out_an_unreachable_log_and_close_appends_the_rest(log):
    clock = Clock()
    recorder = AccessRecorder(log, clock, "spec", max_pending=1, max_delay_ms=50)
    log.failing = True
    recorder.record([("m1", "c")], "alice")
    assert _wait_for(lambda: log.appends_started >= 2), "the flusher did not retry"
    assert recorder.pending() == 1 and _accesses(log) == {}
    log.failing = False
    assert _wait_for(lambda: _accesses(log) == {"m1": 1})
    recorder.record([("m2", "c")], "alice")
    recorder.close()
    assert _accesses(log) == {"m1": 1, "m2": 1} and recorder.pending() == 0
    assert not any(t.name == "mos-access-flusher" and t.is_alive() for t in threading.enumerate())
