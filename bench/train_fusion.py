"""Rebuilds mos/retrieval/fusion_weights.json: fusion weights learned on the LoCoMo dev set.

The features are exactly those the product computes (`HybridRetriever.candidates`, on a MOS
that ingested each conversation through add_many); the model is a class-balanced,
L2-regularised logistic regression over them (seven weights — small enough to read).
Honesty: it reports leave-one-conversation-out recall — each conversation scored with
weights trained on the other four — next to the in-sample figure, then fits the shipped
weights on all five. Deterministic (full-batch gradient descent from zero).

    python bench/train_fusion.py [--out mos/retrieval/fusion_weights.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from locomo import CATEGORIES, KS, cached_embedder, default_data_dir, ingested, load

from mos.retrieval.features import FEATURES
from mos.retrieval.hybrid import RetrievalConfig

VERSION = 2
L2, STEPS, RATE = 1e-2, 400, 1.0


def collect(conv, embedder) -> list[tuple[int, list[str], np.ndarray, np.ndarray]]:
    """Per question: (category, candidate dia_ids, feature matrix, 0/1 evidence labels)."""
    config = RetrievalConfig()
    out = []
    with ingested(conv, "embedded", embedder) as (mos, cube_id):
        retriever = mos._retriever
        where = mos._visible("bench", [cube_id], None)
        for question, category, evidence in conv.questions:
            found = retriever.candidates(question, where, max(KS), config)
            ids = list(found.rows)
            docs = retriever.index.documents(ids)
            dia = [docs[m].metadata.get("dia_id") for m in ids]
            X = np.array([found.rows[m] for m in ids], dtype=np.float64).reshape(-1, len(FEATURES))
            y = np.array([1.0 if d in evidence else 0.0 for d in dia])
            out.append((category, dia, X, y, evidence))
    return out


def fit(samples) -> np.ndarray:
    X = np.concatenate([s[2] for s in samples])
    y = np.concatenate([s[3] for s in samples])
    positive = max(y.mean(), 1e-9)
    balance = np.where(y == 1, 0.5 / positive, 0.5 / (1 - positive))
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(STEPS):
        p = 1 / (1 + np.exp(-(X @ w + b)))
        g = (p - y) * balance
        w -= RATE * (X.T @ g / len(y) + L2 * w)
        b -= RATE * g.mean()
    return w


def recall(samples, w) -> dict[str, float]:
    rows: dict[str, list[float]] = {}
    for category, dia, X, _, evidence in samples:
        order = sorted(range(len(dia)), key=lambda i: (-(X[i] @ w), i))
        for k in KS:
            top = {dia[i] for i in order[:k]}
            for group in ("all", CATEGORIES.get(category, str(category))):
                rows.setdefault(f"{group} R@{k}", []).append(len(evidence & top) / len(evidence))
    return {name: float(np.mean(v)) for name, v in rows.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "mos/retrieval/fusion_weights.json")
    args = parser.parse_args()
    conversations = load(args.data, None)
    embedder = cached_embedder()
    per_conv = {}
    for conv in conversations:
        started = time.perf_counter()
        per_conv[conv.conv_id] = collect(conv, embedder)
        print(f"conversation {conv.conv_id}: {len(conv.questions)} questions, features in "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    held_out = []
    for conv_id in per_conv:
        w = fit([s for other, ss in per_conv.items() if other != conv_id for s in ss])
        held_out += [(s, w) for s in per_conv[conv_id]]
        print(f"fold {conv_id}: " + ", ".join(f"{n} {x:+.2f}" for n, x in zip(FEATURES, w)))
    loco: dict[str, list[float]] = {}
    for sample, w in held_out:
        for name, value in recall([sample], w).items():
            loco.setdefault(name, []).append(value)
    loco_mean = {name: round(float(np.mean(v)), 4) for name, v in sorted(loco.items())}
    everything = [s for ss in per_conv.values() for s in ss]
    w = fit(everything)
    in_sample = {name: round(v, 4) for name, v in sorted(recall(everything, w).items())}
    print("LOCO-CV:", json.dumps(loco_mean))
    print("in-sample:", json.dumps(in_sample))
    artifact = {"version": VERSION, "model": "logistic regression, class-balanced, L2 %.0e" % L2,
                "features": list(FEATURES), "weights": {n: round(float(x), 4) for n, x in zip(FEATURES, w)},
                "trained_on": {"data": args.data.name, "conversations": list(per_conv),
                               "questions": len(everything)},
                "loco_cv": loco_mean, "in_sample": in_sample}
    args.out.write_text(json.dumps(artifact, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
