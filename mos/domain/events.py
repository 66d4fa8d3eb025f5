"""Domain events: small immutable records, one per past-tense fact about a user, cube or memory.

Each class mirrors `schemas/<ClassName>.avsc` field for field (a test keeps them in step).
Every event carries the envelope fields: `event_id`, `stream_key` (the aggregate it belongs
to, also the Kafka message key), a per-key `version` (1, 2, 3… with no gaps), `occurred_at`
(UTC epoch milliseconds) and `provenance`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping


@dataclass(frozen=True)
class Provenance:
    """Who caused an event, from which app, and which earlier event / request led to it."""

    actor: str
    source_app: str = "mos"
    causation_id: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Event:
    """Envelope shared by every event."""

    event_id: str
    stream_key: str
    version: int
    occurred_at: int
    provenance: Provenance

    type_name: ClassVar[str] = "Event"


@dataclass(frozen=True, kw_only=True)
class UserCreated(Event):
    user_id: str
    type_name: ClassVar[str] = "UserCreated"


@dataclass(frozen=True, kw_only=True)
class CubeCreated(Event):
    cube_id: str
    name: str
    owner: str
    type_name: ClassVar[str] = "CubeCreated"


@dataclass(frozen=True, kw_only=True)
class CubeShared(Event):
    cube_id: str
    with_user: str
    role: str
    type_name: ClassVar[str] = "CubeShared"


@dataclass(frozen=True, kw_only=True)
class CubeAccessRevoked(Event):
    """The owner took `from_user`'s role on the cube away; from this event on, no read path
    returns the cube's memories to that user."""

    cube_id: str
    from_user: str
    reason: str | None = None
    type_name: ClassVar[str] = "CubeAccessRevoked"


@dataclass(frozen=True, kw_only=True)
class MemoryEvent(Event):
    """Any event about one memory; `cube_id` lets consumers route without a lookup."""

    memory_id: str
    cube_id: str


@dataclass(frozen=True)
class SealedContent:
    """A memory's personal content (text, tags, metadata, embedding) encrypted with the
    memory's own data key (AES-256-GCM). Destroying the key erases the content from every
    copy of the log at once — the log itself stays immutable (crypto-shredding)."""

    key_id: str
    nonce: bytes
    ciphertext: bytes


@dataclass(frozen=True, kw_only=True)
class MemoryContent(MemoryEvent):
    """Events that carry a memory's full content (text, tags, metadata, embedding).

    In memory, an event holds its content in the clear and `sealed` is None; the codec
    seals it on the way into the log and opens it on the way out. An event read back after
    its key was destroyed keeps `sealed` and has empty content: `content_erased` is True.
    """

    text: str
    tags: tuple[str, ...] = ()
    metadata_json: str = "{}"
    embedding: tuple[float, ...] = ()
    embedding_model: str = ""
    sealed: SealedContent | None = None

    @property
    def metadata(self) -> Mapping[str, Any]:
        return json.loads(self.metadata_json)

    @property
    def content_erased(self) -> bool:
        return self.sealed is not None


@dataclass(frozen=True, kw_only=True)
class MemoryCreated(MemoryContent):
    memory_type: str = "plaintext"
    derived_from: tuple[str, ...] = ()
    type_name: ClassVar[str] = "MemoryCreated"


@dataclass(frozen=True, kw_only=True)
class MemoryUpdated(MemoryContent):
    type_name: ClassVar[str] = "MemoryUpdated"


@dataclass(frozen=True, kw_only=True)
class MemoriesMerged(MemoryEvent):
    """Emitted once per source memory: `memory_id` is the source, now in state `merged`."""

    target_memory_id: str
    source_memory_ids: tuple[str, ...] = field(default=())
    reason: str | None = None
    type_name: ClassVar[str] = "MemoriesMerged"


@dataclass(frozen=True, kw_only=True)
class MemoryArchived(MemoryEvent):
    reason: str | None = None
    type_name: ClassVar[str] = "MemoryArchived"


@dataclass(frozen=True, kw_only=True)
class MemoryRestored(MemoryEvent):
    reason: str | None = None
    type_name: ClassVar[str] = "MemoryRestored"


@dataclass(frozen=True, kw_only=True)
class MemoryErased(MemoryEvent):
    """The memory's content was destroyed (right to erasure): its data key is gone, so no
    event of it can be opened again, and every read model and artifact drops it. Terminal.

    `scope` says what was asked: `memory` (this one), `derived` (it was derived from an
    erased memory, e.g. a merge target), or `user` (everything of `subject_user`)."""

    scope: str
    subject_user: str | None = None
    reason: str | None = None
    type_name: ClassVar[str] = "MemoryErased"


@dataclass(frozen=True, kw_only=True)
class MemoryPromoted(MemoryEvent):
    target: str
    reason: str | None = None
    type_name: ClassVar[str] = "MemoryPromoted"


@dataclass(frozen=True, kw_only=True)
class MemoryDemoted(MemoryEvent):
    target: str
    reason: str | None = None
    type_name: ClassVar[str] = "MemoryDemoted"


@dataclass(frozen=True, kw_only=True)
class MemoryAccessed(MemoryEvent):
    """An access signal; lives on its own `access:<memory_id>` stream so that reads never
    bump the memory's version (a writer holding version N is not made stale by a search)."""

    accessed_by: str
    count: int = 1
    type_name: ClassVar[str] = "MemoryAccessed"


@dataclass(frozen=True, kw_only=True)
class ArtifactEvent(Event):
    """Any event about an activation / parametric memory artifact of one cube; these live on
    the cube's `artifacts:<cube_id>` stream, whose versions serialise the model runtimes."""

    artifact_id: str
    cube_id: str
    tier: str


@dataclass(frozen=True, kw_only=True)
class ArtifactBuilt(ArtifactEvent):
    """The model runtime built a KV cache (`tier="activation"`) or a LoRA adapter
    (`tier="parametric"`) from exactly `source_memory_ids` at the content events
    `source_event_ids`; `manifest_hash` and `content_hash` identify the bytes on disk."""

    kind: str
    model_id: str
    model_fingerprint: str
    manifest_hash: str
    content_hash: str
    token_count: int
    source_memory_ids: tuple[str, ...] = ()
    source_event_ids: tuple[str, ...] = ()
    replaces_artifact_id: str | None = None
    type_name: ClassVar[str] = "ArtifactBuilt"


@dataclass(frozen=True, kw_only=True)
class ArtifactDropped(ArtifactEvent):
    """The artifact is no longer live (its memories were demoted, changed or superseded)."""

    reason: str
    type_name: ClassVar[str] = "ArtifactDropped"


EVENT_TYPES: Mapping[str, type[Event]] = {
    cls.type_name: cls
    for cls in (
        UserCreated,
        CubeCreated,
        CubeShared,
        CubeAccessRevoked,
        MemoryCreated,
        MemoryUpdated,
        MemoriesMerged,
        MemoryArchived,
        MemoryRestored,
        MemoryErased,
        MemoryPromoted,
        MemoryDemoted,
        MemoryAccessed,
        ArtifactBuilt,
        ArtifactDropped,
    )
}


def user_key(user_id: str) -> str:
    return f"user:{user_id}"


def cube_key(cube_id: str) -> str:
    return f"cube:{cube_id}"


def memory_key(memory_id: str) -> str:
    return f"memory:{memory_id}"


def access_key(memory_id: str) -> str:
    return f"access:{memory_id}"


def artifacts_key(cube_id: str) -> str:
    return f"artifacts:{cube_id}"


@dataclass(frozen=True)
class RecordedEvent:
    """An event as stored in the log, with its position (`offset`, 0-based, gap-free)."""

    offset: int
    event: Event
