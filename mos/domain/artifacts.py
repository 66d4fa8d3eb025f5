"""Activation and parametric memory as seen by the log: which memories are promoted where,
and which artifact is live for each cube and tier.

Both are pure folds of events, so the model runtime's whole state can be rebuilt by replay:

- `PromotionState` tracks every promoted memory (its cube, tiers, latest version, whether it
  is active). A cube's *promoted set* for a tier is the active memories promoted to it.
- `ArtifactRegistry` tracks the live artifact per (cube, tier) and each cube's
  `artifacts:<cube_id>` stream version, which serialises concurrent runtimes.

`built` / `dropped` decide the events a runtime appends once it has an artifact on disk.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from mos.domain.commands import CommandContext
from mos.domain.events import (
    ArtifactBuilt,
    ArtifactDropped,
    Event,
    MemoriesMerged,
    MemoryArchived,
    MemoryDemoted,
    MemoryErased,
    MemoryEvent,
    MemoryPromoted,
    MemoryRestored,
    artifacts_key,
)

TIER_KINDS: Mapping[str, str] = {"activation": "kv_cache", "parametric": "lora_adapter"}

Group = tuple[str, str]  # (cube_id, tier)


@dataclass(frozen=True)
class TrackedMemory:
    cube_id: str
    version: int
    active: bool
    tiers: frozenset[str]


@dataclass(frozen=True)
class PromotionState:
    """Promoted memories by id. Memories that were never promoted are not tracked: their
    content is read from the log only when they join a promoted set."""

    memories: Mapping[str, TrackedMemory]

    @classmethod
    def empty(cls) -> "PromotionState":
        return cls({})

    def promoted_set(self, cube_id: str, tier: str) -> list[tuple[str, int]]:
        """(memory_id, version) of the active memories of the cube promoted to `tier`, by id."""
        return sorted((memory_id, m.version) for memory_id, m in self.memories.items()
                      if m.cube_id == cube_id and tier in m.tiers and m.active)

    def groups(self) -> set[Group]:
        return {(m.cube_id, tier) for m in self.memories.values() for tier in m.tiers}


def evolve_promotions(state: PromotionState, event: Event) -> tuple[PromotionState, set[Group]]:
    """Apply one event; also returns the (cube, tier) groups whose promoted set it changed."""
    if not isinstance(event, MemoryEvent):
        return state, set()
    tracked = state.memories.get(event.memory_id)
    if isinstance(event, MemoryPromoted):
        base = tracked or TrackedMemory(event.cube_id, event.version, True, frozenset())
        changed = replace(base, version=event.version, tiers=base.tiers | {event.target})
        return _with(state, event.memory_id, changed), {(event.cube_id, event.target)}
    if tracked is None:
        return state, set()
    touched = {(tracked.cube_id, tier) for tier in tracked.tiers}
    if isinstance(event, MemoryDemoted):
        changed = replace(tracked, version=event.version, tiers=tracked.tiers - {event.target})
        return _with(state, event.memory_id, changed), {(tracked.cube_id, event.target)}
    if isinstance(event, (MemoriesMerged, MemoryErased)):
        # An erased memory leaves every artifact: the groups it was in are rebuilt without it.
        return _with(state, event.memory_id, replace(tracked, version=event.version, tiers=frozenset())), touched
    active = {MemoryArchived: False, MemoryRestored: True}.get(type(event), tracked.active)
    return _with(state, event.memory_id, replace(tracked, version=event.version, active=active)), touched


def _with(state: PromotionState, memory_id: str, memory: TrackedMemory) -> PromotionState:
    memories = dict(state.memories)
    if memory.tiers:
        memories[memory_id] = memory
    else:
        memories.pop(memory_id, None)
    return PromotionState(memories)


@dataclass(frozen=True)
class BuiltArtifact:
    """What the runtime knows about an artifact it has just written to the store."""

    artifact_id: str
    cube_id: str
    tier: str
    kind: str
    model_id: str
    model_fingerprint: str
    manifest_hash: str
    content_hash: str
    token_count: int
    source_memory_ids: tuple[str, ...]
    source_event_ids: tuple[str, ...]


@dataclass(frozen=True)
class LiveArtifact(BuiltArtifact):
    """A built artifact as the log records it: plus the event that recorded it, and when."""

    built_by_event: str
    built_at: int


@dataclass(frozen=True)
class ArtifactRegistry:
    live: Mapping[Group, LiveArtifact]
    stream_versions: Mapping[str, int]

    @classmethod
    def empty(cls) -> "ArtifactRegistry":
        return cls({}, {})

    def of_cube(self, cube_id: str) -> list[LiveArtifact]:
        return [a for (cube, _), a in sorted(self.live.items()) if cube == cube_id]


def evolve_registry(registry: ArtifactRegistry, event: Event) -> ArtifactRegistry:
    if not isinstance(event, (ArtifactBuilt, ArtifactDropped)):
        return registry
    live = dict(registry.live)
    group = (event.cube_id, event.tier)
    if isinstance(event, ArtifactBuilt):
        recorded = {name: getattr(event, name) for name in BuiltArtifact.__dataclass_fields__}
        live[group] = LiveArtifact(**recorded, built_by_event=event.event_id, built_at=event.occurred_at)
    elif group in live and live[group].artifact_id == event.artifact_id:
        del live[group]
    return ArtifactRegistry(live, {**registry.stream_versions, event.cube_id: event.version})


def rebuild_registry(events: Iterable[Event]) -> ArtifactRegistry:
    registry = ArtifactRegistry.empty()
    for event in events:
        registry = evolve_registry(registry, event)
    return registry


def built(registry: ArtifactRegistry, ctx: CommandContext, artifact: BuiltArtifact) -> list[Event]:
    """ArtifactBuilt for a new live artifact; if another artifact was live for the same cube and
    tier, it is dropped in the same append (reason: superseded), so a tier never has two."""
    version = registry.stream_versions.get(artifact.cube_id, 0)
    previous = registry.live.get((artifact.cube_id, artifact.tier))
    fields = {name: getattr(artifact, name) for name in BuiltArtifact.__dataclass_fields__}
    events: list[Event] = [ArtifactBuilt(**ctx.envelope(artifacts_key(artifact.cube_id), version + 1), **fields,
                                         replaces_artifact_id=previous.artifact_id if previous else None)]
    if previous is not None:
        events.append(ArtifactDropped(**ctx.envelope(artifacts_key(artifact.cube_id), version + 2),
                                      artifact_id=previous.artifact_id, cube_id=previous.cube_id,
                                      tier=previous.tier, reason=f"superseded by {artifact.artifact_id}"))
    return events


def dropped(registry: ArtifactRegistry, ctx: CommandContext, group: Group, reason: str) -> list[Event]:
    previous = registry.live.get(group)
    if previous is None:
        return []
    version = registry.stream_versions.get(previous.cube_id, 0)
    return [ArtifactDropped(**ctx.envelope(artifacts_key(previous.cube_id), version + 1),
                            artifact_id=previous.artifact_id, cube_id=previous.cube_id, tier=previous.tier,
                            reason=reason)]
