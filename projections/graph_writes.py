"""Write operations on the graph read model (nodes and typed edges).

Node ids are namespaced (`user:alice`, `cube:…`, `memory:…`, `entity:<cube>/<hash>`) so one id
space serves every node kind and matches the event stream keys.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UpsertNode:
    """Create or update a node; a field left None keeps its value, except `speaker_keys`
    (a memory's, `projections.speakers`), which is always replaced."""

    node_id: str
    kind: str
    cube_id: str | None = None
    state: str | None = None
    name: str | None = None
    speaker_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class SetNodeState:
    node_id: str
    state: str


@dataclass(frozen=True)
class UpsertEdge:
    kind: str
    source: str
    target: str
    role: str | None = None


@dataclass(frozen=True)
class RemoveEdges:
    """Drop every edge of `kind` leaving `source` (e.g. stale MENTIONS after an update), or
    only the one to `target` when given (e.g. a revoked HAS_ROLE)."""

    kind: str
    source: str
    target: str | None = None


@dataclass(frozen=True)
class AppendToSession:
    """Link `node_id` after the latest memory of `session_key` (NEXT_IN_SESSION edge).

    The adapter keeps each session's tail, so the link depends only on the order events are
    applied — which the runner keeps identical between live projection and replay.
    """

    session_key: str
    node_id: str


@dataclass(frozen=True)
class EraseNode:
    """Remove a node and every edge touching it, for good (an erased memory).

    A session chain closes over the gap (previous -> next), and the session's tail steps
    back, so the graph equals one built by a replay that never saw the node. Entities it
    mentioned that nothing else mentions go with it."""

    node_id: str


GraphWrite = UpsertNode | SetNodeState | UpsertEdge | RemoveEdges | AppendToSession | EraseNode

EDGE_KINDS = ("HAS_ROLE", "BELONGS_TO", "DERIVED_FROM", "MERGED_INTO", "NEXT_IN_SESSION", "MENTIONS")
