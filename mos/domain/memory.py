"""The memory aggregate and its lifecycle state machine.

A memory's state is a pure fold of its events (`evolve`). Commands (`update`, `archive`, …)
look at the current state and either return the events to append, or raise
`InvalidTransition` and return nothing: a rejected command never produces a partial event.

Lifecycle::

    active ──archive──▶ archived ──restore──▶ active
    active ──merge────▶ merged   (terminal: the memory lives on in its merge target)
    any ────erase─────▶ erased   (terminal: its content key is destroyed, nothing is left)

Promotion to activation / parametric memory is orthogonal to the lifecycle: only an active
memory can be promoted, and only a promoted tier can be demoted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Iterable

from mos.domain.commands import CommandContext
from mos.domain.errors import InvalidInput, InvalidTransition
from mos.domain.events import (
    Event,
    MemoriesMerged,
    MemoryArchived,
    MemoryContent,
    MemoryCreated,
    MemoryDemoted,
    MemoryErased,
    MemoryPromoted,
    MemoryRestored,
    MemoryUpdated,
    memory_key,
)


class MemoryState(str, Enum):
    ACTIVE = "active"
    ARCHIVED = "archived"
    MERGED = "merged"
    ERASED = "erased"


TIERS = ("activation", "parametric")


@dataclass(frozen=True)
class MemoryContentValues:
    """Validated content of a memory, as the SDK hands it to the domain."""

    text: str
    tags: tuple[str, ...]
    metadata_json: str
    embedding: tuple[float, ...]
    embedding_model: str


@dataclass(frozen=True)
class Memory:
    memory_id: str
    cube_id: str
    version: int
    state: MemoryState
    text: str
    tags: tuple[str, ...]
    metadata_json: str
    memory_type: str
    created_by: str
    created_at: int
    updated_at: int
    tiers: frozenset[str] = frozenset()
    merged_into: str | None = None
    derived_from: tuple[str, ...] = ()


def evolve(memory: Memory | None, event: Event) -> Memory:
    """Apply one event of this memory's stream; the only place memory state changes."""
    if isinstance(event, MemoryCreated):
        return Memory(
            memory_id=event.memory_id,
            cube_id=event.cube_id,
            version=event.version,
            state=MemoryState.ACTIVE,
            text=event.text,
            tags=event.tags,
            metadata_json=event.metadata_json,
            memory_type=event.memory_type,
            created_by=event.provenance.actor,
            created_at=event.occurred_at,
            updated_at=event.occurred_at,
            derived_from=event.derived_from,
        )
    if memory is None:
        raise ValueError(f"{event.type_name} before MemoryCreated on {event.stream_key}")
    memory = replace(memory, version=event.version, updated_at=event.occurred_at)
    if isinstance(event, MemoryUpdated):
        return replace(memory, text=event.text, tags=event.tags, metadata_json=event.metadata_json)
    if isinstance(event, MemoryArchived):
        return replace(memory, state=MemoryState.ARCHIVED)
    if isinstance(event, MemoryRestored):
        return replace(memory, state=MemoryState.ACTIVE)
    if isinstance(event, MemoriesMerged):
        return replace(memory, state=MemoryState.MERGED, merged_into=event.target_memory_id, tiers=frozenset())
    if isinstance(event, MemoryErased):
        return replace(memory, state=MemoryState.ERASED, text="", tags=(), metadata_json="{}", tiers=frozenset())
    if isinstance(event, MemoryPromoted):
        return replace(memory, tiers=memory.tiers | {event.target})
    if isinstance(event, MemoryDemoted):
        return replace(memory, tiers=memory.tiers - {event.target})
    return memory


def rebuild(events: Iterable[Event]) -> Memory | None:
    memory: Memory | None = None
    for event in events:
        memory = evolve(memory, event)
    return memory


def _require_state(memory: Memory, allowed: MemoryState, command: str) -> None:
    if memory.state is not allowed:
        raise InvalidTransition(
            f"cannot {command} memory {memory.memory_id}: it is {memory.state.value}, "
            f"{command} needs {allowed.value}"
        )


def create(ctx: CommandContext, memory_id: str, cube_id: str, content: MemoryContentValues,
           memory_type: str = "plaintext", derived_from: tuple[str, ...] = ()) -> MemoryCreated:
    if memory_type not in ("plaintext", "activation", "parametric"):
        raise InvalidInput(f"memory_type must be plaintext, activation or parametric, not {memory_type!r}")
    return MemoryCreated(
        **ctx.envelope(memory_key(memory_id), 1),
        memory_id=memory_id,
        cube_id=cube_id,
        memory_type=memory_type,
        derived_from=derived_from,
        **_content_fields(content),
    )


def update(memory: Memory, ctx: CommandContext, content: MemoryContentValues) -> MemoryUpdated:
    _require_state(memory, MemoryState.ACTIVE, "update")
    return MemoryUpdated(
        **ctx.envelope(memory_key(memory.memory_id), memory.version + 1),
        memory_id=memory.memory_id,
        cube_id=memory.cube_id,
        **_content_fields(content),
    )


def archive(memory: Memory, ctx: CommandContext, reason: str | None = None) -> MemoryArchived:
    _require_state(memory, MemoryState.ACTIVE, "archive")
    return MemoryArchived(**_memory_envelope(memory, ctx), reason=reason)


def restore(memory: Memory, ctx: CommandContext, reason: str | None = None) -> MemoryRestored:
    _require_state(memory, MemoryState.ARCHIVED, "restore")
    return MemoryRestored(**_memory_envelope(memory, ctx), reason=reason)


def promote(memory: Memory, ctx: CommandContext, target: str, reason: str | None = None) -> MemoryPromoted:
    _require_tier(target)
    _require_state(memory, MemoryState.ACTIVE, "promote")
    if target in memory.tiers:
        raise InvalidTransition(f"memory {memory.memory_id} is already promoted to {target}")
    return MemoryPromoted(**_memory_envelope(memory, ctx), target=target, reason=reason)


def demote(memory: Memory, ctx: CommandContext, target: str, reason: str | None = None) -> MemoryDemoted:
    _require_tier(target)
    if target not in memory.tiers:
        raise InvalidTransition(f"memory {memory.memory_id} is not promoted to {target}")
    return MemoryDemoted(**_memory_envelope(memory, ctx), target=target, reason=reason)


def merge(sources: list[Memory], ctx: CommandContext, target_id: str,
          content: MemoryContentValues, reason: str | None = None) -> list[Event]:
    """Merge ≥2 active memories of one cube into a new target memory.

    Returns the target's `MemoryCreated` (with `derived_from` = sources) followed by one
    `MemoriesMerged` per source; the caller appends them atomically, so either every source
    is merged or none is.
    """
    source_ids = tuple(m.memory_id for m in sources)
    if len(set(source_ids)) < 2 or len(set(source_ids)) != len(source_ids):
        raise InvalidInput("merge needs at least two distinct memory ids")
    cubes = {m.cube_id for m in sources}
    if len(cubes) != 1:
        raise InvalidInput(f"merge sources must share one cube, got {sorted(cubes)}")
    for memory in sources:
        _require_state(memory, MemoryState.ACTIVE, "merge")
    created = create(ctx, target_id, sources[0].cube_id, content, derived_from=source_ids)
    merged_ctx = ctx.caused_by(created.event_id)
    return [created] + [
        MemoriesMerged(**_memory_envelope(m, merged_ctx), target_memory_id=target_id, source_memory_ids=source_ids,
                       reason=reason)
        for m in sources
    ]


ERASE_SCOPES = ("memory", "derived", "user")


def erase(memory: Memory, ctx: CommandContext, scope: str = "memory", subject_user: str | None = None,
          reason: str | None = None) -> MemoryErased:
    """Erase a memory in any state but erased (an archived or merged memory still holds
    personal content in the log). The caller destroys the memory's key after appending."""
    if scope not in ERASE_SCOPES:
        raise InvalidInput(f"erase scope must be one of {ERASE_SCOPES}, not {scope!r}")
    if memory.state is MemoryState.ERASED:
        raise InvalidTransition(f"memory {memory.memory_id} is already erased")
    return MemoryErased(**_memory_envelope(memory, ctx), scope=scope, subject_user=subject_user, reason=reason)


def _require_tier(target: str) -> None:
    if target not in TIERS:
        raise InvalidInput(f"promotion target must be one of {TIERS}, not {target!r}")


def _memory_envelope(memory: Memory, ctx: CommandContext) -> dict:
    return {**ctx.envelope(memory_key(memory.memory_id), memory.version + 1),
            "memory_id": memory.memory_id, "cube_id": memory.cube_id}


def _content_fields(content: MemoryContentValues) -> dict:
    return {
        "text": content.text,
        "tags": content.tags,
        "metadata_json": content.metadata_json,
        "embedding": content.embedding,
        "embedding_model": content.embedding_model,
    }


def content_of(event: MemoryContent) -> MemoryContentValues:
    return MemoryContentValues(event.text, event.tags, event.metadata_json, event.embedding, event.embedding_model)
