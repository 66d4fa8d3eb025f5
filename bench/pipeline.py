"""The real pipeline under load: Kafka produce rate, Faust projection rate and lag, ES search.

    python bench/pipeline.py [--events 50000] [--projection-events 20000] [--batch 1000] [--memories 100000]

Figures, each beside a baseline measured in the same run on the same servers:
1. producer events/s: MOS's Kafka log (Avro encode + version check + one transaction per
   batch) vs raw aiokafka `send` of the same bytes (idempotent, acks=all, no transaction);
2. end-to-end projection events/s (a backlog drained by a running Faust worker into
   Elasticsearch and Neo4j) and lag p50/p99 (append acknowledged → visible in both read
   models) at a steady rate below that capacity (`--lag-rate`);
3. hybrid search p50/p99 (BM25 + kNN + graph expansion, as `MOS.search` runs it) over
   Elasticsearch and Neo4j holding `--memories` memories, beside Elasticsearch's own kNN and
   BM25 query latency on the same index, and the adapter's bulk rate.
Servers: MOS_* variables, else the project launcher (streams.services).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench_output import latency_ms, machine_info, print_machine, print_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mos.config import PipelineSettings  # noqa: E402
from mos.domain import memory as memories  # noqa: E402
from mos.domain.commands import CommandContext  # noqa: E402
from mos.embedders.hashing import HashingEmbedder  # noqa: E402
from streams.kafka.event_log import KafkaEventLog  # noqa: E402

DIMENSION = 384


def synthetic_events(count: int, cube: str, seed: int = 0) -> list:
    """MemoryCreated events with real-sized (384-d) embeddings, as an app would append them:
    a two-person dialogue (metadata `speaker` alternates), chained per cube by the graph
    projection. A function of (`count`, `cube`, `seed`), ids included (`synthetic_memory_id`):
    bench/search_scale.py fills the search index and the graph in two passes, which must
    name the same memories for a search to find graph neighbours of its hits."""
    embedder = HashingEmbedder(DIMENSION)
    texts = [f"note {seed}-{i}: Alice met Topic{i % 97} in City{i % 31} about project {i % 13}" for i in range(count)]
    vectors = embedder.embed(texts)
    ctx = CommandContext(actor="bench", source_app="bench")
    return [memories.create(ctx, synthetic_memory_id(seed, i), cube, memories.MemoryContentValues(
        text, (), json.dumps({"speaker": SPEAKERS[i % 2]}), tuple(vector.tolist()), embedder.model_id))
        for i, (text, vector) in enumerate(zip(texts, vectors))]


SPEAKERS = ("Alice", "Bob")
_FIRST_MS = 1_767_225_600_000  # 2026-01-01: the synthetic memories' creation times start here


def synthetic_memory_id(seed: int, i: int) -> str:
    """A UUIDv7 (time-ordered, like the SDK's ids) determined by (`seed`, `i`): its time is
    `_FIRST_MS` + seed + i milliseconds, its random bits are seed and i (unique per pair for
    seed, i < 2**31)."""
    if not (0 <= seed < 2**31 and 0 <= i < 2**31):
        raise ValueError(f"synthetic ids need 0 <= seed, i < 2**31, got {seed}, {i}")
    return str(uuid.UUID(int=((_FIRST_MS + seed + i) << 80) | (0x7 << 76) | (0b10 << 62) | (seed << 31) | i))


def settings_for_run(endpoints) -> PipelineSettings:
    return PipelineSettings.isolated(endpoints, f"mos-bench-{uuid.uuid4().hex[:8]}")


def open_log(settings: PipelineSettings, cache: Path) -> KafkaEventLog:
    return KafkaEventLog(settings.log_config(), cache_path=cache)


def raw_produce_rate(settings: PipelineSettings, payloads: list[bytes]) -> float:
    from aiokafka import AIOKafkaProducer

    async def run() -> float:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True,
                                    acks="all", linger_ms=5, max_batch_size=1_048_576)
        await producer.start()
        try:
            started = time.perf_counter()
            for payload in payloads:
                await producer.send(f"{settings.events_topic}.raw", payload, partition=0)
            await producer.flush()
            return len(payloads) / (time.perf_counter() - started)
        finally:
            await producer.stop()

    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(f"{settings.events_topic}.raw", 1, 1)])
        finally:
            await admin.close()

    asyncio.run(create())
    return asyncio.run(run())


def produce(log: KafkaEventLog, events: list, batch: int) -> tuple[float, list[tuple[int, float]]]:
    """Append in batches; returns events/s and (end offset, ack time) per batch."""
    acks = []
    started = time.perf_counter()
    for start in range(0, len(events), batch):
        recorded = log.append(events[start:start + batch])
        acks.append((recorded[-1].offset + 1, time.perf_counter()))
    return len(events) / (time.perf_counter() - started), acks


def start_worker(settings: PipelineSettings, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "MOS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "MOS_ES_URL": settings.es_url,
           "MOS_NEO4J_URI": settings.neo4j_uri, "MOS_TOPIC": settings.events_topic,
           "MOS_ES_INDEX": settings.es_index, "MOS_NEO4J_NAMESPACE": settings.neo4j_namespace,
           "MOS_FAUST_APP_ID": settings.faust_app_id}
    return subprocess.Popen([sys.executable, "-m", "streams.faust_app", "worker", "-l", "warn", "--without-web"],
                            cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=open(cwd / "worker.log", "ab"))


def wait_projected(index, graph, target: int, timeout: float) -> float:
    """Seconds until both read models' checkpoints reach `target`."""
    began = time.perf_counter()
    while min(index.checkpoint(), graph.checkpoint()) < target:
        if time.perf_counter() - began > timeout:
            raise TimeoutError(f"read models did not reach offset {target} in {timeout}s")
        time.sleep(0.01)
    return time.perf_counter() - began


def projection_run(settings: PipelineSettings, events: list, batch: int, workdir: Path,
                   lag_rate: float, lag_seconds: float) -> dict:
    """Drain rate of a backlog, then ack→visible lag at a steady rate below that capacity."""
    from tests.pipeline.real_read_models import make_graph, make_index

    index, graph = make_index(settings), make_graph(settings)
    worker = start_worker(settings, workdir)
    log = open_log(settings, workdir / "projection-cache.db")
    try:
        warm = log.append(synthetic_events(10, "warm-up", seed=1))
        wait_projected(index, graph, warm[-1].offset + 1, 180)
        started = time.perf_counter()
        _, acks = produce(log, events, batch)
        wait_projected(index, graph, acks[-1][0], 1800)
        drain = len(events) / (time.perf_counter() - started)
        lags, step, position = [], 10, 0
        steady = synthetic_events(int(lag_rate * lag_seconds), "steady", seed=3)
        began = time.perf_counter()
        while position < len(steady):
            due = began + position / lag_rate
            time.sleep(max(0.0, due - time.perf_counter()))
            recorded = log.append(steady[position:position + step])
            acked = time.perf_counter()
            wait_projected(index, graph, recorded[-1].offset + 1, 60)
            lags.append(time.perf_counter() - acked)
            position += step
        return {"events": len(events), "projected_per_s": drain, "lag_rate": lag_rate,
                "lag_ms": latency_ms(lags, (50, 99)), "lag_samples": len(lags)}
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
        log.close()
        index.close()
        graph.close()


def search_run(settings: PipelineSettings, memories: int, queries: int = 200) -> dict:
    """Fill the read models with `memories` projected memories, then time searches the way
    bench/search_scale.py does (MOS hybrid beside ES kNN / BM25 alone, one cube and all)."""
    from search_scale import fill, measure

    from projections.graph_projection import project_graph
    from projections.search_projection import project_search
    from tests.pipeline.real_read_models import make_graph, make_index

    index, graph = make_index(settings), make_graph(settings)
    try:
        index_seconds = fill(index, project_search, 0, memories)
        fill(graph, project_graph, 0, memories)
        return {"memories": memories, "index_docs_per_s": memories / index_seconds,
                "latency_ms": measure(index, graph, memories, queries)}
    finally:
        index.close()
        graph.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--projection-events", type=int, default=20_000)
    parser.add_argument("--memories", type=int, default=100_000, help="read-model size for the search figures")
    parser.add_argument("--lag-rate", type=float, default=100.0, help="steady events/s for the lag figure")
    parser.add_argument("--lag-seconds", type=float, default=20.0)
    args = parser.parse_args()
    from streams.services import endpoints_for_tests

    print_machine(machine_info(("aiokafka", "faust-streaming", "elasticsearch", "neo4j")))
    settings = settings_for_run(endpoints_for_tests())
    events = synthetic_events(args.events, "bench")
    with tempfile.TemporaryDirectory(prefix="mos-bench-pipeline-") as tmp:
        log = open_log(settings, Path(tmp) / "cache.db")
        raw = raw_produce_rate(settings, [log.codec.encode(e) for e in events])
        mos_rate, _ = produce(log, events, args.batch)
        log.close()
        print_table(["produce", "events/s"], [["raw aiokafka send (same bytes, no txn)", raw],
                                              [f"MOS Kafka log append (txn per {args.batch})", mos_rate],
                                              ["ratio MOS / raw", mos_rate / raw]])
        projection_settings = settings_for_run(endpoints_for_tests())
        result = projection_run(projection_settings, synthetic_events(args.projection_events, "bench", seed=2),
                                args.batch, Path(tmp), args.lag_rate, args.lag_seconds)
        print_table(["projection (Faust → ES + Neo4j)", "value"],
                    [["backlog events", result["events"]], ["end-to-end events/s (drain)", result["projected_per_s"]],
                     [f"lag p50 ms at {result['lag_rate']:.0f} events/s", result["lag_ms"]["p50"]],
                     [f"lag p99 ms at {result['lag_rate']:.0f} events/s", result["lag_ms"]["p99"]],
                     ["lag samples", result["lag_samples"]]])
    search = search_run(settings_for_run(endpoints_for_tests()), args.memories)
    print(f"\nsearch at {search['memories']} memories (ES index built at {search['index_docs_per_s']:.0f} docs/s)")
    print_table(["query", "p50 ms", "p99 ms"], [[name, v["p50"], v["p99"]] for name, v in search["latency_ms"].items()])
    return 0


if __name__ == "__main__":
    sys.exit(main())
