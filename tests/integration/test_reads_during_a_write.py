"""A read does not queue behind a write in progress when the read models already hold the log,
and still sees every event committed before it when they do not (both backends).

A write holds the SDK's lock across its append and its sync; on Kafka an append that another
writer fences takes seconds. The write in progress is played here by a thread holding the lock.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from mos.domain import memory as memories
from mos.domain.commands import CommandContext, random_id


@contextmanager
def write_in_progress(mos):
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with mos._lock:
            holding.set()
            release.wait(60)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert holding.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join(10)


def _in_thread(call) -> tuple[threading.Thread, dict]:
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = call()
        except Exception as exc:  # noqa: BLE001 — asserted on by the spec
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def _setup(mos) -> tuple[str, str]:
    mos.create_user("alice")
    cube = mos.create_cube("hive", owner="alice")
    return cube, mos.add("Alice keeps bees on the roof.", "alice", cube)


def test_a_read_of_current_read_models_does_not_wait_for_a_write_in_progress(mos):
    cube, memory = _setup(mos)
    with write_in_progress(mos):
        reader, result = _in_thread(lambda: mos.search("bees on the roof", "alice", top_k=1))
        reader.join(30)
        assert not reader.is_alive(), "the search waited for the write's lock"
    assert "error" not in result and [h.memory_id for h in result["value"]] == [memory]


def test_a_read_behind_the_log_waits_for_the_lock_and_sees_what_was_committed_before_it(mos):
    cube, _ = _setup(mos)
    ctx = CommandContext(actor="alice", source_app="another-process")
    vector = mos.embedder.embed(["Bob's wasps live in the shed."])[0]
    content = memories.MemoryContentValues("Bob's wasps live in the shed.", (), "{}", tuple(vector.tolist()),
                                           mos.embedder.model_id)
    appended = random_id()
    with write_in_progress(mos):
        mos.log.append([memories.create(ctx, appended, cube, content)])  # not in the read models yet
        reader, result = _in_thread(lambda: mos.search("wasps in the shed", "alice", top_k=1))
        reader.join(1.0)
        assert reader.is_alive(), "the search answered before projecting an event committed before it"
    reader.join(30)
    assert "error" not in result and [h.memory_id for h in result["value"]] == [appended]
