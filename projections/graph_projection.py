"""The graph projection: a pure function from one event to graph writes.

Edges written:
- user -HAS_ROLE{role}-> cube            (CubeCreated: owner; CubeShared: grantee)
- memory -BELONGS_TO-> cube
- memory -NEXT_IN_SESSION-> memory       (conversation order inside a session)
- target -DERIVED_FROM-> source, source -MERGED_INTO-> target
- memory -MENTIONS-> entity              (shares-entity links between memories)

Memory nodes hold their cube, state and hashed speaker (`projections.speakers`).

An erased memory's node goes with every edge (EraseNode).
"""

from __future__ import annotations

import hashlib
import json
from functools import singledispatch

from mos.domain.events import (
    CubeCreated,
    CubeAccessRevoked,
    CubeShared,
    Event,
    MemoriesMerged,
    MemoryArchived,
    MemoryContent,
    MemoryCreated,
    MemoryErased,
    MemoryRestored,
    MemoryUpdated,
    UserCreated,
    cube_key,
    memory_key,
    user_key,
)
from projections.entities import extract_entities
from projections.speakers import memory_speaker_keys, name_key
from projections.graph_writes import (
    AppendToSession,
    EraseNode,
    GraphWrite,
    RemoveEdges,
    SetNodeState,
    UpsertEdge,
    UpsertNode,
)


def session_key_of(event: MemoryContent) -> str:
    """Memories are chained per cube, or per `metadata["session_id"]` within a cube if given
    (hashed: metadata is personal content, and the graph keeps none)."""
    session = json.loads(event.metadata_json).get("session_id")
    if session is None:
        return event.cube_id
    return f"{event.cube_id}/{hashlib.sha256(json.dumps(session).encode()).hexdigest()[:24]}"


def entity_node_id(cube_id: str, entity: str) -> str:
    """Entities are keyed by a hash of (cube, name), and their names are not stored: the
    graph holds no text of a memory, so erasing one leaves nothing readable behind in the
    graph database's store files or transaction logs. Equal names still meet in one node;
    cubes are isolated (no cross-cube entity links)."""
    return f"entity:{cube_id}/{name_key(cube_id, entity)}"


def _mentions(event: MemoryContent) -> list[GraphWrite]:
    writes: list[GraphWrite] = []
    node = memory_key(event.memory_id)
    for entity in extract_entities(event.text):
        entity_id = entity_node_id(event.cube_id, entity)
        writes.append(UpsertNode(entity_id, "Entity", cube_id=event.cube_id))
        writes.append(UpsertEdge("MENTIONS", node, entity_id))
    return writes


@singledispatch
def project_graph(event: Event) -> list[GraphWrite]:
    return []


@project_graph.register
def _user(event: UserCreated) -> list[GraphWrite]:
    return [UpsertNode(user_key(event.user_id), "User", name=event.user_id)]


@project_graph.register
def _cube(event: CubeCreated) -> list[GraphWrite]:
    cube = cube_key(event.cube_id)
    return [
        UpsertNode(cube, "Cube", cube_id=event.cube_id, name=event.name),
        UpsertEdge("HAS_ROLE", user_key(event.owner), cube, role="owner"),
    ]


@project_graph.register
def _shared(event: CubeShared) -> list[GraphWrite]:
    return [UpsertEdge("HAS_ROLE", user_key(event.with_user), cube_key(event.cube_id), role=event.role)]


@project_graph.register
def _revoked(event: CubeAccessRevoked) -> list[GraphWrite]:
    return [RemoveEdges("HAS_ROLE", user_key(event.from_user), cube_key(event.cube_id))]


@project_graph.register
def _memory_created(event: MemoryCreated) -> list[GraphWrite]:
    node = memory_key(event.memory_id)
    if event.content_erased:  # replaying an erased memory: it must not reappear, even briefly
        return [EraseNode(node)]
    writes: list[GraphWrite] = [
        UpsertNode(node, "Memory", cube_id=event.cube_id, state="active",
                   speaker_keys=memory_speaker_keys(event.cube_id, event.metadata_json)),
        UpsertEdge("BELONGS_TO", node, cube_key(event.cube_id)),
        AppendToSession(session_key_of(event), node),
    ]
    writes += [UpsertEdge("DERIVED_FROM", node, memory_key(source)) for source in event.derived_from]
    return writes + _mentions(event)


@project_graph.register
def _memory_updated(event: MemoryUpdated) -> list[GraphWrite]:
    if event.content_erased:
        return [EraseNode(memory_key(event.memory_id))]
    node = memory_key(event.memory_id)  # the metadata may name another speaker now
    return [UpsertNode(node, "Memory", cube_id=event.cube_id,
                       speaker_keys=memory_speaker_keys(event.cube_id, event.metadata_json)),
            RemoveEdges("MENTIONS", node)] + _mentions(event)


@project_graph.register
def _merged(event: MemoriesMerged) -> list[GraphWrite]:
    node = memory_key(event.memory_id)
    return [SetNodeState(node, "merged"), UpsertEdge("MERGED_INTO", node, memory_key(event.target_memory_id))]


@project_graph.register
def _erased(event: MemoryErased) -> list[GraphWrite]:
    return [EraseNode(memory_key(event.memory_id))]


@project_graph.register
def _archived(event: MemoryArchived) -> list[GraphWrite]:
    return [SetNodeState(memory_key(event.memory_id), "archived")]


@project_graph.register
def _restored(event: MemoryRestored) -> list[GraphWrite]:
    return [SetNodeState(memory_key(event.memory_id), "active")]
