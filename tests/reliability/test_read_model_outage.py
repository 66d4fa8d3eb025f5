"""A read model's server down for a while as events stream in (short mode: Elasticsearch, the
adapter whose writes are not atomic; long mode: Elasticsearch, then Neo4j): the worker backs off
(bounded exponential delays, logged) without crashing or skipping anything, resumes when
the server returns and catches up with no loss — the read models equal a clean replay.
Elasticsearch and Neo4j are dedicated servers (own home, own ports)."""

from __future__ import annotations

import re
import time
from dataclasses import replace

import pytest

from tests.pipeline.test_faust_pipeline import (
    assert_equal_to_clean_replay,
    kafka_log,
    make_graph,
    make_index,
    stop_worker,
)
from tests.reliability.conftest import isolated_settings
from tests.reliability.workload import Producer, Workload
from tests.reliability.worker_runs import (
    WORKER_ENV,
    assert_log_holds_each_acked_append_once,
    close_read_models,
    projected_to,
    wait_until,
    worker,
)

pytestmark = pytest.mark.services

AGENTS = {"elasticsearch": "search", "neo4j": "graph"}
RETRY = re.compile(r"projection (\w+) of offsets \d+\.\.\d+ failed \(attempt (\d+)\): .*; retrying in ([\d.]+) s")


def retries(worker_log) -> dict[str, list[tuple[int, float]]]:
    """agent -> [(attempt, delay)] of every backoff the worker logged."""
    found: dict[str, list[tuple[int, float]]] = {}
    for match in RETRY.finditer(worker_log.read_text(errors="replace")):
        found.setdefault(match[1], []).append((int(match[2]), float(match[3])))
    return found


def test_read_model_outage_backs_off_resumes_and_catches_up_with_no_loss(sizes, tmp_path, report):
    from streams.services import dedicated_servers, endpoints_for_tests

    shared = endpoints_for_tests()
    with dedicated_servers(sizes.outage_servers) as servers:
        moved = {"elasticsearch": {"es_url": servers.endpoints.es_url},
                 "neo4j": {"neo4j_uri": servers.endpoints.neo4j_uri}}
        settings = isolated_settings(replace(shared, **{k: v for name in sizes.outage_servers
                                                        for k, v in moved[name].items()}))
        event_log = kafka_log(settings, tmp_path / "app-cache.db")
        workload = Workload("outage", seed=50)
        # Paced so that events keep arriving through the outages and the servers' reboots,
        # which take up to a minute each on a loaded 2-core machine (~8 events per command).
        pause = max(60.0, 3 * len(sizes.outage_servers) * sizes.outage_s) / (sizes.outage_events / 8)
        producer = Producer(event_log, workload.commands(sizes.outage_events), pause_s=pause)
        index, graph = make_index(settings), make_graph(settings)
        worker_log = tmp_path / "worker.log"
        process = worker(settings, tmp_path)
        outages = {}
        try:
            producer.start()
            wait_until(lambda: projected_to(index, graph) > 0, 240, "the first projected batch", process, worker_log)
            models = {"elasticsearch": (index, graph), "neo4j": (graph, index)}
            for name in sizes.outage_servers:
                outaged, other = models[name]
                stopped_at = time.monotonic()
                servers.stop(name)
                other_before = other.checkpoint()  # reported: the read model that stays up may go on
                time.sleep(sizes.outage_s)  # the fault: the server stays down this long
                other_during = other.checkpoint()
                servers.start(name)
                back_at = time.monotonic()
                behind = producer.end_offset
                caught = wait_until(lambda: outaged.checkpoint() >= behind, 300,
                                    f"{name}'s read model to catch up to offset {behind}", process, worker_log)
                outages[name] = {"down_s": round(back_at - stopped_at, 1), "caught_up_s": round(caught, 1),
                                 "other_advanced": other_during - other_before}
                assert process.poll() is None, f"the worker exited while {name} was down"
            producer.join(600)
            assert not producer.is_alive(), "the producer did not finish"
            target = producer.end_offset
            wait_until(lambda: projected_to(index, graph) >= target, 600, f"both read models at {target}",
                       process, worker_log)
        finally:
            stop_worker(process)
        try:
            assert producer.failures == []
            events = assert_log_holds_each_acked_append_once(event_log, settings, [producer])
            assert events == sizes.outage_events
            assert_equal_to_clean_replay(settings, event_log, index, graph)
            assert set(index.snapshot()["documents"]) == set(workload.created)
        finally:
            event_log.close()
            close_read_models()

    logged = retries(worker_log)
    cap = float(WORKER_ENV["MOS_RETRY_MAX_SECONDS"])
    for agent in (AGENTS[name] for name in sizes.outage_servers):
        delays = [delay for _, delay in logged.get(agent, [])]
        assert len(delays) >= 2, f"the {agent} agent logged no backoff while its read model was down: {logged}"
        assert max(delays) <= cap, f"{agent} backoff exceeded its {cap} s bound: {delays}"
        assert any(b > a for a, b in zip(delays, delays[1:])), f"{agent} backoff never grew: {delays}"
    report(f"{events} events; outages {outages}; backoff delays logged: "
           f"{ {agent: [d for _, d in found] for agent, found in logged.items()} }")
