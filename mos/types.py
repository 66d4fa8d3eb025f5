"""Public result types of the SDK: what `get` and `search` return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from projections.ports import Document


@dataclass(frozen=True)
class MemoryItem:
    """A memory as an app sees it, with its lifecycle state and provenance."""

    memory_id: str
    cube_id: str
    text: str
    tags: tuple[str, ...]
    metadata: Mapping[str, Any]
    memory_type: str
    state: str
    version: int
    created_at: int
    updated_at: int
    provenance: Mapping[str, Any]

    @classmethod
    def from_document(cls, doc: Document) -> "MemoryItem":
        return cls(doc.memory_id, doc.cube_id, doc.text, doc.tags, doc.metadata, doc.memory_type,
                   doc.state, doc.version, doc.created_at, doc.updated_at, provenance_of(doc))


@dataclass(frozen=True)
class Hit:
    """One search result.

    `signals` maps each retrieval signal that found the memory (`bm25`, `vector`, `graph`)
    to the 1-based rank it gave it; `expanded_from` lists `seed_id:EDGE_KIND` for hits the
    graph expansion reached.
    """

    memory_id: str
    text: str
    score: float
    cube_id: str
    state: str
    metadata: Mapping[str, Any]
    provenance: Mapping[str, Any]
    tags: tuple[str, ...] = ()
    signals: Mapping[str, int] = None  # type: ignore[assignment]
    expanded_from: tuple[str, ...] = ()


def provenance_of(doc: Document) -> dict[str, Any]:
    return {
        "created_by": doc.created_by,
        "source_app": doc.source_app,
        "created_event_id": doc.created_event_id,
        "last_event_id": doc.last_event_id,
        "last_actor": doc.last_actor,
        "version": doc.version,
        "derived_from": list(doc.derived_from),
        "merged_into": doc.merged_into,
        "tiers": list(doc.tiers),
    }


def event_fields(event: Any, skip: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """An event's own fields as JSON-ready values (tuples as lists). Sealed content whose key
    is gone is shown as `content_erased: true`, never as ciphertext bytes."""
    import dataclasses

    fields: dict[str, Any] = {}
    for field in dataclasses.fields(event):
        if field.name in skip:
            continue
        value = getattr(event, field.name)
        if field.name == "sealed":
            if value is not None:
                fields["content_erased"] = True
            continue
        fields[field.name] = list(value) if isinstance(value, tuple) else value
    return fields
