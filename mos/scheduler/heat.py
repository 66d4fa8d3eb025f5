"""What the scheduler knows, as a fold of the log: per-memory heat, lifecycle and content.

Heat is an exponentially decayed access count, kept as (value, as-of time) and decayed on
read, so folding is O(1) per event and needs no timer. `hot_since` records when a memory's
heat last rose through the promotion threshold; heat only jumps at accesses and decays in
between, so "heat ≥ threshold now and at the last access" means it stayed hot since then.

Everything here is rebuilt by replaying the log: the state holds nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mos.domain.events import (
    Event,
    MemoriesMerged,
    MemoryAccessed,
    MemoryArchived,
    MemoryContent,
    MemoryCreated,
    MemoryDemoted,
    MemoryErased,
    MemoryEvent,
    MemoryPromoted,
    MemoryRestored,
)
from mos.scheduler.config import DAY_MS, HOUR_MS, SchedulerConfig

RECENT_ACCESSES = 3


@dataclass(slots=True)
class MemoryStats:
    memory_id: str
    cube_id: str
    state: str
    created_at: int
    changed_at: int
    content_version: int
    text: str
    tags: tuple[str, ...]
    metadata_json: str
    embedding: np.ndarray
    embedding_model: str
    tiers: dict[str, int] = field(default_factory=dict)  # tier -> content version it was promoted at
    promoted_at: dict[str, int] = field(default_factory=dict)  # tier -> when it was promoted (ms)
    accesses: int = 0
    last_access_at: int | None = None
    short_heat: float = 0.0
    short_at: int = 0
    long_heat: float = 0.0
    long_at: int = 0
    hot_since: int | None = None
    long_hot_since: int | None = None
    recent_accesses: tuple[str, ...] = ()

    def snapshot(self) -> tuple:
        """Comparable view (for replay-equality checks)."""
        return (self.cube_id, self.state, self.created_at, self.changed_at, self.content_version,
                tuple(sorted(self.tiers.items())), tuple(sorted(self.promoted_at.items())), self.accesses, self.last_access_at, round(self.short_heat, 9),
                self.short_at, round(self.long_heat, 9), self.long_at, self.hot_since, self.long_hot_since,
                self.recent_accesses)


def decayed(heat: float, since: int, now: int, half_life_ms: float) -> float:
    return heat * 0.5 ** (max(0, now - since) / half_life_ms) if heat else 0.0


class SchedulerState:
    """Mutable for speed (a busy log has millions of accesses), but a pure fold all the same:
    `apply` reads nothing but the event, and `offset` says how far the fold has come."""

    def __init__(self, config: SchedulerConfig):
        self.config = config
        self.memories: dict[str, MemoryStats] = {}
        self.offset = 0
        self.unchecked: set[str] = set()  # memories created/changed since the last merge check
        self._short_ms = config.activation.half_life_hours * HOUR_MS
        self._long_ms = config.parametric.half_life_days * DAY_MS

    def short_heat(self, stats: MemoryStats, now: int) -> float:
        return decayed(stats.short_heat, stats.short_at, now, self._short_ms)

    def long_heat(self, stats: MemoryStats, now: int) -> float:
        return decayed(stats.long_heat, stats.long_at, now, self._long_ms)

    def apply(self, offset: int, event: Event) -> None:
        self.offset = offset + 1
        if not isinstance(event, MemoryEvent):
            return
        if isinstance(event, MemoryCreated):
            self.memories[event.memory_id] = MemoryStats(
                event.memory_id, event.cube_id, "active", event.occurred_at, event.occurred_at, event.version,
                event.text, event.tags, event.metadata_json, np.asarray(event.embedding, dtype=np.float32),
                event.embedding_model)
            self.unchecked.add(event.memory_id)
            return
        if isinstance(event, MemoryErased):
            self.memories.pop(event.memory_id, None)  # no policy may act on an erased memory
            self.unchecked.discard(event.memory_id)
            return
        stats = self.memories.get(event.memory_id)
        if stats is None:
            return
        if isinstance(event, MemoryAccessed):
            self._accessed(stats, event)
        elif isinstance(event, MemoryContent):
            stats.text, stats.tags, stats.metadata_json = event.text, event.tags, event.metadata_json
            stats.embedding = np.asarray(event.embedding, dtype=np.float32)
            stats.changed_at, stats.content_version = event.occurred_at, event.version
            self.unchecked.add(event.memory_id)
        elif isinstance(event, MemoryPromoted):
            stats.tiers[event.target] = stats.content_version
            stats.promoted_at[event.target] = event.occurred_at
        elif isinstance(event, MemoryDemoted):
            stats.tiers.pop(event.target, None)
            stats.promoted_at.pop(event.target, None)
        elif isinstance(event, MemoryArchived):
            stats.state = "archived"
        elif isinstance(event, MemoryRestored):
            stats.state, stats.changed_at = "active", event.occurred_at
        elif isinstance(event, MemoriesMerged):
            stats.state, stats.tiers, stats.promoted_at = "merged", {}, {}

    def _accessed(self, stats: MemoryStats, event: MemoryAccessed) -> None:
        at, count = event.occurred_at, event.count
        short_before = self.short_heat(stats, at)
        long_before = self.long_heat(stats, at)
        stats.short_heat, stats.short_at = short_before + count, at
        stats.long_heat, stats.long_at = long_before + count, at
        stats.hot_since = _since(stats.hot_since, short_before, stats.short_heat, self.config.activation.min_heat, at)
        stats.long_hot_since = _since(stats.long_hot_since, long_before, stats.long_heat,
                                      self.config.parametric.min_heat, at)
        stats.accesses += count
        stats.last_access_at = at if stats.last_access_at is None else max(stats.last_access_at, at)
        stats.recent_accesses = (stats.recent_accesses + (event.event_id,))[-RECENT_ACCESSES:]

    def snapshot(self) -> dict[str, tuple]:
        return {memory_id: stats.snapshot() for memory_id, stats in sorted(self.memories.items())}


def _since(current: int | None, before: float, after: float, threshold: float, at: int) -> int | None:
    if after < threshold:
        return None
    return at if before < threshold or current is None else current
