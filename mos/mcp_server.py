"""MOS as an MCP server: add / search / get / history for agent frameworks.

A server acts for exactly one user, fixed when it is created. No tool takes a user id, so an
agent cannot read or write as anyone else; memories in cubes that user cannot see are
reported as NotFound, and their text never leaves the SDK. Every `MosError` becomes an MCP
tool error ("<ErrorClass>: message", `is_error=True`) the model can read and recover from;
the session stays up. Times are UTC ISO-8601 strings, which a model reads more reliably
than epoch milliseconds.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Callable, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field
from typing_extensions import TypedDict

from mos.domain.errors import AlreadyExists, InvalidInput, MosError, NotFound
from mos.domain.events import Event
from mos.sdk import MOS
from mos.types import Hit, MemoryItem

T = TypeVar("T")
_READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
_ENVELOPE = frozenset({"event_id", "stream_key", "version", "occurred_at", "provenance", "embedding"})
MemoryId = Annotated[str, Field(description="A memory id, as returned by add_memory or search_memories.")]


# The tools' result shapes; they become each tool's published output schema.
AddedMemory = TypedDict("AddedMemory", {"memory_id": str})
SearchHit = TypedDict("SearchHit", {"memory_id": str, "text": str, "score": float, "cube_id": str,
                                    "signals": dict[str, int]})
MemoryRecord = TypedDict("MemoryRecord", {
    "memory_id": str, "cube_id": str, "text": str, "tags": list[str], "metadata": dict[str, Any],
    "memory_type": str, "state": str, "version": int, "created_at": str, "updated_at": str,
    "provenance": dict[str, Any]})
HistoryEvent = TypedDict("HistoryEvent", {"type": str, "version": int, "occurred_at": str, "actor": str,
                                          "source_app": str, "event_id": str, "fields": dict[str, Any]})


def create_server(mos: MOS, user_id: str, default_cube: str | None = None) -> MCPServer:
    """An MCP server whose five tools act as `user_id` on `mos`; new memories go to
    `default_cube` unless the agent names another cube. Raises NotFound when the user, or the
    default cube for that user, does not exist: a misconfigured server fails at start, not on
    the agent's first call. SDK calls run one at a time on a worker thread, so the event loop
    stays free for the protocol and the SDK never sees more concurrency than one writer."""
    roles = mos.cubes(user_id)  # NotFound for an unknown user
    if default_cube is not None and default_cube not in roles:
        raise NotFound(f"unknown cube {default_cube!r} for user {user_id!r}")
    limiter = anyio.CapacityLimiter(1)
    where = f"New memories go to cube {default_cube}." if default_cube else "Pass a cube_id from list_cubes to add_memory."
    server = MCPServer("mos", instructions=(
        f"Long-term memory of user {user_id!r}, kept across conversations. Search it before answering "
        f"questions that may depend on earlier sessions; add durable facts the user shares. {where}"))

    async def call(action: Callable[[], T]) -> T:
        try:
            return await anyio.to_thread.run_sync(action, limiter=limiter)
        except MosError as exc:
            raise ToolError(f"{type(exc).__name__}: {exc}") from exc

    @server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False,
                                             open_world_hint=False))
    async def add_memory(
        text: Annotated[str, Field(description="The fact to remember, written to stand on its own later.")],
        cube_id: Annotated[str | None, Field(description="Cube to store it in (see list_cubes); "
                                                         "default: this server's default cube.")] = None,
        tags: Annotated[list[str] | None, Field(description="Short labels to group memories by.")] = None,
        metadata: Annotated[dict[str, Any] | None, Field(description="Any JSON object kept with it.")] = None,
    ) -> AddedMemory:
        """Store a new long-term memory for the user and return its id.

        Use it when the user shares something worth remembering beyond this conversation: a
        preference, a fact about them or their work, a decision. Write a self-contained
        sentence ("Alice prefers window seats"), not "she likes that". Every call creates a
        new memory, so search first rather than storing the same fact twice."""
        def add() -> str:
            cube = cube_id or default_cube
            if cube is None:
                raise InvalidInput("no cube_id given and this server has no default cube; pick one from list_cubes")
            return mos.add(text, user_id, cube, metadata=metadata, tags=tags)
        return {"memory_id": await call(add)}

    @server.tool(annotations=_READ_ONLY)
    async def search_memories(
        query: Annotated[str, Field(description="What to look for, in natural language or keywords.")],
        top_k: Annotated[int, Field(ge=1, le=100, description="How many memories to return at most.")] = 5,
        cube_ids: Annotated[list[str] | None, Field(description="Only these cubes (ids from list_cubes); "
                                                                "default: every cube the user can read.")] = None,
    ) -> list[SearchHit]:
        """Find the user's active memories relevant to a query, best first.

        Use it before answering anything that may depend on what the user said or did in
        earlier sessions. Retrieval is hybrid (keywords, embeddings, links between memories):
        `signals` names the retrievers that found a hit and the rank each gave it, and `score`
        only orders the hits of one call. An empty list means nothing relevant is stored."""
        return [_hit(h) for h in await call(lambda: mos.search(query, user_id, cube_ids, top_k))]

    @server.tool(annotations=_READ_ONLY)
    async def get_memory(memory_id: MemoryId) -> MemoryRecord:
        """Read one memory by id: full text, tags, metadata, lifecycle state and provenance.

        Use it to inspect a memory from search_memories or add_memory. Only `state` "active"
        memories are current; "archived" ones were retired and "merged" ones live on in the
        memory named by provenance.merged_into. Fails with NotFound for ids the user cannot see."""
        return _record(await call(lambda: mos.get(memory_id, user_id)))

    @server.tool(annotations=_READ_ONLY)
    async def memory_history(memory_id: MemoryId) -> list[HistoryEvent]:
        """Every change ever made to one memory, oldest first: its audit trail.

        Use it to answer "when, and by whom, was this learned or changed?". Each entry is one
        event (MemoryCreated, MemoryUpdated, MemoryArchived, ...) with its version, time, the
        acting user and the event's fields. Fails with NotFound for ids the user cannot see."""
        return [_history_entry(e) for e in await call(lambda: mos.history(memory_id, user_id))]

    @server.tool(annotations=_READ_ONLY)
    async def list_cubes() -> dict[str, str]:
        """The memory cubes (separate collections of memories) the user can access, as
        cube_id -> role (owner, writer or reader). Use it to pick a cube_id for add_memory,
        which needs owner or writer, or to narrow search_memories."""
        return await call(lambda: mos.cubes(user_id))

    return server


def _utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _hit(hit: Hit) -> SearchHit:
    return {"memory_id": hit.memory_id, "text": hit.text, "score": float(hit.score), "cube_id": hit.cube_id,
            "signals": dict(hit.signals or {})}


def _record(item: MemoryItem) -> MemoryRecord:
    return {"memory_id": item.memory_id, "cube_id": item.cube_id, "text": item.text, "tags": list(item.tags),
            "metadata": dict(item.metadata), "memory_type": item.memory_type, "state": item.state,
            "version": item.version, "created_at": _utc(item.created_at), "updated_at": _utc(item.updated_at),
            "provenance": dict(item.provenance)}


def _history_entry(event: Event) -> HistoryEvent:
    from mos.types import event_fields

    fields = event_fields(event, _ENVELOPE)
    return {"type": event.type_name, "version": event.version, "occurred_at": _utc(event.occurred_at),
            "actor": event.provenance.actor, "source_app": event.provenance.source_app,
            "event_id": event.event_id, "fields": fields}


def serve_stdio(user_id: str, cube: str | None = None, data_dir: Path | None = None) -> None:
    """Open MOS as the `mos` CLI does (MosSettings.from_env, the data directory's embedder) and
    serve it on stdin/stdout until the client disconnects; stdout carries only the protocol.
    Creates the user if missing. Without `cube`, the user's only writable cube is the default;
    with none, a cube named "default" is created so add_memory works at once; with several,
    the agent names one per add_memory call."""
    from mos.config import MosSettings
    from mos.embedders.registry import embedder_for

    settings = MosSettings.from_env()
    directory = Path(data_dir).expanduser() if data_dir else settings.data_dir
    directory.mkdir(parents=True, exist_ok=True)
    with MOS(directory, embedder=embedder_for(directory, settings.embedder), backend=settings.backend,
             source_app="mos-mcp") as mos:
        try:
            mos.create_user(user_id)
        except AlreadyExists:
            pass
        writable = sorted(c for c, role in mos.cubes(user_id).items() if role in ("owner", "writer"))
        if cube is None and not writable:
            cube = mos.create_cube("default", owner=user_id)
        elif cube is None and len(writable) == 1:
            cube = writable[0]
        create_server(mos, user_id, cube).run("stdio")


def main() -> None:
    """`python -m mos.mcp_server --user U [--cube C] [--data-dir D]`: what an MCP client launches."""
    import typer

    from mos.cli.mcp_command import mcp_command

    typer.run(mcp_command)


if __name__ == "__main__":
    main()
