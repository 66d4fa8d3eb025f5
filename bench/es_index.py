"""Elasticsearch search projection: indexing rate against ES's own bulk rate, query latency.

The same 10k documents (384-d random unit vectors, the MiniLM width; short texts over 10
cubes) are indexed twice into fresh, identically mapped indices:
- baselines: `helpers.bulk` of ready-made `_source` dicts (ES's own rate: HNSW building),
  with one refresh at the end, and with a refresh per batch like the adapter (many small
  HNSW graphs, whose merging happens later in the background and is not timed);
- adapter: `ElasticsearchSearchIndex.apply` in projection batches (mget + fold + bulk with
  external versions + checkpoint + refresh per batch).
Both runs end with an explicit refresh, so every document is searchable when the clock stops.
Then BM25 and filtered kNN (k=10, one cube) latencies on the adapter's index, and kNN
recall@10 against exact numpy within the cube.

    python bench/es_index.py [--docs 10000] [--batch 500] [--queries 200] [--refresh true|wait_for|false]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
import uuid

import numpy as np
from bench_output import latency_ms, machine_info, print_machine, print_table
from elasticsearch import Elasticsearch, helpers

from projections.elasticsearch import documents as es_docs
from projections.elasticsearch.mapping import index_body
from projections.elasticsearch.search_index import ElasticsearchSearchIndex
from projections.ports import SearchFilter
from projections.search_writes import UpsertDocument

DIM, CUBES, K = 384, 10, 10
WORDS = ["alice", "bob", "berlin", "paris", "marathon", "running", "tea", "coffee", "bakery", "meeting", "project", "deadline", "garden", "music", "travel", "budget", "doctor", "school", "football", "recipe", "holiday", "birthday", "camera", "laptop", "invoice"]


def make_writes(n: int, seed: int = 7) -> tuple[list[UpsertDocument], np.ndarray, np.ndarray]:
    rng, words = np.random.default_rng(seed), random.Random(seed)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    cubes = rng.integers(0, CUBES, n)
    writes = [UpsertDocument(f"m{i:06d}", f"cube-{cubes[i]}", " ".join(words.choices(WORDS, k=12)), ("t",), "{}",
                             tuple(vectors[i].tolist()), "plaintext", "active", 1, 1_700_000_000_000 + i, "alice",
                             "bench", f"e{i}", ()) for i in range(n)]
    return writes, vectors, cubes


def fresh_index(es: Elasticsearch) -> str:
    name = f"mos-bench-{uuid.uuid4().hex[:8]}"
    es.indices.create(index=name, **index_body(DIM))
    return name


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--refresh", default="true", help="adapter refresh policy: wait_for, true or false")
    parser.add_argument("--url", default=os.environ.get("MOS_ES_URL", "http://127.0.0.1:9200"))
    args = parser.parse_args()
    refresh = {"true": True, "false": False}.get(args.refresh, args.refresh)
    es = Elasticsearch(args.url, request_timeout=120)
    info = machine_info(("elasticsearch", "snowballstemmer"))
    info["es_server"] = es.cluster.stats()["nodes"]["versions"]
    print_machine(info)
    print(f"elasticsearch server {info['es_server']}")
    writes, vectors, cubes = make_writes(args.docs)
    rows, results = [], {}

    raw = fresh_index(es)
    sources = [es_docs.created(w) for w in writes]
    actions = ({"_index": raw, "_id": s["memory_id"], "_source": s} for s in sources)
    seconds = timed(lambda: (helpers.bulk(es, actions, chunk_size=args.batch), es.indices.refresh(index=raw)))
    rows.append(("ES helpers.bulk, one refresh (baseline)", args.docs / seconds, seconds))
    es.indices.delete(index=raw)

    raw = fresh_index(es)  # the same refresh cadence as the adapter: isolates its own overhead
    batches = [sources[i:i + args.batch] for i in range(0, len(sources), args.batch)]
    seconds = timed(lambda: [helpers.bulk(es, ({"_index": raw, "_id": s["memory_id"], "_source": s} for s in batch),
                                          refresh=True) for batch in batches])
    rows.append((f"ES helpers.bulk, refresh per {args.batch} (baseline)", args.docs / seconds, seconds))
    es.indices.delete(index=raw)

    index = ElasticsearchSearchIndex(es, f"mos-bench-{uuid.uuid4().hex[:8]}", DIM, refresh=refresh,
                                     delete_on_close=True)

    def project():
        for start in range(0, len(writes), args.batch):
            index.apply(writes[start:start + args.batch], next_offset=start + args.batch)
        es.indices.refresh(index=index.index)

    seconds = timed(project)
    rows.append((f"adapter apply (batch {args.batch}, refresh={args.refresh})", args.docs / seconds, seconds))
    print_table(("indexing", "docs/s", "seconds"), rows, ".1f")
    results["indexing"] = [dict(zip(("what", "docs_per_s", "seconds"), row)) for row in rows]

    rng, words = np.random.default_rng(1), random.Random(1)
    bm25_times, knn_times, recalls = [], [], []
    for _ in range(args.queries):
        cube = int(rng.integers(0, CUBES))
        where = SearchFilter((f"cube-{cube}",))
        terms = words.sample(WORDS, 2)
        start = time.perf_counter()
        index.bm25(terms, where, K)
        bm25_times.append(time.perf_counter() - start)
        q = rng.standard_normal(DIM).astype(np.float32)
        start = time.perf_counter()
        found = index.knn(q.tolist(), where, K)
        knn_times.append(time.perf_counter() - start)
        members = np.flatnonzero(cubes == cube)
        exact = {f"m{i:06d}" for i in members[np.argsort(-(vectors[members] @ q))[:K]]}
        recalls.append(len(exact & {r.memory_id for r in found}) / K)
    lat = [("bm25 (2 terms, 1 cube)", *latency_ms(bm25_times).values()),
           ("knn k=10 (1 cube)", *latency_ms(knn_times).values())]
    print_table(("query", "p50 ms", "p95 ms", "p99 ms"), lat, ".2f")
    print(f"knn recall@10 vs exact numpy within the cube: {np.mean(recalls):.3f}")
    results["latency_ms"] = {row[0]: dict(zip(("p50", "p95", "p99"), row[1:])) for row in lat}
    results["knn_recall_at_10"] = float(np.mean(recalls))
    index.close()
    print(json.dumps({"machine": info, "docs": args.docs, "results": results}))


if __name__ == "__main__":
    main()
