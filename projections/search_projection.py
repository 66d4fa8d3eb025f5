"""The search projection: a pure function from one event to the search-index writes it implies.

Dispatched on the event type (one small handler per event, as in eventsourcing's
examples); events that do not concern the search index return no writes.
"""

from __future__ import annotations

from functools import singledispatch

from mos.domain.events import (
    Event,
    MemoriesMerged,
    MemoryArchived,
    MemoryCreated,
    MemoryDemoted,
    MemoryErased,
    MemoryEvent,
    MemoryPromoted,
    MemoryRestored,
    MemoryUpdated,
)
from projections.search_writes import EraseDocument, PatchDocument, ReplaceContent, SearchWrite, UpsertDocument


@singledispatch
def project_search(event: Event) -> list[SearchWrite]:
    return []


@project_search.register
def _created(event: MemoryCreated) -> list[SearchWrite]:
    if event.content_erased:
        return [EraseDocument(event.memory_id)]
    return [
        UpsertDocument(
            memory_id=event.memory_id,
            cube_id=event.cube_id,
            text=event.text,
            tags=event.tags,
            metadata_json=event.metadata_json,
            embedding=event.embedding,
            memory_type=event.memory_type,
            state="active",
            version=event.version,
            created_at=event.occurred_at,
            created_by=event.provenance.actor,
            source_app=event.provenance.source_app,
            created_event_id=event.event_id,
            derived_from=event.derived_from,
        )
    ]


@project_search.register
def _updated(event: MemoryUpdated) -> list[SearchWrite]:
    if event.content_erased:
        return [EraseDocument(event.memory_id)]
    return [
        ReplaceContent(
            memory_id=event.memory_id,
            text=event.text,
            tags=event.tags,
            metadata_json=event.metadata_json,
            embedding=event.embedding,
            version=event.version,
            updated_at=event.occurred_at,
            last_event_id=event.event_id,
            last_actor=event.provenance.actor,
        )
    ]


def _patch(event: MemoryEvent, **changes) -> list[SearchWrite]:
    return [
        PatchDocument(
            memory_id=event.memory_id,
            version=event.version,
            updated_at=event.occurred_at,
            last_event_id=event.event_id,
            last_actor=event.provenance.actor,
            **changes,
        )
    ]


@project_search.register
def _merged(event: MemoriesMerged) -> list[SearchWrite]:
    return _patch(event, state="merged", merged_into=event.target_memory_id, clear_tiers=True)


@project_search.register
def _erased(event: MemoryErased) -> list[SearchWrite]:
    return [EraseDocument(event.memory_id)]


@project_search.register
def _archived(event: MemoryArchived) -> list[SearchWrite]:
    return _patch(event, state="archived")


@project_search.register
def _restored(event: MemoryRestored) -> list[SearchWrite]:
    return _patch(event, state="active")


@project_search.register
def _promoted(event: MemoryPromoted) -> list[SearchWrite]:
    return _patch(event, add_tier=event.target)


@project_search.register
def _demoted(event: MemoryDemoted) -> list[SearchWrite]:
    return _patch(event, remove_tier=event.target)
