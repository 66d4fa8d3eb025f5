"""Request and response bodies of the REST API (they are its OpenAPI schema).

Requests forbid unknown fields, so a misspelt field is a 422 rather than silently ignored.
Shapes are checked here (plus what `json_input` must refuse before the SDK sees it); the
SDK stays the judge of content (text length, tag rules, metadata size), so the API and the
SDK cannot drift apart on what is valid.
No request carries a user id for the actor: the actor is always the bearer token's user.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mos.domain.events import Event
from mos.domain.validation import MAX_TEXT_CHARS
from mos.rest.json_input import Content, Id, MetadataIn, Tag, Text
from mos.types import Hit, MemoryItem

Metadata = dict[str, Any]


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- users and cubes -----------------------------------------------------------------------

class UserOut(BaseModel):
    user_id: str
    created: bool = Field(description="True if this call created the user, False if it already existed.")


class CubeIn(Request):
    name: Content = Field(max_length=200)
    cube_id: Id | None = Field(None, description="Choose the id; a fresh UUID if omitted.")


class CubeOut(BaseModel):
    cube_id: str
    role: Literal["owner", "writer", "reader"] = Field(description="The caller's role on the cube.")


class CubePage(BaseModel):
    items: list[CubeOut]


class ShareIn(Request):
    user_id: Id = Field(description="The user to grant the role to.")
    role: Literal["reader", "writer"] = "reader"


class ShareOut(BaseModel):
    cube_id: str
    user_id: str
    role: str


# --- memories ------------------------------------------------------------------------------

class NewMemory(Request):
    text: Content = Field(max_length=MAX_TEXT_CHARS)
    metadata: MetadataIn | None = None
    tags: list[Tag] | None = None


class AddMemoriesIn(Request):
    items: list[NewMemory] = Field(min_length=1, max_length=1000,
                                   description="One or more memories, appended atomically (all or none).")


class AddMemoriesOut(BaseModel):
    memory_ids: list[str] = Field(description="Ids of the new memories, in the order of `items`.")


class ProvenanceOut(BaseModel):
    created_by: str
    source_app: str
    created_event_id: str
    last_event_id: str
    last_actor: str
    version: int
    derived_from: list[str]
    merged_into: str | None
    tiers: list[str]


class MemoryOut(BaseModel):
    memory_id: str
    cube_id: str
    text: str
    tags: list[str]
    metadata: Metadata
    memory_type: str
    state: str = Field(description="active, archived or merged.")
    version: int = Field(description="Pass as `expected_version` to make a write fail on a concurrent change.")
    created_at: int = Field(description="UTC epoch milliseconds.")
    updated_at: int = Field(description="UTC epoch milliseconds.")
    provenance: ProvenanceOut

    @classmethod
    def of(cls, item: MemoryItem) -> "MemoryOut":
        return cls(memory_id=item.memory_id, cube_id=item.cube_id, text=item.text, tags=list(item.tags),
                   metadata=dict(item.metadata), memory_type=item.memory_type, state=item.state,
                   version=item.version, created_at=item.created_at, updated_at=item.updated_at,
                   provenance=ProvenanceOut(**item.provenance))


class MemoryPage(BaseModel):
    items: list[MemoryOut]
    limit: int
    offset: int
    next_offset: int | None = Field(description="Offset of the next page; null on the last page.")


class MemoryPatch(Request):
    text: Content | None = Field(None, max_length=MAX_TEXT_CHARS)
    metadata: MetadataIn | None = None
    tags: list[Tag] | None = None
    expected_version: int | None = Field(None, ge=1, description="Fail with 409 unless the memory "
                                         "is still at this version.")


class TransitionIn(Request):
    reason: Text | None = Field(None, max_length=2000)
    expected_version: int | None = Field(None, ge=1)


class EraseIn(Request):
    reason: Text | None = Field(None, max_length=2000, description="Recorded in the log; never the content.")


class ErasureOut(BaseModel):
    """What an erasure did: each erased memory with why it was in scope (`memory`, `user`,
    `derived`), and the KV caches / adapters rebuilt without them."""

    erased: dict[str, str]
    keys_destroyed: int
    purged: bool
    artifacts_built: list[str]
    artifacts_dropped: list[str]

    @classmethod
    def of(cls, report) -> "ErasureOut":
        return cls(erased=dict(report.erased), keys_destroyed=report.keys_destroyed, purged=report.purged,
                   artifacts_built=list(report.artifacts_built), artifacts_dropped=list(report.artifacts_dropped))


class MergeIn(Request):
    memory_ids: list[Id] = Field(min_length=2, max_length=1000, description="Active memories of one cube.")
    text: Content | None = Field(None, max_length=MAX_TEXT_CHARS, description="Default: the sources' texts joined.")
    metadata: MetadataIn | None = None
    tags: list[Tag] | None = None


class EventOut(BaseModel):
    """One event of a memory's stream (embeddings left out)."""

    type: str
    event_id: str
    version: int
    occurred_at: int = Field(description="UTC epoch milliseconds.")
    actor: str
    source_app: str
    data: dict[str, Any] = Field(description="The event's own fields.")

    @classmethod
    def of(cls, event: Event) -> "EventOut":
        from mos.types import event_fields

        return cls(type=event.type_name, event_id=event.event_id, version=event.version,
                   occurred_at=event.occurred_at, actor=event.provenance.actor,
                   source_app=event.provenance.source_app, data=event_fields(event, _ENVELOPE))


_ENVELOPE = {"event_id", "stream_key", "version", "occurred_at", "provenance", "embedding"}


class HistoryOut(BaseModel):
    memory_id: str
    items: list[EventOut] = Field(description="Oldest first.")


class ExplanationOut(BaseModel):
    memory_id: str
    state: str
    tiers: list[str]
    lines: list[str] = Field(description="Human-readable reasons, one per line.")
    because: list[EventOut]


# --- search and chat -----------------------------------------------------------------------

class SearchFilters(Request):
    state: list[Literal["active", "archived", "merged"]] | None = Field(None, min_length=1)
    tags: list[Tag] | None = Field(None, description="Every tag must be present.")
    metadata: MetadataIn | None = Field(None, description="Each key must equal the value.")


class SearchIn(Request):
    query: Content = Field(max_length=MAX_TEXT_CHARS)
    cube_ids: list[Id] | None = Field(None, max_length=1000, description="Default: every cube you can read.")
    top_k: int = Field(10, ge=1, le=1000)
    filters: SearchFilters | None = None
    as_of: str | None = Field(None, max_length=64, description="Answer from the state at this moment: an ISO-8601 "
                              "timestamp with a timezone, or a log offset (digits).")


class HitOut(BaseModel):
    memory_id: str
    text: str
    score: float
    cube_id: str
    state: str
    tags: list[str]
    metadata: Metadata
    provenance: ProvenanceOut
    signals: dict[str, int] = Field(description="Retrieval signal (bm25, vector, graph) → rank it gave.")
    expanded_from: list[str]

    @classmethod
    def of(cls, hit: Hit) -> "HitOut":
        return cls(memory_id=hit.memory_id, text=hit.text, score=hit.score, cube_id=hit.cube_id, state=hit.state,
                   tags=list(hit.tags), metadata=dict(hit.metadata), provenance=ProvenanceOut(**hit.provenance),
                   signals=dict(hit.signals or {}), expanded_from=list(hit.expanded_from))


class SearchOut(BaseModel):
    hits: list[HitOut]


class ChatIn(Request):
    query: Content = Field(max_length=MAX_TEXT_CHARS)
    cube_ids: list[Id] | None = Field(None, max_length=1000)
    top_k: int = Field(5, ge=1, le=100)
    max_new_tokens: int = Field(64, ge=1, le=4096)
    use_artifacts: bool = True


class ChatOut(BaseModel):
    answer: str
    model: str
    memories: list[HitOut]
    kv_cache: str | None
    adapter: str | None
    cached_memory_ids: list[str]
    prompt_tokens: int | None
    cached_tokens: int
