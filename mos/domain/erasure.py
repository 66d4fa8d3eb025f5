"""What an erasure request covers, decided from the log alone (pure: no I/O).

Erasing a memory also erases every memory derived from it (a merge target holds the merged
sources' text), transitively. Erasing a user covers the memories they wrote, in any cube,
and every memory in the cubes they own — the two ways a memory can be "about" them in MOS —
plus what was derived from those. Memories already erased are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from mos.domain.events import CubeCreated, Event, MemoryCreated, MemoryErased


@dataclass
class ErasureIndex:
    """Who owns each cube, and each memory's cube, author and derivations."""

    cube_owner: dict[str, str] = field(default_factory=dict)
    memory_cube: dict[str, str] = field(default_factory=dict)
    author: dict[str, str] = field(default_factory=dict)
    derived: dict[str, set[str]] = field(default_factory=dict)  # source -> memories derived from it
    erased: set[str] = field(default_factory=set)

    def apply(self, event: Event) -> None:
        if isinstance(event, CubeCreated):
            self.cube_owner[event.cube_id] = event.owner
        elif isinstance(event, MemoryCreated):
            self.memory_cube[event.memory_id] = event.cube_id
            self.author[event.memory_id] = event.provenance.actor
            for source in event.derived_from:
                self.derived.setdefault(source, set()).add(event.memory_id)
        elif isinstance(event, MemoryErased):
            self.erased.add(event.memory_id)


def erasure_index(events: Iterable[Event]) -> ErasureIndex:
    index = ErasureIndex()
    for event in events:
        index.apply(event)
    return index


def with_derived(index: ErasureIndex, memory_ids: Iterable[str]) -> dict[str, str]:
    """memory id -> scope (`memory` for those asked for, `derived` for the rest), in a
    stable order: requested first, then derived ones breadth-first; erased ones left out."""
    plan: dict[str, str] = {m: "memory" for m in memory_ids}
    queue = list(plan)
    while queue:
        for child in sorted(index.derived.get(queue.pop(0), ())):
            if child not in plan:
                plan[child] = "derived"
                queue.append(child)
    return {m: scope for m, scope in plan.items() if m not in index.erased}


def memories_of_user(index: ErasureIndex, user_id: str) -> list[str]:
    """Memories `user_id` wrote, or that live in a cube `user_id` owns, in creation order."""
    owned = {cube for cube, owner in index.cube_owner.items() if owner == user_id}
    return [m for m, cube in index.memory_cube.items() if index.author.get(m) == user_id or cube in owned]
