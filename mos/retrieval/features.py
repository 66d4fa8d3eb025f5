"""Per-candidate features for fusion: a memory's own match, its conversational context's
match, and whether its speaker is the one asked about.

Why context: in a dialogue the words that answer a question are often split over two turns
("What did you paint?" / "A sunset, last week"), so a turn is judged together with its
session neighbours (NEXT_IN_SESSION edges of the graph read model). The context features
are the best normalised score among a memory's neighbours — the same quantity a "context
embedding" built by averaging neighbour vectors would give, but derived at query time from
events already in the log, identically on every backend.

Every score is min-max normalised within its query's candidate list to [0, 1], so weights
learned on one corpus mean the same on another (raw BM25 scales with corpus statistics).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from projections.ports import ScoredId

FEATURES = ("bm25", "vector", "context_bm25", "context_vector", "speaker", "window_bm25", "window_vector")
WINDOW_FEATURES = ("window_bm25", "window_vector")


def normalised_scores(scores: Mapping[str, float]) -> dict[str, float]:
    """memory_id -> score min-max scaled to [0, 1] over `scores` (all 1.0 if they tie)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    return {m: (x - low) / (high - low) if high > low else 1.0 for m, x in scores.items()}


def normalised(ranked: Sequence[ScoredId]) -> dict[str, float]:
    """memory_id -> score min-max scaled to [0, 1] within `ranked` (all 1.0 if scores tie)."""
    return normalised_scores({item.memory_id: item.score for item in ranked})


def candidate_features(signals: Mapping[str, Mapping[str, float]], neighbours: Mapping[str, Sequence[str]],
                       speaker_named: set[str], candidates: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """Feature rows in FEATURES order for each of `candidates`.

    `signals`: signal name ("bm25", "vector", and the WINDOW_FEATURES that
    `session_window` computes) -> normalised scores; a memory missing from a signal scores
    0 there. `neighbours`: memory -> its graph neighbours. `speaker_named`: candidates whose
    speaker the query names."""
    bm25, vector = signals.get("bm25", {}), signals.get("vector", {})
    window_bm25, window_vector = (signals.get(name, {}) for name in WINDOW_FEATURES)
    rows = {}
    for memory_id in candidates:
        around = neighbours.get(memory_id, ())
        rows[memory_id] = (
            bm25.get(memory_id, 0.0),
            vector.get(memory_id, 0.0),
            max((bm25.get(n, 0.0) for n in around), default=0.0),
            max((vector.get(n, 0.0) for n in around), default=0.0),
            1.0 if memory_id in speaker_named else 0.0,
            window_bm25.get(memory_id, 0.0),
            window_vector.get(memory_id, 0.0),
        )
    return rows
