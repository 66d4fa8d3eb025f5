"""The scheduler's policies: pure functions of (state, now) to decisions, each with its reason.

Order within one tick: demotions (a stale or cold artifact goes first), then merges, then
archives, then promotions (into the room the demotions made). Ties are broken by memory id,
so the same log and clock always give the same decisions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mos.scheduler.config import DAY_MS, HOUR_MS
from mos.scheduler.heat import MemoryStats, SchedulerState

_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class Decision:
    kind: str  # promote | demote | merge | archive
    cube_id: str
    memory_ids: tuple[str, ...]
    reason: dict[str, Any]
    tier: str | None = None
    causation_id: str | None = None
    merge_text_from: str | None = field(default=None)  # merge: the source whose text the target keeps


def decide(state: SchedulerState, now: int) -> list[Decision]:
    decisions = demotions(state, now)
    merges = merge_decisions(state, now)
    merged = {m for d in merges for m in d.memory_ids}
    return decisions + merges + archives(state, now, merged) + promotions(state, now, decisions)


def _reason(policy: str, now: int, measured: dict, thresholds: dict, stats: MemoryStats | None = None) -> dict:
    reason = {"policy": policy, "decided_at": now, "measured": {k: _round(v) for k, v in measured.items()},
              "thresholds": thresholds}
    if stats is not None and stats.recent_accesses:
        reason["access_events"] = list(stats.recent_accesses)
    return reason


def _round(value):
    return round(value, 4) if isinstance(value, float) else value


def _last_access(stats: MemoryStats) -> str | None:
    return stats.recent_accesses[-1] if stats.recent_accesses else None


def demotions(state: SchedulerState, now: int) -> list[Decision]:
    a, p = state.config.activation, state.config.parametric
    out = []
    for memory_id, stats in sorted(state.memories.items()):
        for tier, promoted_version in sorted(stats.tiers.items()):
            heat = state.short_heat(stats, now) if tier == "activation" else state.long_heat(stats, now)
            floor = a.demote_below if tier == "activation" else p.demote_below
            residence_ms = a.min_promoted_hours * HOUR_MS if tier == "activation" else p.min_promoted_days * DAY_MS
            promoted_for = now - stats.promoted_at.get(tier, now)
            if stats.state == "archived":
                reason = _reason("demote-archived", now, {"state": stats.state}, {}, stats)
            elif stats.content_version != promoted_version:
                reason = _reason("demote-changed", now, {"promoted_at_version": promoted_version,
                                                         "current_version": stats.content_version}, {}, stats)
            elif heat < floor and promoted_for >= residence_ms:
                reason = _reason("demote-cooled", now, {"heat": heat, "promoted_for_ms": promoted_for},
                                 {"demote_below": floor, "min_promoted_ms": residence_ms}, stats)
            else:
                continue
            out.append(Decision("demote", stats.cube_id, (memory_id,), reason, tier, _last_access(stats)))
    return out


def merge_decisions(state: SchedulerState, now: int) -> list[Decision]:
    """Compare memories created or changed since the last check with the rest of their cube."""
    policy = state.config.merge
    if not policy.enabled or not state.unchecked:
        return []
    by_cube: dict[str, list[MemoryStats]] = {}
    for stats in state.memories.values():
        if stats.state == "active" and stats.embedding.size:
            by_cube.setdefault(stats.cube_id, []).append(stats)
    used: set[str] = set()
    out = []
    for cube_id, members in sorted(by_cube.items()):
        members.sort(key=lambda s: (s.created_at, s.memory_id))
        fresh = [s for s in members if s.memory_id in state.unchecked]
        if not fresh or len(members) < 2:
            continue
        matrix = _unit_rows(np.stack([s.embedding for s in members]))
        index = {s.memory_id: i for i, s in enumerate(members)}
        similarities = _unit_rows(np.stack([s.embedding for s in fresh])) @ matrix.T
        for row, stats in enumerate(fresh):
            if stats.memory_id in used:
                continue
            for column in np.argsort(-similarities[row], kind="stable"):
                other = members[int(column)]
                similarity = float(similarities[row, column])
                if similarity < policy.min_similarity:
                    break
                if other.memory_id == stats.memory_id or other.memory_id in used:
                    continue
                overlap = _jaccard(stats.text, other.text)
                if overlap < policy.min_text_overlap:
                    continue
                pair = sorted((stats, other), key=lambda s: index[s.memory_id])
                keep = max(pair, key=lambda s: (len(s.text), -index[s.memory_id]))
                reason = _reason("merge-near-duplicates", now, {"cosine_similarity": similarity,
                                                                "text_overlap": overlap},
                                 {"min_similarity": policy.min_similarity,
                                  "min_text_overlap": policy.min_text_overlap})
                out.append(Decision("merge", cube_id, tuple(s.memory_id for s in pair), reason,
                                    merge_text_from=keep.memory_id))
                used.update(s.memory_id for s in pair)
                break
    return out


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms == 0, 1.0, norms)


def _jaccard(first: str, second: str) -> float:
    a, b = set(_WORDS.findall(first.lower())), set(_WORDS.findall(second.lower()))
    return len(a & b) / len(a | b) if a | b else 1.0


def archives(state: SchedulerState, now: int, merging: set[str]) -> list[Decision]:
    policy = state.config.archive
    if not policy.enabled:
        return []
    out = []
    for memory_id, stats in sorted(state.memories.items()):
        if stats.state != "active" or stats.tiers or memory_id in merging:
            continue
        last_used = max(stats.last_access_at or 0, stats.changed_at)
        idle = now - last_used
        ttl = policy.ttl_ms(stats.cube_id)
        if idle > ttl:
            reason = _reason("archive-ttl", now, {"idle_days": idle / DAY_MS, "last_used_at": last_used},
                             {"ttl_days": ttl / DAY_MS}, stats)
            out.append(Decision("archive", stats.cube_id, (memory_id,), reason, causation_id=_last_access(stats)))
    return out


def promotions(state: SchedulerState, now: int, demoted: list[Decision]) -> list[Decision]:
    """Hottest candidates first, into free room; a full cube makes room by displacing its
    coldest member when a candidate is `displace_ratio` times hotter (demote, then promote)."""
    a, p = state.config.activation, state.config.parametric
    leaving = {(d.memory_ids[0], d.tier) for d in demoted}
    out = []
    for tier, policy, heat_of, since_of, window_ms, window_name in (
        ("activation", a, state.short_heat, lambda s: s.hot_since, a.stable_for_hours * HOUR_MS, "stable_for_hours"),
        ("parametric", p, state.long_heat, lambda s: s.long_hot_since, p.hot_for_days * DAY_MS, "hot_for_days"),
    ):
        if not policy.enabled:
            continue
        held: dict[str, list[tuple[float, str, MemoryStats]]] = {}
        candidates = []
        for memory_id, stats in state.memories.items():
            if tier in stats.tiers and (memory_id, tier) not in leaving:
                held.setdefault(stats.cube_id, []).append((heat_of(stats, now), memory_id, stats))
                continue
            if stats.state != "active" or tier in stats.tiers:
                continue
            heat, since = heat_of(stats, now), since_of(stats)
            if heat >= policy.min_heat and since is not None and now - since >= window_ms:
                candidates.append((stats.cube_id, -heat, memory_id, stats, heat, since))
        for members in held.values():
            members.sort(key=lambda m: (-m[0], m[1]))  # coldest last
        for cube_id, _, memory_id, stats, heat, since in sorted(candidates, key=lambda c: c[:3]):
            members = held.setdefault(cube_id, [])
            if len(members) >= policy.max_memories_per_cube:
                coldest_heat, coldest_id, coldest = members[-1]
                if heat < policy.displace_ratio * coldest_heat:
                    continue
                reason = _reason("demote-displaced", now, {"heat": coldest_heat, "displaced_by": memory_id,
                                                           "displaced_by_heat": heat},
                                 {"displace_ratio": policy.displace_ratio,
                                  "max_memories_per_cube": policy.max_memories_per_cube}, coldest)
                out.append(Decision("demote", cube_id, (coldest_id,), reason, tier, _last_access(coldest)))
                members.pop()
            members.insert(0, (heat, memory_id, stats))  # never displaced again in this tick
            hot_for = (now - since) / (HOUR_MS if tier == "activation" else DAY_MS)
            reason = _reason(f"promote-{tier}", now, {"heat": heat, window_name.replace("for", "so_far"): hot_for},
                             {"min_heat": policy.min_heat, window_name: getattr(policy, window_name),
                              "max_memories_per_cube": policy.max_memories_per_cube}, stats)
            out.append(Decision("promote", cube_id, (memory_id,), reason, tier, _last_access(stats)))
    return out
