"""Rank fusion of several retrieval signals — pure functions over ranked id lists.

Two strategies, chosen by measurement (bench/locomo.py):
- `rrf`: reciprocal-rank fusion, score = Σ w_s / (k + rank_s); robust to score scales.
- `minmax`: each signal's scores min-max normalised to [0, 1] within the query, then a
  weighted sum; keeps *how much* better the top hit is, which RRF throws away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from operator import mul
from typing import Mapping, Sequence

from projections.ports import ScoredId


@dataclass
class FusedCandidate:
    memory_id: str
    score: float = 0.0
    signals: dict[str, int] = field(default_factory=dict)  # signal name -> 1-based rank


def fuse(results: Mapping[str, Sequence[ScoredId]], weights: Mapping[str, float],
         strategy: str = "minmax", rrf_k: int = 60) -> list[FusedCandidate]:
    candidates: dict[str, FusedCandidate] = {}
    for name, ranked in results.items():
        weight = weights.get(name, 1.0)
        if not ranked:
            continue
        scores = [item.score for item in ranked]
        low, high = min(scores), max(scores)
        for rank, item in enumerate(ranked, start=1):
            candidate = candidates.setdefault(item.memory_id, FusedCandidate(item.memory_id))
            candidate.signals[name] = rank
            if strategy == "rrf":
                candidate.score += weight / (rrf_k + rank)
            elif strategy == "minmax":
                candidate.score += weight * ((item.score - low) / (high - low) if high > low else 1.0)
            else:
                raise ValueError(f"unknown fusion strategy {strategy!r}")
    return sorted(candidates.values(), key=lambda c: (-c.score, c.memory_id))


def linear(rows: Mapping[str, Sequence[float]], weights: Sequence[float]) -> list[tuple[str, float]]:
    """(memory_id, Σ weight·feature) best-first, ties broken by id so the order is total."""
    scored = [(memory_id, float(sum(map(mul, weights, row)))) for memory_id, row in rows.items()]
    return sorted(scored, key=lambda item: (-item[1], item[0]))
