"""Focused policy behaviours: capacity, displacement, and what the scheduler leaves alone."""

from __future__ import annotations

import json

from mos import MOS
from mos.embedders.hashing import HashingEmbedder

HOUR_MS = 3_600_000
START = 1_767_225_600_000


class Clock:
    now = START

    def __call__(self):
        return self.now


def _policies(mos, memory_id):
    return [(type(e).__name__, json.loads(e.reason)["policy"]) for e in mos.history(memory_id, "alice")
            if e.provenance.actor == "mos-scheduler"]


def test_a_full_cube_makes_room_by_displacing_its_coldest_member(tmp_path):
    clock = Clock()
    config = {"activation": {"max_memories_per_cube": 2, "stable_for_hours": 0, "min_heat": 3.0,
                             "demote_below": 0.1, "displace_ratio": 2.0}, "parametric": {"enabled": False}}
    with MOS(tmp_path, embedder=HashingEmbedder(), clock=clock, scheduler_config=config) as mos:
        mos.create_user("alice")
        cube = mos.create_cube("notes", owner="alice")
        warm, lukewarm, rising = mos.add_many([{"text": t} for t in ("warm", "lukewarm", "rising")], "alice", cube)
        mos.record_access([warm] * 8 + [lukewarm] * 4, "alice")
        assert mos.run_scheduler().decided == {"promote": 2}
        clock.now += HOUR_MS
        mos.record_access([rising] * 5, "alice")  # hotter than lukewarm, but not twice as hot
        assert mos.run_scheduler().decided == {}
        clock.now += HOUR_MS
        mos.record_access([rising] * 6, "alice")  # now 11 > 2 x lukewarm's ~3.9
        report = mos.run_scheduler()
        assert report.decided == {"demote": 1, "promote": 1}
        assert _policies(mos, lukewarm)[-1] == ("MemoryDemoted", "demote-displaced")
        assert _policies(mos, rising) == [("MemoryPromoted", "promote-activation")]
        assert _policies(mos, warm) == [("MemoryPromoted", "promote-activation")]
        displaced = [e for e in mos.history(lukewarm, "alice") if type(e).__name__ == "MemoryDemoted"][0]
        assert json.loads(displaced.reason)["measured"]["displaced_by"] == rising


def test_without_signals_or_changes_the_scheduler_decides_nothing(tmp_path):
    clock = Clock()
    with MOS(tmp_path, embedder=HashingEmbedder(), clock=clock) as mos:
        mos.create_user("alice")
        cube = mos.create_cube("notes", owner="alice")
        mos.add_many([{"text": f"note {i} about something else {i * 13}"} for i in range(20)], "alice", cube)
        head = mos.log.head()
        for hour in range(48):
            clock.now = START + hour * HOUR_MS
            assert mos.run_scheduler().decided == {}
        assert mos.log.head() == head


def test_the_background_scheduler_ticks_on_its_own_and_stops_with_close(tmp_path):
    import time

    clock = Clock()
    mos = MOS(tmp_path, embedder=HashingEmbedder(), clock=clock, scheduler_config={"archive": {"ttl_days": 1}})
    mos.create_user("alice")
    cube = mos.create_cube("notes", owner="alice")
    memory = mos.add("a note nobody will read", "alice", cube)
    clock.now += 2 * 24 * HOUR_MS
    mos.start_scheduler(interval_s=0.05, build_artifacts=False)
    deadline = time.monotonic() + 10
    while mos.get(memory, "alice").state != "archived" and time.monotonic() < deadline:
        time.sleep(0.05)
    mos.close()
    assert _policies_of(mos_dir=tmp_path, memory_id=memory) == [("MemoryArchived", "archive-ttl")]


def _policies_of(mos_dir, memory_id):
    with MOS(mos_dir, embedder=HashingEmbedder(), record_access=False) as reopened:
        return _policies(reopened, memory_id)


def test_a_memory_promoted_by_hand_is_not_demoted_as_cold_before_its_minimum_residence(tmp_path):
    clock = Clock()
    config = {"activation": {"min_promoted_hours": 6}, "parametric": {"enabled": False}}
    with MOS(tmp_path, embedder=HashingEmbedder(), clock=clock, scheduler_config=config) as mos:
        mos.create_user("alice")
        cube = mos.create_cube("notes", owner="alice")
        (pinned,) = mos.add_many([{"text": "the project's coding conventions"}], "alice", cube)
        mos.promote([pinned], "alice", "activation", reason="always in context")  # never accessed: heat 0
        for hour in range(1, 6):
            clock.now = START + hour * HOUR_MS
            assert mos.run_scheduler().decided == {}
        clock.now = START + 6 * HOUR_MS
        assert mos.run_scheduler().decided == {"demote": 1}
        demoted = [e for e in mos.history(pinned, "alice") if type(e).__name__ == "MemoryDemoted"][0]
        reason = json.loads(demoted.reason)
        assert reason["policy"] == "demote-cooled"
        assert reason["measured"]["promoted_for_ms"] == 6 * HOUR_MS
        assert reason["thresholds"]["min_promoted_ms"] == 6 * HOUR_MS
