"""The REST API: the SDK's operations over HTTP, as the bearer token's user.

Guarantees every route keeps:
- the acting user is the token's user, never an id from the request;
- a cube or memory the caller cannot see is a 404 whose body names only the requested id;
- every error body is problem+json (see `problems`), and no internal error leaks detail;
- a body over `max_body_bytes` is refused with 413 before it is parsed (see `body_limit`).

Routes are plain `def`s on purpose: the SDK is synchronous, so FastAPI runs each call in
its worker threadpool and the event loop never blocks on SQLite or an embedder.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, AsyncIterator

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic.json_schema import models_json_schema

from mos.domain.errors import AlreadyExists, InvalidInput
from mos.rest.auth import TokenStore
from mos.rest.body_limit import BodyLimitMiddleware
from mos.rest.json_input import ID_PATTERN
from mos.rest.problems import PROBLEM_JSON, Problem, install_problem_handlers
from mos.rest.schemas import (
    AddMemoriesIn,
    AddMemoriesOut,
    ChatIn,
    ChatOut,
    CubeIn,
    CubeOut,
    CubePage,
    EraseIn,
    ErasureOut,
    EventOut,
    ExplanationOut,
    HistoryOut,
    HitOut,
    MemoryOut,
    MemoryPage,
    MemoryPatch,
    MergeIn,
    SearchIn,
    SearchOut,
    ShareIn,
    ShareOut,
    TransitionIn,
    UserOut,
)
from mos.sdk import MOS

# The SDK passes limit/offset straight to SQLite, where anything past 2**63 - 1 is an
# OverflowError (a 500); the API keeps offsets far below that.
MAX_OFFSET = 10**9
_bearer = HTTPBearer(auto_error=False, description="A token from the server's token file or MOS_API_TOKENS.")


def _mos(request: Request) -> MOS:
    return request.app.state.mos


def _caller(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    tokens: TokenStore = request.app.state.tokens
    return tokens.user_for(credentials.credentials if credentials else None)


Sdk = Annotated[MOS, Depends(_mos)]
Caller = Annotated[str, Depends(_caller)]
CubeId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]
MemoryId = Annotated[str, Path(pattern=ID_PATTERN, max_length=128)]


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    schema = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {status: {"description": "A problem (RFC 9457).", "content": {PROBLEM_JSON: schema}}
            for status in (401, 413, 422, *statuses)}


v1 = APIRouter(prefix="/v1")


# --- users and cubes -----------------------------------------------------------------------

@v1.post("/users/me", response_model=UserOut, status_code=201, tags=["users"],
         responses={200: {"model": UserOut, "description": "The user already existed."}, **_problems()})
def create_me(mos: Sdk, user: Caller, response: Response) -> UserOut:
    """Register the token's user (idempotent): 201 when created now, 200 if it already existed."""
    try:
        mos.create_user(user)
    except AlreadyExists:
        response.status_code = 200
        return UserOut(user_id=user, created=False)
    return UserOut(user_id=user, created=True)


@v1.post("/users/me/erase", response_model=ErasureOut, tags=["users"], responses=_problems(400, 404))
def erase_me(mos: Sdk, user: Caller, body: EraseIn | None = None) -> ErasureOut:
    """Right to erasure: everything the caller wrote or owns, and what was derived from it, is
    made unrecoverable (keys destroyed, read models and artifacts purged). Cannot be undone."""
    return ErasureOut.of(mos.erase_user(user, (body or EraseIn()).reason))


@v1.get("/cubes", response_model=CubePage, tags=["cubes"], responses=_problems(404))
def list_cubes(mos: Sdk, user: Caller) -> CubePage:
    """Every cube the caller holds a role on, by cube id."""
    return CubePage(items=[CubeOut(cube_id=c, role=r) for c, r in sorted(mos.cubes(user).items())])


@v1.post("/cubes", response_model=CubeOut, status_code=201, tags=["cubes"], responses=_problems(400, 404, 409))
def create_cube(mos: Sdk, user: Caller, body: CubeIn) -> CubeOut:
    """Create a cube owned by the caller."""
    return CubeOut(cube_id=mos.create_cube(body.name, owner=user, cube_id=body.cube_id), role="owner")


@v1.post("/cubes/{cube_id}/shares", response_model=ShareOut, status_code=201, tags=["cubes"],
         responses=_problems(400, 403, 404, 409))
def share_cube(mos: Sdk, user: Caller, cube_id: CubeId, body: ShareIn) -> ShareOut:
    """Grant another user a role on a cube the caller owns."""
    mos.share_cube(cube_id, user, body.user_id, body.role)
    return ShareOut(cube_id=cube_id, user_id=body.user_id, role=body.role)


@v1.delete("/cubes/{cube_id}/shares/{user_id}", status_code=204, tags=["cubes"],
           responses=_problems(400, 403, 404, 409))
def revoke_share(mos: Sdk, user: Caller, cube_id: CubeId, user_id: CubeId) -> Response:
    """Take a user's role on a cube the caller owns away (409 if they have none)."""
    mos.revoke_cube(cube_id, user, user_id)
    return Response(status_code=204)


@v1.post("/cubes/{cube_id}/memories", response_model=AddMemoriesOut, status_code=201, tags=["memories"],
         responses=_problems(400, 403, 404, 409))
def add_memories(mos: Sdk, user: Caller, cube_id: CubeId, body: AddMemoriesIn) -> AddMemoriesOut:
    """Add one or many memories in one atomic append (every item is validated first)."""
    items = [item.model_dump() for item in body.items]
    return AddMemoriesOut(memory_ids=mos.add_many(items, user, cube_id))


# --- memories ------------------------------------------------------------------------------

@v1.get("/memories", response_model=MemoryPage, tags=["memories"], responses=_problems(400, 404))
def list_memories(mos: Sdk, user: Caller,
                  cube_id: Annotated[str | None, Query(pattern=ID_PATTERN, max_length=128)] = None,
                  include_archived: bool = False,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                  offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0) -> MemoryPage:
    """The caller's memories (one cube, or all it can read), oldest first, a page at a time."""
    found = mos.get_all(user, cube_id, include_archived, limit + 1, offset)
    more = len(found) > limit
    return MemoryPage(items=[MemoryOut.of(m) for m in found[:limit]], limit=limit, offset=offset,
                      next_offset=offset + limit if more else None)


@v1.post("/memories/merge", response_model=MemoryOut, status_code=201, tags=["memories"],
         responses=_problems(400, 403, 404, 409))
def merge_memories(mos: Sdk, user: Caller, body: MergeIn) -> MemoryOut:
    """Merge active memories of one cube into a new memory; the sources become `merged`."""
    target = mos.merge(body.memory_ids, user, body.text, body.metadata, body.tags)
    return MemoryOut.of(mos.get(target, user))


@v1.get("/memories/{memory_id}", response_model=MemoryOut, tags=["memories"], responses=_problems(400, 404))
def get_memory(mos: Sdk, user: Caller, memory_id: MemoryId, resolve_merged: bool = False,
               as_of: Annotated[str | None, Query(max_length=64, description="ISO-8601 timestamp with a "
                                                  "timezone, or a log offset: the memory as it was then.")] = None
               ) -> MemoryOut:
    """One memory with its state and provenance; `resolve_merged` follows merges to the survivor."""
    return MemoryOut.of(mos.get(memory_id, user, resolve_merged=resolve_merged, as_of=_as_of(as_of)))


@v1.get("/memories/{memory_id}/audit", tags=["memories"], responses=_problems(400, 404))
def audit_memory(mos: Sdk, user: Caller, memory_id: MemoryId) -> dict[str, Any]:
    """The memory's full lineage from the log: every step, merges either way, artifacts built from it."""
    found = mos.audit(memory_id, user)
    return {"root": found.root, "memories": found.memories, "artifacts": found.artifacts,
            "edges": [list(edge) for edge in found.edges], "steps": [vars(step) for step in found.steps]}


@v1.patch("/memories/{memory_id}", response_model=MemoryOut, tags=["memories"],
          responses=_problems(400, 403, 404, 409))
def update_memory(mos: Sdk, user: Caller, memory_id: MemoryId, body: MemoryPatch) -> MemoryOut:
    """Replace the fields given (absent or null fields are kept); 409 if `expected_version` is stale."""
    return MemoryOut.of(mos.update(memory_id, user, body.text, body.metadata, body.tags, body.expected_version))


@v1.post("/memories/{memory_id}/archive", response_model=MemoryOut, tags=["memories"],
         responses=_problems(400, 403, 404, 409))
def archive_memory(mos: Sdk, user: Caller, memory_id: MemoryId, body: TransitionIn | None = None) -> MemoryOut:
    """Archive an active memory (kept, but out of default searches)."""
    body = body or TransitionIn()
    return MemoryOut.of(mos.archive(memory_id, user, body.reason, body.expected_version))


@v1.post("/memories/{memory_id}/restore", response_model=MemoryOut, tags=["memories"],
         responses=_problems(400, 403, 404, 409))
def restore_memory(mos: Sdk, user: Caller, memory_id: MemoryId, body: TransitionIn | None = None) -> MemoryOut:
    """Bring an archived memory back to active."""
    body = body or TransitionIn()
    return MemoryOut.of(mos.restore(memory_id, user, body.reason, body.expected_version))


@v1.post("/memories/{memory_id}/erase", response_model=ErasureOut, tags=["memories"],
         responses=_problems(400, 403, 404))
def erase_memory(mos: Sdk, user: Caller, memory_id: MemoryId, body: EraseIn | None = None) -> ErasureOut:
    """Erase one memory and what was derived from it, for good (its cube's owner or its author)."""
    return ErasureOut.of(mos.erase_memory(memory_id, user, (body or EraseIn()).reason))


@v1.get("/memories/{memory_id}/history", response_model=HistoryOut, tags=["memories"],
        responses=_problems(400, 404))
def memory_history(mos: Sdk, user: Caller, memory_id: MemoryId) -> HistoryOut:
    """Every event of the memory, oldest first: its audit trail."""
    return HistoryOut(memory_id=memory_id, items=[EventOut.of(e) for e in mos.history(memory_id, user)])


@v1.get("/memories/{memory_id}/explain", response_model=ExplanationOut, tags=["memories"],
        responses=_problems(400, 404))
def explain_memory(mos: Sdk, user: Caller, memory_id: MemoryId) -> ExplanationOut:
    """Why the memory is in its state and tiers, from the log."""
    why = mos.explain(memory_id, user)
    return ExplanationOut(memory_id=why.memory_id, state=why.state, tiers=list(why.tiers), lines=list(why.lines),
                          because=[EventOut.of(e) for e in why.because])


# --- search and chat -----------------------------------------------------------------------

@v1.post("/search", response_model=SearchOut, tags=["search"], responses=_problems(400, 404))
def search(mos: Sdk, user: Caller, body: SearchIn) -> SearchOut:
    """Hybrid search over the caller's cubes (or `cube_ids`)."""
    filters = body.filters.model_dump(exclude_none=True) if body.filters else None
    hits = mos.search(body.query, user, body.cube_ids, body.top_k, filters, as_of=_as_of(body.as_of))
    return SearchOut(hits=[HitOut.of(h) for h in hits])


@v1.post("/chat", response_model=ChatOut, tags=["search"], responses=_problems(400, 404, 502))
def chat(mos: Sdk, user: Caller, body: ChatIn) -> ChatOut:
    """Answer with the caller's memories; 400 if the server has no language model configured."""
    reply = mos.chat(body.query, user, body.cube_ids, body.top_k, body.max_new_tokens, body.use_artifacts)
    return ChatOut(answer=reply.answer, model=reply.model, memories=[HitOut.of(h) for h in reply.memories],
                   kv_cache=reply.kv_cache, adapter=reply.adapter, cached_memory_ids=list(reply.cached_memory_ids),
                   prompt_tokens=reply.prompt_tokens, cached_tokens=reply.cached_tokens)


def _as_of(value: str | None):
    """`as_of` as the SDK takes it: digits are a log offset, anything else an ISO timestamp."""
    if value is None:
        return None
    if value.isascii() and value.isdigit():  # str.isdigit() also accepts '²', which int() refuses
        return int(value)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"as_of must be an ISO-8601 timestamp with a timezone or a log offset, got {value!r}") \
            from None


# --- the application -----------------------------------------------------------------------

def create_app(mos: MOS, tokens: TokenStore, max_body_bytes: int = 1_000_000, *,
               close_on_shutdown: bool = False) -> FastAPI:
    """A FastAPI app over `mos`. The caller keeps ownership of `mos` unless `close_on_shutdown`,
    in which case the app closes it (flushing buffered access signals) when the server stops —
    the one hook that still runs when uvicorn ends on SIGTERM."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if close_on_shutdown:
            mos.close()

    app = FastAPI(title="MOS", version="1", summary="Event-sourced memory for LLM apps.", lifespan=lifespan,
                  description="Every request acts as the user its bearer token maps to. Errors are "
                              "RFC 9457 problem details (`application/problem+json`).")
    app.state.mos = mos
    app.state.tokens = tokens
    install_problem_handlers(app, _allowed_methods)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=max_body_bytes)
    app.include_router(v1)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _allowed_methods(path: str) -> list[str]:
    return sorted({m for route in v1.routes if isinstance(route, APIRoute) and route.path_regex.match(path)
                   for m in route.methods})


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, plus the `Problem` component the error responses refer to."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary,
                             description=app.description, routes=app.routes)
        _, definitions = models_json_schema([(Problem, "serialization")],
                                            ref_template="#/components/schemas/{model}")
        schema.setdefault("components", {}).setdefault("schemas", {}).update(definitions.get("$defs", {}))
        app.openapi_schema = schema
    return app.openapi_schema
