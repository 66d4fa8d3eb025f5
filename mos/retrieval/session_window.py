"""How well a stretch of conversation around a memory matches the query.

Why: in a dialogue the words of a question are often spread over several turns — the
question in one, the answer two turns later, the name of the thing in a third — so no
single turn matches well, while the stretch that holds them all does. A memory's *window*
is every memory within `radius` NEXT_IN_SESSION hops of it in its own session (the graph
read model's chain, so it is rebuilt from the log like every read model), and its window
scores are:

- BM25: the sum of the window members' BM25 scores (a member the engine did not return
  scores 0) — close to the BM25 of the window's text taken as one document, without an
  extra index;
- vector: the mean of the members' cosine similarities (a member not returned scores the
  lowest similarity that was) — the similarity to the window's centroid, up to its norm.

Both are min-max normalised over the query's candidates, like every feature, so one set
of weights means the same on any corpus and either backend. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from mos.retrieval.features import normalised_scores


def chain_windows(links: Iterable[tuple[str, str]], members: Sequence[str], radius: int) -> dict[str, tuple[str, ...]]:
    """memory -> the memories within `radius` hops of it over `links` (undirected), itself
    excluded, nearest first (ties in first-seen order)."""
    adjacent: dict[str, list[str]] = {}
    for a, b in links:
        if a != b:
            adjacent.setdefault(a, []).append(b)
            adjacent.setdefault(b, []).append(a)
    windows = {}
    for start in members:
        seen, order, frontier = {start}, [], [start]
        for _ in range(radius):
            reached = []
            for m in frontier:
                for n in adjacent.get(m, ()):
                    if n not in seen:
                        seen.add(n)
                        reached.append(n)
            order += reached
            frontier = reached
        windows[start] = tuple(order)
    return windows


def window_scores(scores: Mapping[str, float], windows: Mapping[str, Sequence[str]], members: Sequence[str],
                  reduce: str, floor: float = 0.0) -> dict[str, float]:
    """Each member's window score (itself included): "sum" or "mean" of `scores`, a memory
    absent from `scores` counting as `floor`; then min-max normalised over `members`."""
    if reduce not in ("sum", "mean"):
        raise ValueError(f"unknown window reduction {reduce!r}")
    score_of, mean, raw = scores.get, reduce == "mean", {}
    for memory_id in members:  # a plain loop: ~0.3 ms less per search than a list per member
        window = windows.get(memory_id, ())
        total = score_of(memory_id, floor)
        for m in window:
            total += score_of(m, floor)
        raw[memory_id] = total / (len(window) + 1) if mean else total
    return normalised_scores(raw)
