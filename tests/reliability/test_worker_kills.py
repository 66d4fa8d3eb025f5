"""SIGKILL the Faust worker again and again while events stream in: the read models end up
equal to a clean replay of the topic — nothing lost, nothing applied twice."""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from tests.pipeline.test_faust_pipeline import assert_equal_to_clean_replay, kafka_log, make_graph, make_index, stop_worker
from tests.reliability.workload import Producer, Workload
from tests.reliability.worker_runs import assert_log_holds_each_acked_append_once, projected_to, wait_until, worker

pytestmark = pytest.mark.services


def test_worker_sigkilled_at_random_points_ends_equal_to_a_clean_replay(sizes, shared_settings, tmp_path, report):
    settings, seed = shared_settings, 8_000 + sizes.kills
    rng = random.Random(seed)
    event_log = kafka_log(settings, tmp_path / "app-cache.db")
    # Long mode: 50k events through one app's appends; batches of up to 100 keep that to minutes.
    workload = Workload("kills", seed=seed, max_batch=20 if sizes.kill_events <= 5_000 else 100)
    # One segment of the stream is released as each worker starts, so every worker life
    # sees events arriving; the kill lands at a random moment after its first progress.
    producer = Producer(event_log, workload.commands(sizes.kill_events), segment=sizes.kill_events // (sizes.kills + 1))
    index, graph = make_index(settings), make_graph(settings)
    worker_log = tmp_path / "worker.log"
    kills = []
    try:
        producer.start()
        for number in range(1, sizes.kills + 1):
            process = worker(settings, tmp_path)
            before = projected_to(index, graph)
            producer.gate.release()
            wait_until(lambda: projected_to(index, graph) > before, 240,
                       f"worker life {number} to project past offset {before}", process, worker_log)
            # Soon after its first progress: a worker that projects faster than the producer
            # appends (since the Neo4j adapter's per-type UNWIND) caught up within 2 s, and
            # kills then landed with nothing left to project.
            time.sleep(rng.uniform(0.0, 0.3))
            at = projected_to(index, graph)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(30)
            kills.append({"checkpoint": at, "appended": producer.end_offset, "producing": producer.appending.is_set()})
        for _ in range(sizes.kills + 2):
            producer.gate.release()  # the rest of the stream, for the last worker
        process = worker(settings, tmp_path)
        try:
            producer.join(900)
            assert not producer.is_alive(), f"the producer did not finish within 900 s ({producer.events} events)"
            target = producer.end_offset
            seconds = wait_until(lambda: projected_to(index, graph) >= target, 600,
                                 f"the last worker to reach offset {target}", process, worker_log)
        finally:
            stop_worker(process)
        assert producer.failures == []
        events = assert_log_holds_each_acked_append_once(event_log, settings, [producer])
        assert events == sizes.kill_events
        assert len(kills) == sizes.kills
        assert_equal_to_clean_replay(settings, event_log, index, graph)
        assert set(index.snapshot()["documents"]) == set(workload.created)
        mid_stream = sum(1 for kill in kills if kill["checkpoint"] < kill["appended"] or kill["producing"])
        report(f"{events} events, {len(kills)} SIGKILLs ({mid_stream} with events still to project), "
               f"last worker caught up in {seconds:.1f} s; kills at {kills}")
        assert mid_stream >= sizes.kills // 2, f"most kills should land mid-stream: {kills}"
    finally:
        event_log.close()
