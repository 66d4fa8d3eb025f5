"""Stop and restart the Kafka broker while producers append and the worker projects: every
acknowledged append is in the log exactly once, and the read models equal a clean replay.

The broker is a dedicated one (own home, own ports): other test runs share the usual one.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from streams.kafka.event_log import KafkaEventLog
from tests.pipeline.test_faust_pipeline import assert_equal_to_clean_replay, make_graph, make_index, stop_worker
from tests.reliability.conftest import isolated_settings
from tests.reliability.workload import Producer, Workload
from tests.reliability.worker_runs import assert_log_holds_each_acked_append_once, projected_to, wait_until, worker

pytestmark = pytest.mark.services


def test_broker_restart_mid_stream_loses_no_event_and_applies_none_twice(sizes, tmp_path, report):
    from streams.services import dedicated_servers, endpoints_for_tests

    shared = endpoints_for_tests(["elasticsearch", "neo4j"])
    with dedicated_servers(["kafka"]) as servers:
        settings = isolated_settings(replace(shared, kafka_bootstrap=servers.endpoints.kafka_bootstrap))
        event_log = KafkaEventLog(settings.log_config(), cache_path=tmp_path / "app-cache.db")
        workloads = [Workload(f"restart{n}", seed=40 + n) for n in range(2)]
        # Two request threads of one app, paced so that the stream outlasts the outage.
        producers = [Producer(event_log, w.commands(sizes.restart_events // 2), name=w.name, pause_s=0.02)
                     for w in workloads]
        index, graph = make_index(settings), make_graph(settings)
        worker_log = tmp_path / "worker.log"
        process = worker(settings, tmp_path)
        try:
            for producer in producers:
                producer.start()
            wait_until(lambda: projected_to(index, graph) > 0 and sum(p.events for p in producers)
                       >= sizes.restart_events // 3, 240, "a third of the stream appended and projected",
                       process, worker_log)
            down_at, appended_before = time.monotonic(), sum(p.events for p in producers)
            servers.stop("kafka")
            time.sleep(sizes.outage_s)  # the fault: the broker stays down this long
            servers.start("kafka")
            outage = time.monotonic() - down_at
            appended_during = sum(p.events for p in producers) - appended_before
            for producer in producers:
                producer.join(600)
                assert not producer.is_alive(), f"{producer.name} still appending 600 s after the restart"
            target = max(p.end_offset for p in producers)
            seconds = wait_until(lambda: projected_to(index, graph) >= target, 600,
                                 f"the worker to reach offset {target} after the restart", process, worker_log)
            assert process.poll() is None, "the worker exited during the broker outage"
        finally:
            stop_worker(process)
        try:
            assert [f for p in producers for f in p.failures] == []
            events = assert_log_holds_each_acked_append_once(event_log, settings, producers)
            assert events == 2 * (sizes.restart_events // 2)
            assert_equal_to_clean_replay(settings, event_log, index, graph)
            assert set(index.snapshot()["documents"]) == {m for w in workloads for m in w.created}
        finally:
            event_log.close()
        report(f"{events} events from 2 producers, broker down {outage:.1f} s (stop + {sizes.outage_s:.0f} s + boot) "
               f"after {appended_before} events, {appended_during} appended while it was down or booting, slowest "
               f"append {max(p.slowest_append_s for p in producers):.1f} s, worker caught up {seconds:.1f} s "
               f"after the last append; 0 lost, 0 duplicated")
