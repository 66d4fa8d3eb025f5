"""Write operations on the search read model: what a search projection may ask an index to do.

They are plain values so the pure projection can be tested without any index, and so every
SearchIndex adapter (SQLite, Elasticsearch) applies exactly the same instructions.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UpsertDocument:
    """Create (or fully overwrite) the search document of a memory."""

    memory_id: str
    cube_id: str
    text: str
    tags: tuple[str, ...]
    metadata_json: str
    embedding: tuple[float, ...]
    memory_type: str
    state: str
    version: int
    created_at: int
    created_by: str
    source_app: str
    created_event_id: str
    derived_from: tuple[str, ...]


@dataclass(frozen=True)
class ReplaceContent:
    """New text / tags / metadata / embedding for an existing document."""

    memory_id: str
    text: str
    tags: tuple[str, ...]
    metadata_json: str
    embedding: tuple[float, ...]
    version: int
    updated_at: int
    last_event_id: str
    last_actor: str


@dataclass(frozen=True)
class PatchDocument:
    """Lifecycle changes: state, merge target and promotion tiers (None = unchanged)."""

    memory_id: str
    version: int
    updated_at: int
    last_event_id: str
    last_actor: str
    state: str | None = None
    merged_into: str | None = None
    add_tier: str | None = None
    remove_tier: str | None = None
    clear_tiers: bool = False


@dataclass(frozen=True)
class EraseDocument:
    """The memory's content was erased: remove its document for good and remember the id
    (a tombstone), so no later write of that memory re-creates or patches it — a replay
    meets the memory's earlier events after its key is already gone. Adapters also make
    the removal physical (segment merges, page zeroing), not just invisible."""

    memory_id: str


SearchWrite = UpsertDocument | ReplaceContent | PatchDocument | EraseDocument
