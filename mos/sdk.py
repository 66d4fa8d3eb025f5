"""`MOS`: the orchestration API apps call.

Every write follows the same path: validate → load the aggregate from the log → let the
domain decide the events (or refuse) → append them atomically with optimistic concurrency
→ project. Reads first bring the read models up to the log head, so an app always reads
its own writes, including writes made by another process on the same data directory.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from mos.backends import Backend, open_embedded
from mos.domain import cube as cubes
from mos.domain import memory as memories
from mos.domain.commands import CommandContext, random_id, wall_clock_ms
from mos.domain.errors import AccessDenied, AlreadyExists, Conflict, InvalidInput, NotFound
from mos.domain.events import Event, cube_key, memory_key, user_key
from mos.domain.validation import (
    MAX_BATCH_ITEMS,
    canonical_metadata_json,
    validate_id,
    require_utf8,
    validate_page,
    validate_reason,
    validate_tags,
    validate_text,
)
from mos.embedders.port import Embedder
from mos.access import AccessRecorder
from mos.model_memory import ModelMemory
from mos.sdk_erasure import ErasureMethods
from mos.sdk_scheduler import SchedulerMethods
from mos.sdk_tiers import TierMethods
from mos.point_in_time import AsOf, PointInTime
from mos.query_filters import parse_filters
from mos.retrieval.hybrid import HybridRetriever, RetrievalConfig
from mos.types import Hit, MemoryItem, provenance_of
from projections.ports import SearchFilter
from projections.runner import catch_up_all, holds_the_log

# Events per transaction when rebuilding read models: one decode feeds every read model.
REPLAY_BATCH = 5000


@dataclass(frozen=True)
class ReplayReport:
    events: int
    seconds: float


class MOS(TierMethods, SchedulerMethods, ErasureMethods):
    """A memory system over one backend.

    `backend="embedded"` (default): everything in `data_dir`. `backend="kafka"`: Kafka,
    Elasticsearch and Neo4j from `PipelineSettings.from_env()` (MOS_KAFKA_BOOTSTRAP,
    MOS_ES_URL, MOS_NEO4J_URI, …). Same API either way.
    """

    def __init__(self, data_dir: str | Path | None = None, *, embedder: Embedder | None = None,
                 backend: Backend | str = "embedded", source_app: str = "mos",
                 retrieval: RetrievalConfig | None = None, clock: Callable[[], int] = wall_clock_ms,
                 model: Any = None, chat_client: Any = None, runtime_settings: Any = None,
                 record_access: bool = True, scheduler_config: Any = None):
        """`model`: a local Hugging Face causal-LM directory (or a loaded
        `model_runtime.models.LoadedModel`) for chat, KV caches and adapters; default
        `MOS_MODEL`. `chat_client`: an OpenAI-compatible `mos.llm.port.ChatCompleter` used for
        plaintext chat when there is no local model; default from `MOS_CHAT_URL`.
        `runtime_settings`: `model_runtime.runtime.RuntimeSettings` (KV / LoRA build settings).
        `record_access`: searches and chats append (batched) MemoryAccessed events, the
        scheduler's heat signal. `scheduler_config`: a `SchedulerConfig`, mapping or TOML path."""
        if embedder is None:
            from mos.embedders.sentence_transformer import SentenceTransformerEmbedder

            embedder = SentenceTransformerEmbedder()
        self.embedder = embedder
        from mos.config import MosSettings

        settings = MosSettings.from_env()
        directory = Path(data_dir) if data_dir else settings.data_dir
        if isinstance(backend, str):
            if backend == "embedded":
                backend = open_embedded(directory, embedder)
            elif backend == "kafka":
                from mos.backends import open_kafka

                backend = open_kafka(directory, embedder)
            else:
                raise InvalidInput(f"backend must be 'embedded', 'kafka' or a Backend, not {backend!r}")
        self._backend = backend
        self.source_app = source_app
        self._clock = clock
        self._retriever = HybridRetriever(backend.index, backend.graph, embedder, retrieval)
        self._lock = threading.RLock()
        self._access = AccessRecorder(backend.log, clock, source_app) if record_access else None
        self._point_in_time = PointInTime(backend.log, directory / "point-in-time", embedder.dimension)
        self._scheduler_config = scheduler_config
        self._scheduler = None
        self._scheduler_thread = None
        self._models = ModelMemory(backend.log, directory / "artifacts", model or settings.model_dir,
                                   chat_client or settings.chat_client(), runtime_settings,
                                   clock if clock is not wall_clock_ms else None)

    # --- plumbing -------------------------------------------------------------------------

    @property
    def log(self):
        return self._backend.log

    def _ctx(self, actor: str) -> CommandContext:
        return CommandContext(actor=actor, source_app=self.source_app,
                              correlation_id=str(uuid.uuid4()), clock=self._clock)

    def sync(self) -> int:
        """Apply every event not yet in the read models; returns how many were applied.

        Looks first, without the lock, whether the read models already hold the whole log (a
        Faust worker or another thread's sync got there): then a read does not queue behind a
        write, which holds the lock across its append — seconds, when another writer fences
        it — and its own sync."""
        if holds_the_log(self._backend.runners, self.log):
            return 0
        with self._lock:
            return catch_up_all(self._backend.runners, self.log)

    def _commit(self, events: Sequence[Event]) -> None:
        with self._lock:
            self.log.append(events)
            catch_up_all(self._backend.runners, self.log)  # our events are not projected yet: no look first

    def _require_user(self, user_id: str) -> None:
        validate_id(user_id, "user_id")
        if not self.log.read_stream(user_key(user_id)):
            raise NotFound(f"unknown user {user_id!r}")

    def _cube(self, cube_id: str, user_id: str, needed: str) -> cubes.Cube:
        """The cube, if `user_id` holds at least role `needed`; cubes the user cannot see are
        reported as not found, so their existence does not leak."""
        self._require_user(user_id)
        cube = cubes.rebuild_cube(self.log.read_stream(cube_key(validate_id(cube_id, "cube_id"))))
        if cube is None or cube.role_of(user_id) is None:
            raise NotFound(f"unknown cube {cube_id!r} for user {user_id!r}")
        if not cube.can(user_id, needed):
            raise AccessDenied(f"user {user_id!r} is {cube.role_of(user_id)} of cube {cube_id}; this needs {needed}")
        return cube

    def _memory(self, memory_id: str, user_id: str, needed: str, allow_erased: bool = False) -> memories.Memory:
        memory = memories.rebuild(self.log.read_stream(memory_key(validate_id(memory_id, "memory_id"))))
        if memory is None:
            raise NotFound(f"unknown memory {memory_id!r}")
        if memory.state is memories.MemoryState.ERASED and not allow_erased:
            raise NotFound(f"memory {memory_id!r} was erased")
        try:
            self._cube(memory.cube_id, user_id, needed)
        except NotFound:
            raise NotFound(f"unknown memory {memory_id!r}") from None
        return memory

    def _content(self, text: Any, metadata: Mapping[str, Any] | None, tags: Iterable[str] | None,
                 vector=None) -> memories.MemoryContentValues:
        text = validate_text(text)
        if vector is None:
            vector = self.embedder.embed([text])[0]
        return memories.MemoryContentValues(text, validate_tags(tags), canonical_metadata_json(metadata),
                                            tuple(float(v) for v in vector), self.embedder.model_id)

    # --- users and cubes ------------------------------------------------------------------

    def create_user(self, user_id: str) -> str:
        validate_id(user_id, "user_id")
        with self._lock:
            if self.log.read_stream(user_key(user_id)):
                raise AlreadyExists(f"user {user_id!r} already exists")
            self._commit([cubes.create_user(self._ctx(user_id), user_id)])
        return user_id

    def create_cube(self, name: str, owner: str, cube_id: str | None = None) -> str:
        if not isinstance(name, str) or not name.strip() or len(name) > 200 or "\x00" in name:
            raise InvalidInput("cube name must be a non-empty string of at most 200 characters, without NUL")
        require_utf8(name, "cube name")
        self._require_user(owner)
        cube_id = validate_id(cube_id, "cube_id") if cube_id is not None else random_id()
        with self._lock:
            if self.log.read_stream(cube_key(cube_id)):
                raise AlreadyExists(f"cube {cube_id!r} already exists")
            self._commit([cubes.create_cube(self._ctx(owner), cube_id, name.strip(), owner)])
        return cube_id

    def share_cube(self, cube_id: str, user_id: str, with_user: str, role: str = "reader") -> None:
        """`user_id` (the owner) grants `with_user` a role on the cube."""
        self._require_user(with_user)
        with self._lock:
            cube = self._cube(cube_id, user_id, "owner")
            self._commit([cubes.share_cube(cube, self._ctx(user_id), with_user, role)])

    def revoke_cube(self, cube_id: str, user_id: str, from_user: str, reason: str | None = None) -> None:
        """`user_id` (the owner) takes `from_user`'s role away; every read path stops returning
        the cube's memories to `from_user` from this event on (history stays in the log)."""
        validate_id(from_user, "from_user")
        validate_reason(reason)
        with self._lock:
            cube = self._cube(cube_id, user_id, "owner")
            self._commit([cubes.revoke_access(cube, self._ctx(user_id), from_user, reason)])

    def cubes(self, user_id: str) -> dict[str, str]:
        """cube_id -> role for every cube `user_id` can access."""
        self._require_user(user_id)
        self.sync()
        return self._backend.graph.cube_roles(user_id)

    # --- memories: writes -----------------------------------------------------------------

    def add(self, text: str, user_id: str, cube_id: str, metadata: Mapping[str, Any] | None = None,
            tags: Iterable[str] | None = None) -> str:
        return self.add_many([{"text": text, "metadata": metadata, "tags": tags}], user_id, cube_id)[0]

    def add_many(self, items: Sequence[Mapping[str, Any]], user_id: str, cube_id: str) -> list[str]:
        """Add many memories in one atomic append; every item is validated before any is embedded."""
        if not isinstance(items, Sequence) or isinstance(items, (str, bytes)) or not items:
            raise InvalidInput("items must be a non-empty list of {'text', 'metadata'?, 'tags'?} dicts")
        if len(items) > MAX_BATCH_ITEMS:
            raise InvalidInput(f"at most {MAX_BATCH_ITEMS} items per add_many call, got {len(items)}")
        checked = []
        for position, item in enumerate(items):
            if not isinstance(item, Mapping) or set(item) - {"text", "metadata", "tags"}:
                raise InvalidInput(f"item {position}: expected a dict with text and optional metadata/tags")
            try:
                checked.append((validate_text(item.get("text")), canonical_metadata_json(item.get("metadata")),
                                validate_tags(item.get("tags"))))
            except InvalidInput as exc:
                raise InvalidInput(f"item {position}: {exc}" if len(items) > 1 else str(exc)) from None
        self._cube(cube_id, user_id, "writer")
        vectors = self.embedder.embed([text for text, _, _ in checked])
        ctx = self._ctx(user_id)
        events, ids = [], []
        for (text, metadata_json, tags), vector in zip(checked, vectors):
            memory_id = random_id()
            content = memories.MemoryContentValues(text, tags, metadata_json, tuple(vector.tolist()),
                                                   self.embedder.model_id)
            events.append(memories.create(ctx, memory_id, cube_id, content))
            ids.append(memory_id)
        self._commit(events)
        return ids

    def update(self, memory_id: str, user_id: str, text: str | None = None,
               metadata: Mapping[str, Any] | None = None, tags: Iterable[str] | None = None,
               expected_version: int | None = None) -> MemoryItem:
        """Replace the given fields; `expected_version` turns a lost update into a Conflict."""
        with self._lock:
            memory = self._memory(memory_id, user_id, "writer")
            _check_expected(memory, expected_version)
            new_text = memory.text if text is None else text
            vector = None if text is not None else self._stored_embedding(memory_id)
            content = self._content(new_text, metadata if metadata is not None else json.loads(memory.metadata_json),
                                    tags if tags is not None else memory.tags, vector)
            self._commit([memories.update(memory, self._ctx(user_id), content)])
        return self.get(memory_id, user_id)

    def archive(self, memory_id: str, user_id: str, reason: str | None = None,
                expected_version: int | None = None) -> MemoryItem:
        return self._transition(memory_id, user_id, memories.archive, reason, expected_version)

    def restore(self, memory_id: str, user_id: str, reason: str | None = None,
                expected_version: int | None = None) -> MemoryItem:
        return self._transition(memory_id, user_id, memories.restore, reason, expected_version)

    def _transition(self, memory_id, user_id, decide, reason, expected_version) -> MemoryItem:
        validate_reason(reason)
        with self._lock:
            memory = self._memory(memory_id, user_id, "writer")
            _check_expected(memory, expected_version)
            self._commit([decide(memory, self._ctx(user_id), reason)])
        return self.get(memory_id, user_id, include_inactive=True)

    def merge(self, memory_ids: Sequence[str], user_id: str, text: str | None = None,
              metadata: Mapping[str, Any] | None = None, tags: Iterable[str] | None = None) -> str:
        """Merge active memories of one cube into a new memory; the sources become `merged`."""
        if isinstance(memory_ids, str) or not isinstance(memory_ids, Sequence):
            raise InvalidInput("memory_ids must be a list of memory ids")
        with self._lock:
            sources = [self._memory(m, user_id, "writer") for m in memory_ids]
            merged_tags = list(dict.fromkeys(t for m in sources for t in m.tags)) if tags is None else tags
            merged_meta = {"merged_from": list(memory_ids)} if metadata is None else metadata
            merged_text = text if text is not None else "\n".join(m.text for m in sources)
            content = self._content(merged_text, merged_meta, merged_tags)
            target_id = random_id()
            self._commit(memories.merge(sources, self._ctx(user_id), target_id, content))
        return target_id

    def _stored_embedding(self, memory_id: str) -> tuple[float, ...]:
        for event in reversed(self.log.read_stream(memory_key(memory_id))):
            if isinstance(event, memories.MemoryContent):
                return event.embedding
        raise NotFound(f"unknown memory {memory_id!r}")

    # --- memories: reads ------------------------------------------------------------------

    def get(self, memory_id: str, user_id: str, include_inactive: bool = True,
            resolve_merged: bool = False, as_of: AsOf | None = None) -> MemoryItem:
        """`resolve_merged=True` follows a merged memory to the memory it was merged into
        (transitively), which is where its content lives on. `as_of`: the memory as it was
        then (see `search`); NotFound if it did not exist yet or its cube was not visible."""
        self._memory(memory_id, user_id, "reader")
        self.sync()
        index = self._backend.index
        if as_of is not None:
            models = self._state_as_of(as_of)
            index = models.index
            found = index.documents([memory_id]).get(memory_id)
            if found is None or found.cube_id not in models.graph.cube_roles(user_id):
                raise NotFound(f"unknown memory {memory_id!r} as of {as_of}")
        doc = index.documents([memory_id]).get(memory_id)
        hops = 0
        while resolve_merged and doc is not None and doc.state == "merged" and doc.merged_into and hops < 100:
            doc, hops = index.documents([doc.merged_into]).get(doc.merged_into), hops + 1
        if doc is None or (not include_inactive and doc.state != "active"):
            raise NotFound(f"unknown memory {memory_id!r}")
        return MemoryItem.from_document(doc)

    def get_all(self, user_id: str, cube_id: str | None = None, include_archived: bool = False,
                limit: int = 1000, offset: int = 0) -> list[MemoryItem]:
        where = self._visible(user_id, [cube_id] if cube_id else None,
                              {"state": ["active", "archived"] if include_archived else ["active"]})
        limit, offset = validate_page(limit, offset)
        return [MemoryItem.from_document(d) for d in self._backend.index.list_documents(where, limit, offset)]

    def search(self, query: str, user_id: str, cube_ids: Sequence[str] | None = None, top_k: int = 10,
               filters: Mapping[str, Any] | None = None, retrieval: RetrievalConfig | None = None,
               as_of: AsOf | None = None) -> list[Hit]:
        """Hybrid search over the caller's cubes; `retrieval` overrides the recipe for this call.
        `as_of` (a timezone-aware datetime, or a log offset) answers from the state after the
        events up to that point — only over cubes the caller could see then and can see now;
        such audit reads record no access signal."""
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput("query must be a non-empty string")
        if not isinstance(top_k, int) or not 1 <= top_k <= 1000:
            raise InvalidInput("top_k must be an integer between 1 and 1000")
        where = self._visible(user_id, cube_ids, filters)
        index, retriever = self._backend.index, self._retriever
        if as_of is not None:
            models = self._state_as_of(as_of)
            then = models.graph.cube_roles(user_id)
            where = replace(where, cube_ids=tuple(c for c in where.cube_ids if c in then))
            index, retriever = models.index, HybridRetriever(models.index, models.graph, self.embedder,
                                                             self._retriever.config)
        results = retriever.retrieve(query, where, top_k, retrieval)
        docs = self._resolve_merged(index.documents([r.memory_id for r in results]), where, index)
        hits, seen = [], set()
        for r in results:
            d = docs.get(r.memory_id)
            if d is None or d.memory_id in seen:
                continue
            seen.add(d.memory_id)
            expanded = r.expanded_from + ((f"{r.memory_id}:MERGED_INTO",) if d.memory_id != r.memory_id else ())
            hits.append(Hit(d.memory_id, d.text, r.score, d.cube_id, d.state, d.metadata, provenance_of(d), d.tags,
                            r.signals, expanded))
        if self._access is not None and hits and as_of is None:
            self._access.record(((h.memory_id, h.cube_id) for h in hits), user_id)
        return hits

    def _state_as_of(self, as_of: AsOf):
        self.sync()
        return self._point_in_time.at(self._point_in_time.offset_of(as_of, self._clock()))

    def _resolve_merged(self, docs: dict, where: SearchFilter, index) -> dict:
        """A merged memory found by a search stands for its merge target (when visible)."""
        targets = {mid: d.merged_into for mid, d in docs.items() if d.state == "merged" and d.merged_into}
        if not targets:
            return docs
        found = index.documents(sorted(set(targets.values())))
        resolved = dict(docs)
        for memory_id, target in targets.items():
            doc = found.get(target)
            if doc is not None and doc.cube_id in where.cube_ids:
                resolved[memory_id] = doc
        return resolved

    def _visible(self, user_id: str, cube_ids: Sequence[str] | None,
                 filters: Mapping[str, Any] | None) -> SearchFilter:
        self._require_user(user_id)
        self.sync()
        roles = self._backend.graph.cube_roles(user_id)
        if cube_ids is None:
            chosen = tuple(sorted(roles))
        else:
            if isinstance(cube_ids, str):
                raise InvalidInput("cube_ids must be a list of cube ids")
            for cube_id in cube_ids:
                if validate_id(cube_id, "cube_id") not in roles:
                    raise NotFound(f"unknown cube {cube_id!r} for user {user_id!r}")
            chosen = tuple(dict.fromkeys(cube_ids))
        return parse_filters(chosen, filters)

    def audit(self, memory_id: str, user_id: str, include_accesses: bool = False):
        """The memory's full lineage from the log (`mos.audit.Lineage`): every event of it, of
        the memories merged into it or it into, and of the artifacts built from them."""
        from mos.audit import lineage

        self._memory(memory_id, user_id, "reader", allow_erased=True)
        return lineage(self.log, memory_id, include_accesses)

    def history(self, memory_id: str, user_id: str) -> list[Event]:
        """Every event of the memory, oldest first (the audit trail of one memory). An erased
        memory's events keep ids, versions and provenance; their content reads empty."""
        self._memory(memory_id, user_id, "reader", allow_erased=True)
        return self.log.read_stream(memory_key(memory_id))

    # --- maintenance ----------------------------------------------------------------------

    def replay(self, progress: Callable[[int, int], None] | None = None) -> ReplayReport:
        """Drop every read model and rebuild it from offset 0 of the log."""
        started = time.perf_counter()
        with self._lock:
            for runner in self._backend.runners:
                runner.target.reset()
            events = catch_up_all(self._backend.runners, self.log, progress, batch_size=REPLAY_BATCH)
        return ReplayReport(events, time.perf_counter() - started)

    def close(self) -> None:
        self.stop_scheduler()
        try:
            if self._access is not None:
                self._access.close()
        finally:
            self._point_in_time.close()
            self._backend.close()

    def __enter__(self) -> "MOS":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _check_expected(memory: memories.Memory, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != memory.version:
        raise Conflict(f"memory {memory.memory_id} is at version {memory.version}, "
                       f"not the expected {expected_version}")
