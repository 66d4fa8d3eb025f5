"""The real pipeline: events in Kafka, a Faust worker process projecting them into
Elasticsearch and Neo4j. Every test runs against real servers (see streams.services)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from mos import MOS
from mos.backends import Backend
from mos.config import PipelineSettings
from mos.embedders.hashing import HashingEmbedder
from projections.embedded.sqlite_graph_store import SqliteGraphStore
from projections.embedded.sqlite_search_index import SqliteSearchIndex
from projections.graph_projection import project_graph
from projections.runner import ProjectionRunner
from projections.search_projection import project_search
from streams.kafka.event_log import KafkaEventLog
from tests.pipeline.real_read_models import make_graph as _make_graph
from tests.pipeline.real_read_models import make_index as _make_index

DIMENSION = 16
_opened: list = []


def make_index(settings, suffix: str = ""):
    _opened.append(_make_index(settings, suffix))
    return _opened[-1]


def make_graph(settings, suffix: str = ""):
    _opened.append(_make_graph(settings, suffix))
    return _opened[-1]


@pytest.fixture(autouse=True)
def close_read_models():
    """Every index / graph namespace a test opened is deleted afterwards."""
    yield
    while _opened:
        _opened.pop().close()


@pytest.fixture
def settings():
    from streams.services import endpoints_for_tests

    endpoints = endpoints_for_tests()
    return PipelineSettings.isolated(endpoints, f"mos-test-{uuid.uuid4().hex[:10]}", embedding_dimension=DIMENSION)


def kafka_log(settings: PipelineSettings, cache: Path) -> KafkaEventLog:
    return KafkaEventLog(settings.log_config(), cache_path=cache)


def app_side_mos(settings: PipelineSettings, tmp_path: Path) -> MOS:
    """An app writing to Kafka, with its own local read models (the worker's are separate)."""
    log = kafka_log(settings, tmp_path / "app-cache.db")
    index = SqliteSearchIndex(tmp_path / "app-search.db", DIMENSION)
    graph = SqliteGraphStore(tmp_path / "app-graph.db")
    runners = (ProjectionRunner("search", log, project_search, index),
               ProjectionRunner("graph", log, project_graph, graph))
    return MOS(backend=Backend(log, index, graph, runners), embedder=HashingEmbedder(DIMENSION))


def produce_workload(mos: MOS, memories: int) -> None:
    mos.create_user("alice")
    mos.create_user("bob")
    cube = mos.create_cube("pipeline", owner="alice")
    mos.share_cube(cube, "alice", "bob", "reader")
    ids = []
    for start in range(0, memories, 500):
        ids += mos.add_many([{"text": f"Alice note {i} about Lisbon and Topic{i % 17}", "tags": [f"t{i % 3}"]}
                             for i in range(start, min(memories, start + 500))], "alice", cube)
    for memory_id in ids[::25]:
        mos.update(memory_id, "alice", text="Alice rewrote this note about Porto")
    for memory_id in ids[5::40]:
        mos.archive(memory_id, "alice")
    mos.merge(ids[1:3], "alice")


def start_worker(settings: PipelineSettings, cwd: Path, **extra_env: str) -> subprocess.Popen:
    env = {**os.environ, "MOS_DATA_DIR": str(cwd / "worker-data"), **extra_env, "MOS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "MOS_ES_URL": settings.es_url,
           "MOS_NEO4J_URI": settings.neo4j_uri, "MOS_TOPIC": settings.events_topic,
           "MOS_ES_INDEX": settings.es_index, "MOS_NEO4J_NAMESPACE": settings.neo4j_namespace,
           "MOS_FAUST_APP_ID": settings.faust_app_id, "MOS_EMBEDDING_DIMENSION": str(DIMENSION)}
    return subprocess.Popen([sys.executable, "-m", "streams.faust_app", "worker", "-l", "warn", "--without-web"],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=open(cwd / "worker.log", "ab"))


def stop_worker(worker: subprocess.Popen) -> None:
    worker.terminate()
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()  # Faust's graceful shutdown can stall; state is safe either way
        worker.wait(10)


def last_offset(log: KafkaEventLog) -> int:
    return max(r.offset for r in log.read(0))


def wait_for(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def clean_replay(settings: PipelineSettings, log: KafkaEventLog):
    index, graph = make_index(settings, suffix="-replay"), make_graph(settings, suffix="_replay")
    ProjectionRunner("search", log, project_search, index).catch_up()
    ProjectionRunner("graph", log, project_graph, graph).catch_up()
    return index, graph


def assert_equal_to_clean_replay(settings, log, index, graph) -> None:
    replay_index, replay_graph = clean_replay(settings, log)
    assert index.snapshot()["documents"] == replay_index.snapshot()["documents"]
    live_graph, clean_graph = graph.snapshot(), replay_graph.snapshot()
    assert live_graph["nodes"] == clean_graph["nodes"] and live_graph["edges"] == clean_graph["edges"]


def promote_one(mos: MOS) -> str:
    """The SDK has no promote() yet (scheduler issue): append the domain's event directly."""
    from mos.domain import memory as memories
    from mos.domain.commands import CommandContext
    from mos.domain.events import memory_key

    memory_id = mos.get_all("alice")[0].memory_id
    current = memories.rebuild(mos.log.read_stream(memory_key(memory_id)))
    mos.log.append([memories.promote(current, CommandContext(actor="alice"), "activation", "test")])
    return memory_id


def consume_all(settings: PipelineSettings, topic: str) -> list:
    from aiokafka import AIOKafkaConsumer

    async def run():
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=settings.kafka_bootstrap,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        try:
            batch = await consumer.getmany(timeout_ms=5000)
            return [m for messages in batch.values() for m in messages]
        finally:
            await consumer.stop()

    return asyncio.run(run())


def test_worker_read_models_equal_a_clean_replay_of_the_topic(settings, tmp_path):
    with app_side_mos(settings, tmp_path) as mos:
        produce_workload(mos, 600)
        promoted = promote_one(mos)
        target = last_offset(mos.log) + 1
        worker = start_worker(settings, tmp_path)
        index, graph = make_index(settings), make_graph(settings)
        try:
            wait_for(lambda: index.checkpoint() >= target and graph.checkpoint() >= target, 120,
                     f"the worker to reach offset {target} (log: {tmp_path / 'worker.log'})")
        finally:
            stop_worker(worker)
        assert_equal_to_clean_replay(settings, mos.log, index, graph)
        assert index.documents([promoted])[promoted].tiers == ("activation",)
        fed = [mos.log.codec.decode(m.value) for m in consume_all(settings, settings.promotions_topic)]
        assert [(e.type_name, e.memory_id) for e in fed] == [("MemoryPromoted", promoted)]


def test_sigkilled_worker_restarts_with_no_lost_or_duplicated_effects(settings, tmp_path):
    with app_side_mos(settings, tmp_path) as mos:
        produce_workload(mos, 3000)
        target = last_offset(mos.log) + 1
        index, graph = make_index(settings), make_graph(settings)
        kills = 0
        for _ in range(3):
            before = index.checkpoint()
            worker = start_worker(settings, tmp_path)
            wait_for(lambda: index.checkpoint() > before or worker.poll() is not None, 120, "progress")
            if index.checkpoint() < target and worker.poll() is None:
                os.kill(worker.pid, signal.SIGKILL)
                kills += 1
            worker.wait(30)
        worker = start_worker(settings, tmp_path)
        try:
            wait_for(lambda: index.checkpoint() >= target and graph.checkpoint() >= target, 180, "catch-up")
        finally:
            stop_worker(worker)
        assert kills >= 1
        assert_equal_to_clean_replay(settings, mos.log, index, graph)


def test_poison_messages_go_to_the_dead_letter_topic_and_the_worker_goes_on(settings, tmp_path):
    from aiokafka import AIOKafkaProducer

    with app_side_mos(settings, tmp_path) as mos:
        mos.create_user("alice")
        cube = mos.create_cube("poison", owner="alice")
        good = mos.add("written before the poison", "alice", cube)
        valid = mos.log.codec.encode(mos.history(good, "alice")[0])
        poison = [b"\x00not avro", valid[:-7], b"\xc3\x01" + bytes(8) + b"unknown schema", b"\xc3\x01" + b"x" * 1_000_050]

        async def send_poison():
            producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, max_request_size=1_048_576)
            await producer.start()
            try:
                for value in poison:
                    await producer.send_and_wait(settings.events_topic, value, key=b"memory:poison", partition=0)
            finally:
                await producer.stop()

        asyncio.run(send_poison())
        after = mos.add("written after the poison", "alice", cube)
        target = last_offset(mos.log) + 1
        worker = start_worker(settings, tmp_path)
        index = make_index(settings)
        try:
            wait_for(lambda: index.checkpoint() >= target, 120, "the worker to pass the poison")
        finally:
            stop_worker(worker)
        assert set(index.documents([good, after])) == {good, after}

        letters = consume_all(settings, settings.dead_letter_topic)
        reasons = [dict(m.headers)["reason"].decode() for m in letters]
        assert len(letters) == len(poison)
        assert any("bad header" in r for r in reasons) and any("corrupt" in r for r in reasons)
        assert any("unknown writer schema" in r for r in reasons) and any("exceeds" in r for r in reasons)
        oversize = next(m for m in letters if b"exceeds" in dict(m.headers)["reason"])
        assert int(dict(oversize.headers)["original_bytes"]) == len(poison[-1]) and len(oversize.value) < len(poison[-1])
