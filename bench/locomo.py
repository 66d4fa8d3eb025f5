"""Retrieval recall of MOS on the LoCoMo dev subset, beside BM25, dense and RRF baselines.

Each dialogue turn becomes one memory; for every question (category 5, adversarial, is
left out) a method ranks the turns and recall@k is the share of the question's evidence
turns in its top k, averaged over questions. The baselines rank the same turn texts in the
same run, so a change in MOS can be read against them on this machine and these versions.

Each turn is stored with metadata {dia_id, speaker, session_id}: the speaker feature and
the graph's per-session NEXT_IN_SESSION chains read them. Document vectors are cached on
disk between runs (bench/embedding_cache.py, `MOS_BENCH_CACHE`, default
~/.cache/mos-bench/embeddings); query embedding is never cached, so search latency includes it.

    python bench/locomo.py [--conversations 26 30] [--ablation] [--backend kafka] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from bench_output import latency_ms, machine_info, print_machine, print_table

if TYPE_CHECKING:
    from mos.retrieval.hybrid import RetrievalConfig

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
KS = (5, 10)
RRF_K = 60
DIA_ID = re.compile(r"D\s*:?\s*(\d+)\s*:\s*(\d+)")


@dataclass
class Conversation:
    conv_id: str
    dia_ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # "[date] speaker: text", what MOS stores
    speakers: list[str] = field(default_factory=list)
    sessions: list[int] = field(default_factory=list)
    plain: list[str] = field(default_factory=list)  # "speaker: text", the README's baseline form
    questions: list[tuple[str, int, frozenset[str]]] = field(default_factory=list)


def default_data_dir() -> Path:
    beside_repo = Path(__file__).resolve().parents[2] / "shared/data/locomo-dev"
    return beside_repo if beside_repo.exists() else Path("../shared/data/locomo-dev")


def normalise_evidence(raw: list[str]) -> frozenset[str]:
    """Evidence ids come as 'D1:3', but also 'D8:6; D9:17', ' D1:3 ' or 'D:11:26'; ids
    that name no turn at all (a bare 'D') are dropped."""
    ids = set()
    for entry in raw:
        for part in re.split(r"[;,]", entry):
            match = DIA_ID.fullmatch(part.strip())
            if match:
                ids.add(f"D{match[1]}:{match[2]}")
    return frozenset(ids)


def load(data_dir: Path, wanted: list[str] | None) -> list[Conversation]:
    conversations = []
    for path in sorted(data_dir.glob("*.json"), key=lambda p: int(p.stem) if p.stem.isdigit() else p.stem):
        if wanted and path.stem not in wanted:
            continue
        raw = json.loads(path.read_text())
        conv = Conversation(path.stem)
        sessions = sorted(int(m[1]) for key in raw if (m := re.fullmatch(r"session_(\d+)", key)))
        for n in sessions:
            date = raw.get(f"session_{n}_date_time", "")
            for turn in raw[f"session_{n}"]:
                conv.dia_ids.append(turn["dia_id"])
                conv.texts.append(f"[{date}] {turn['speaker']}: {turn['text']}")
                conv.plain.append(f"{turn['speaker']}: {turn['text']}")
                conv.speakers.append(turn["speaker"])
                conv.sessions.append(n)
        for qa in raw["qa"]:
            evidence = normalise_evidence(qa.get("evidence", []))
            if qa["category"] != 5 and evidence:
                conv.questions.append((qa["question"], qa["category"], evidence))
        conversations.append(conv)
    return conversations


def tokens(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def rrf(*rankings: list[int], k: int = RRF_K) -> list[int]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, doc in enumerate(ranking, start=1):
            scores[doc] = scores.get(doc, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda doc: -scores[doc])


def baseline_rankings(conv: Conversation, model, texts: list[str]) -> dict[str, list[list[str]]]:
    """Top-10 dia_ids per question for BM25, dense and their RRF (fused over full rankings)."""
    from rank_bm25 import BM25Okapi

    bm25 = BM25Okapi([tokens(t) for t in texts])
    model.caching = True  # baselines are not timed: queries may come from the cache too
    docs = model.embed(texts)
    queries = model.embed([q for q, _, _ in conv.questions])
    model.caching = False
    out: dict[str, list[list[str]]] = {"bm25": [], "dense": [], "rrf": []}
    for (question, _, _), qvec in zip(conv.questions, queries):
        by_bm25 = np.argsort(-bm25.get_scores(tokens(question)), kind="stable").tolist()
        by_dense = np.argsort(-(docs @ qvec), kind="stable").tolist()
        for name, ranking in (("bm25", by_bm25), ("dense", by_dense), ("rrf", rrf(by_bm25, by_dense))):
            out[name].append([conv.dia_ids[i] for i in ranking[:max(KS)]])
    return out


def ablations() -> dict[str, "RetrievalConfig"]:
    """The default recipe, then each component removed (or swapped) in turn."""
    from dataclasses import replace

    from mos.retrieval.hybrid import RetrievalConfig

    base = RetrievalConfig()
    return {
        "mos": base,
        "- bm25": replace(base, use_bm25=False),
        "- vector": replace(base, use_vector=False),
        "- context features": replace(base, use_context=False),
        "- speaker": replace(base, use_speaker=False),
        "- session window": replace(base, use_window=False),
        "- graph (no neighbours)": replace(base, use_graph=False),
        "minmax bm25+vector": replace(base, fusion="minmax"),
        "rrf bm25+vector": replace(base, fusion="rrf"),
        "+ entity links": replace(base, graph_edge_kinds=base.graph_edge_kinds + ("MENTIONS",)),
    }


def cached_embedder():
    """MiniLM behind the bench's on-disk document-vector cache (bench/embedding_cache.py).

    One intra-op thread: on this 2-core machine, shared with other jobs, a one-sentence
    query embeds in ~30 ms with one thread and ~70 ms with two (threads fight for cores)."""
    import torch
    from embedding_cache import CachedEmbedder

    torch.set_num_threads(1)

    from mos.embedders.sentence_transformer import SentenceTransformerEmbedder

    cache = Path(os.environ.get("MOS_BENCH_CACHE", Path.home() / ".cache/mos-bench/embeddings"))
    return CachedEmbedder(SentenceTransformerEmbedder(), cache)


def open_mos(directory: str, backend: str, embedder):
    """A fresh MOS: embedded in `directory`, or on the real servers with names unique to this run
    (Elasticsearch index and Neo4j namespace deleted on close)."""
    from mos import MOS

    if backend == "embedded":
        return MOS(data_dir=directory, embedder=embedder)
    import uuid

    from mos.backends import open_kafka
    from mos.config import PipelineSettings
    from streams.services import endpoints_for_tests

    settings = PipelineSettings.isolated(endpoints_for_tests(), f"mos-locomo-{uuid.uuid4().hex[:8]}")
    return MOS(directory, embedder=embedder, backend=open_kafka(Path(directory), embedder, settings, ephemeral=True))


def turn_items(conv: Conversation) -> list[dict]:
    """One memory per turn; who spoke and which session it belongs to go in metadata, where
    the retriever (speaker feature) and the graph (NEXT_IN_SESSION chains) read them."""
    return [{"text": text, "metadata": {"dia_id": dia_id, "speaker": speaker, "session_id": session}}
            for dia_id, text, speaker, session in zip(conv.dia_ids, conv.texts, conv.speakers, conv.sessions)]


@contextmanager
def ingested(conv: Conversation, backend: str, embedder, timings: dict[str, list[float]] | None = None):
    """A fresh MOS holding the conversation; yields (mos, cube_id). Ingest time excludes
    loading the embedding model, which happens once per process."""
    with tempfile.TemporaryDirectory(prefix="mos-locomo-") as tmp:
        mos = open_mos(tmp, backend, embedder)
        try:
            mos.embedder.embed(["warm-up"])
            mos.create_user("bench")
            cube_id = mos.create_cube(f"locomo-{conv.conv_id}", owner="bench")
            items = turn_items(conv)
            embedder.caching = getattr(embedder, "directory", None) is not None
            started = time.perf_counter()
            mos.add_many(items, user_id="bench", cube_id=cube_id)
            mos.sync()
            if timings is not None:
                timings["ingest_s"].append(time.perf_counter() - started)
                timings["ingested"].append(len(items))
            embedder.caching = False
            yield mos, cube_id
        finally:
            embedder.caching = False
            mos.close()


def mos_rankings(conv: Conversation, timings: dict[str, list[float]], recipes: dict[str, "RetrievalConfig"],
                 embedder, backend: str = "embedded") -> dict[str, list[list[str]]]:
    """Ingests the conversation into a fresh MOS once and searches every question with each
    retrieval recipe; only the first recipe (the default) is timed."""
    ranked: dict[str, list[list[str]]] = {}
    with ingested(conv, backend, embedder, timings) as (mos, cube_id):
        for position, (name, recipe) in enumerate(recipes.items()):
            for question, _, _ in conv.questions:
                started = time.perf_counter()
                hits = mos.search(question, user_id="bench", cube_ids=[cube_id], top_k=max(KS), retrieval=recipe)
                if position == 0:
                    timings["search_s"].append(time.perf_counter() - started)
                ranked.setdefault(name, []).append([hit.metadata.get("dia_id") for hit in hits])
    return ranked


def score(questions: list[tuple[str, int, frozenset[str]]], ranked: list[list[str]]) -> dict:
    """recall@k overall and per category; each question weighs the same."""
    rows: dict[str, dict[str, list[float]]] = {}
    for (_, category, evidence), top in zip(questions, ranked):
        for group in ("all", CATEGORIES.get(category, str(category))):
            for k in KS:
                rows.setdefault(group, {}).setdefault(f"R@{k}", []).append(len(evidence & set(top[:k])) / len(evidence))
    return {group: {**{m: float(np.mean(v)) for m, v in metrics.items()}, "n": len(metrics["R@5"])}
            for group, metrics in rows.items()}


def missed_sample(conversations: list[Conversation], ranked: list[list[str]], per_category: int,
                  seed: int = 0) -> dict[str, list[dict]]:
    """Up to `per_category` questions per category whose evidence is not all in the top 10:
    the question, each missing evidence turn's text, and the three turns ranked first instead.
    A seeded sample (not the first few), so it reads as typical of the category's errors."""
    import random

    turns = {(c.conv_id, d): t for c in conversations for d, t in zip(c.dia_ids, c.texts)}
    asked = [(c.conv_id, q) for c in conversations for q in c.questions]
    misses: dict[str, list[dict]] = {}
    for (conv_id, (question, category, evidence)), top in zip(asked, ranked):
        missing = sorted(evidence - set(top[:max(KS)]))
        if missing:
            misses.setdefault(CATEGORIES.get(category, str(category)), []).append({
                "conversation": conv_id, "question": question,
                "missing": [(d, turns.get((conv_id, d), "?")) for d in missing],
                "ranked_instead": [(d, turns.get((conv_id, d), "?")) for d in top[:3] if d not in evidence]})
    rng = random.Random(seed)
    return {category: rng.sample(items, min(per_category, len(items))) for category, items in sorted(misses.items())}


def print_misses(sample: dict[str, list[dict]], width: int = 160) -> None:
    for category, items in sample.items():
        print(f"\nmissed ({category}), a sample of {len(items)}:")
        for item in items:
            print(f"  [{item['conversation']}] Q: {item['question']}")
            for dia_id, text in item["missing"]:
                print(f"      missing {dia_id}: {text[:width]}")
            for dia_id, text in item["ranked_instead"]:
                print(f"      instead {dia_id}: {text[:width]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--conversations", nargs="+", help="conversation ids (file stems), e.g. 26 30")
    parser.add_argument("--baselines-only", action="store_true", help="skip MOS; run only the baselines")
    parser.add_argument("--baseline-text", choices=("dated", "plain"), default="dated",
                        help="baselines rank '[date] speaker: text' (the MOS texts, default) or "
                             "'speaker: text' (the form of the README's reference figures)")
    parser.add_argument("--backend", choices=("embedded", "kafka"), default="embedded",
                        help="MOS backend: embedded (SQLite) or kafka (Kafka + Elasticsearch + Neo4j servers)")
    parser.add_argument("--ablation", action="store_true",
                        help="also score MOS with each retrieval component removed in turn")
    parser.add_argument("--misses", type=int, default=0, metavar="N",
                        help="print a sample of N missed questions per category (MOS's default recipe)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    info = machine_info(("sentence-transformers", "rank-bm25", "mos-memory"))
    print_machine(info)
    conversations = load(args.data, args.conversations)
    if not conversations:
        print(f"no conversations found in {args.data}", file=sys.stderr)
        return 2
    questions = [q for c in conversations for q in c.questions]
    print(f"data: {args.data} | conversations {[c.conv_id for c in conversations]} | "
          f"turns {sum(len(c.texts) for c in conversations)} | questions {len(questions)}")

    embedder = cached_embedder()
    model = embedder
    ranked: dict[str, list[list[str]]] = {"bm25": [], "dense": [], "rrf": []}
    for conv in conversations:
        texts = conv.texts if args.baseline_text == "dated" else conv.plain
        for name, lists in baseline_rankings(conv, model, texts).items():
            ranked[name].extend(lists)
    timings: dict[str, list[float]] = {"ingest_s": [], "ingested": [], "search_s": []}
    variants: dict[str, list[list[str]]] = {}
    if not args.baselines_only:
        recipes = ablations() if args.ablation else {"mos": ablations()["mos"]}
        embedder.hits = embedder.misses = 0
        for conv in conversations:
            for name, lists in mos_rankings(conv, timings, recipes, embedder, args.backend).items():
                variants.setdefault(name, []).extend(lists)
        ranked["mos"] = variants.pop("mos")

    results = {name: score(questions, lists) for name, lists in ranked.items()}
    groups = ["all", *CATEGORIES.values()]
    counts = {g: results["bm25"].get(g, {}).get("n", 0) for g in groups}
    print(f"\nrecall@k (baselines rank the {args.baseline_text} turn texts)")
    print_table(["questions", "n", *(f"{name} R@{k}" for name in results for k in KS)],
                [[g, counts[g], *(r.get(g, {}).get(f"R@{k}", float("nan")) for r in results.values() for k in KS)]
                 for g in groups])
    if variants:
        ablated = {"mos": results["mos"], **{name: score(questions, lists) for name, lists in variants.items()}}
        print("\nablation: MOS with one component removed or swapped (R@10 per category)")
        print_table(["variant", "R@5", "R@10", *(f"{c} R@10" for c in CATEGORIES.values())],
                    [[name, r["all"]["R@5"], r["all"]["R@10"], *(r.get(c, {}).get("R@10", float("nan"))
                                                               for c in CATEGORIES.values())]
                     for name, r in ablated.items()])
        results["ablation"] = ablated
    misses = missed_sample(conversations, ranked["mos"], args.misses) if args.misses and "mos" in ranked else {}
    print_misses(misses)
    summary = {"machine": info, "data": str(args.data), "conversations": [c.conv_id for c in conversations],
               "baseline_text": args.baseline_text, "questions": counts, "recall": results,
               "misses": misses}
    if timings["search_s"]:
        search = latency_ms(timings["search_s"], (50, 95))
        ingest_ms = 1000 * sum(timings["ingest_s"]) / sum(timings["ingested"])
        print(f"MOS search latency: p50 {search['p50']:.1f} ms, p95 {search['p95']:.1f} ms "
              f"({len(timings['search_s'])} searches)")
        print(f"MOS ingest: {ingest_ms:.2f} ms per memory (add_many + sync, model load excluded; "
              f"document vectors: {embedder.misses} embedded, {embedder.hits} from the bench cache)")
        summary["mos"] = {"search_ms": search, "ingest_ms_per_memory": ingest_ms,
                          "embedded": embedder.misses, "from_cache": embedder.hits}
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
