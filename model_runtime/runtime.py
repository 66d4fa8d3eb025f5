"""The model runtime as a consumer of the event log.

It folds the log into which memories are promoted where (`PromotionState`) and which
artifact is live per cube and tier (`ArtifactRegistry`). After each read it reconciles every
(cube, tier) whose promoted set changed:

- promoted set non-empty and different from the live artifact's sources → build the new
  artifact (written atomically to the store), *then* append ArtifactBuilt (plus ArtifactDropped
  for the artifact it supersedes), *then* delete the superseded files;
- promoted set empty (all demoted, archived or merged) → append ArtifactDropped, then delete.

So an event never points at a missing artifact, and a crash at any step is repaired by the
next run: artifact ids are deterministic, so a finished-but-unrecorded build is found and
recorded, and appends are serialised per cube by the `artifacts:<cube_id>` stream version.
`rebuild` replays the log into an empty store and checks every content hash against the log.
"""

from __future__ import annotations

import fcntl
import logging
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

from mos.domain import memory as memories
from mos.domain.artifacts import (
    TIER_KINDS,
    BuiltArtifact,
    Group,
    built,
    dropped,
    evolve_promotions,
    evolve_registry,
)
from mos.domain.commands import CommandContext, random_id, wall_clock_ms
from mos.domain.errors import Conflict, CorruptArtifact, NotFound
from mos.domain.events import Event, MemoryContent, memory_key
from model_runtime.artifact_store import DirectoryArtifactStore
from model_runtime.context import render_memory_block
from model_runtime.kv_cache.builder import KvCacheSettings, build_kv_cache
from model_runtime.lora.config import LoraSettings
from model_runtime.lora.trainer import train_adapter
from model_runtime.manifest import ArtifactManifest, SourceMemory, artifact_id_for, sha256_text
from model_runtime.models import LoadedModel
from model_runtime.runtime_state import RuntimeState, load_state, save_state
from streams.ports import EventLog

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]  # (label, done, total)


@dataclass(frozen=True)
class RuntimeSettings:
    kv: KvCacheSettings = KvCacheSettings()
    lora: LoraSettings = LoraSettings()
    read_batch: int = 1000


@dataclass(frozen=True)
class MemoryText:
    source: SourceMemory
    text: str
    created_at: int


@dataclass
class RuntimeReport:
    events: int = 0
    built: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RebuiltArtifact:
    artifact_id: str
    expected_content_hash: str
    content_hash: str
    expected_manifest_hash: str
    manifest_hash: str

    @property
    def identical(self) -> bool:
        return (self.content_hash, self.manifest_hash) == (self.expected_content_hash, self.expected_manifest_hash)


class ArtifactRuntime:
    def __init__(self, log: EventLog, store: DirectoryArtifactStore, model: LoadedModel | Callable[[], LoadedModel],
                 state_path: Path, settings: RuntimeSettings = RuntimeSettings(),
                 clock: Callable[[], int] = wall_clock_ms, new_id: Callable[[], str] = random_id,
                 source_app: str = "mos-model-runtime"):
        self.log = log
        self.store = store
        self._model = model
        self.state_path = Path(state_path)
        self.settings = settings
        self._clock, self._new_id, self._source_app = clock, new_id, source_app

    @property
    def model(self) -> LoadedModel:
        if not isinstance(self._model, LoadedModel):
            self._model = self._model()
        return self._model

    def state(self) -> RuntimeState:
        return load_state(self.state_path)

    # --- the consumer loop -----------------------------------------------------------------

    def catch_up(self, progress: Progress | None = None) -> RuntimeReport:
        """Read every event since the checkpoint, then build / drop what changed."""
        report = RuntimeReport()
        with self._exclusive():
            state = load_state(self.state_path)
            retry: dict[Group, Event] = {}
            while True:
                state, triggers = self._fold_to_head(state, report)
                triggers = {**retry, **triggers}
                if not triggers:
                    break
                retry = {}
                for group in sorted(triggers):
                    state, done = self._reconcile(state, group, triggers[group], report, progress)
                    if not done:
                        retry[group] = triggers[group]
                save_state(self.state_path, state)
            save_state(self.state_path, state)
            self._collect_garbage(state)
        return report

    def _fold_to_head(self, state: RuntimeState, report: RuntimeReport) -> tuple[RuntimeState, dict[Group, Event]]:
        """Fold every event up to the head; returns the groups whose promoted set changed,
        each with the last event that changed it (the cause recorded on what follows)."""
        triggers: dict[Group, Event] = {}
        while batch := list(self.log.read(state.checkpoint, limit=self.settings.read_batch)):
            promotions, registry = state.promotions, state.registry
            for recorded in batch:
                promotions, groups = evolve_promotions(promotions, recorded.event)
                registry = evolve_registry(registry, recorded.event)
                for group in groups:
                    triggers[group] = recorded.event
            state = RuntimeState(batch[-1].offset + 1, promotions, registry)
            report.events += len(batch)
        return state, triggers

    def _reconcile(self, state: RuntimeState, group: Group, trigger: Event, report: RuntimeReport,
                   progress: Progress | None) -> tuple[RuntimeState, bool]:
        """Returns the new state and False if the append lost a race (retry after re-reading)."""
        cube_id, tier = group
        ctx = CommandContext(actor="model-runtime", source_app=self._source_app,
                             correlation_id=trigger.provenance.correlation_id, causation_id=trigger.event_id,
                             clock=self._clock, new_id=self._new_id)
        live = state.registry.live.get(group)
        members = state.promotions.promoted_set(cube_id, tier)
        if not members:
            events = dropped(state.registry, ctx, group, reason="no promoted memories left")
            return self._record(state, events, report, remove=live.artifact_id if live else None)
        texts = [self._memory_text(memory_id, version) for memory_id, version in members]
        texts.sort(key=lambda t: (t.created_at, t.source.memory_id))
        sources = tuple(t.source for t in texts)
        if live is not None and live.source_event_ids == tuple(s.content_event_id for s in sources) \
                and live.model_fingerprint == self.model.fingerprint:
            return state, True
        manifest = self.build(cube_id, tier, sources, [t.text for t in texts], progress)
        events = built(state.registry, ctx, BuiltArtifact(
            manifest.artifact_id, cube_id, tier, manifest.kind, manifest.model_id, manifest.model_fingerprint,
            manifest.manifest_hash, manifest.content_hash, manifest.token_count, manifest.source_memory_ids,
            manifest.source_event_ids))
        old = live.artifact_id if live is not None and live.artifact_id != manifest.artifact_id else None
        return self._record(state, events, report, remove=old)

    def _record(self, state: RuntimeState, events: list[Event], report: RuntimeReport,
                remove: str | None) -> tuple[RuntimeState, bool]:
        if not events:
            return state, True
        try:
            self.log.append(events)
        except Conflict:
            # Another runtime appended to this cube's artifact stream first; the next read
            # folds its events and this group is reconciled again from there.
            log.info("artifact stream of cube %s moved; re-reading", events[0].cube_id)
            return state, False
        registry = state.registry
        for event in events:
            registry = evolve_registry(registry, event)  # idempotent: re-folding it later is a no-op
            (report.built if event.type_name == "ArtifactBuilt" else report.dropped).append(event.artifact_id)
        if remove is not None:
            self.store.remove(remove)
        return replace(state, registry=registry), True

    # --- building ---------------------------------------------------------------------------

    def build(self, cube_id: str, tier: str, sources: tuple[SourceMemory, ...], texts: Sequence[str],
              progress: Progress | None = None, store: DirectoryArtifactStore | None = None) -> ArtifactManifest:
        """Build (or find, if already built) the artifact of these sources; returns its manifest."""
        store = store or self.store
        loaded = self.model
        kind = TIER_KINDS[tier]
        settings = (self.settings.kv if tier == "activation" else self.settings.lora).as_dict()
        artifact_id = artifact_id_for(kind, cube_id, loaded.fingerprint, sources, settings)
        if store.exists(artifact_id):
            try:
                return store.open(artifact_id)[0]
            except CorruptArtifact as exc:
                log.warning("rebuilding %s: %s", artifact_id, exc)
                store.remove(artifact_id)
        block = render_memory_block(texts)
        manifest = ArtifactManifest(artifact_id, kind, tier, cube_id, loaded.model_id, loaded.fingerprint, 0,
                                    sha256_text(block), sources, settings)

        def report(done: int, total: int) -> None:
            if progress:
                progress(f"{'prefill' if tier == 'activation' else 'train'} {artifact_id}", done, total)

        if tier == "activation":
            write = lambda staging: build_kv_cache(loaded, block, staging, self.settings.kv, report)  # noqa: E731
        else:
            write = lambda staging: train_adapter(loaded, texts, staging, self.settings.lora, report).tokens  # noqa: E731
        written = store.write(manifest, write)
        log.info("built %s for cube %s from %d memories (%d tokens)", artifact_id, cube_id, len(sources),
                 written.token_count)
        return written

    def _memory_text(self, memory_id: str, version: int) -> MemoryText:
        """The memory's text as of `version` (never later: replay must see what the build saw)."""
        events = [e for e in self.log.read_stream(memory_key(memory_id)) if e.version <= version]
        content = [e for e in events if isinstance(e, MemoryContent)]
        if not content:
            raise NotFound(f"memory {memory_id} has no content at version {version}")
        state = memories.rebuild(events)
        last = content[-1]
        return MemoryText(SourceMemory(memory_id, last.version, last.event_id), state.text, state.created_at)

    # --- replay -----------------------------------------------------------------------------

    def rebuild(self, into: DirectoryArtifactStore | None = None, progress: Progress | None = None
                ) -> list[RebuiltArtifact]:
        """Rebuild every live artifact from the log alone (into `into`, or in place after
        removing the current files) and compare its hashes with the ArtifactBuilt event."""
        state = RuntimeState.initial()
        state, _ = self._fold_to_head(state, RuntimeReport())
        results = []
        for (cube_id, tier), live in sorted(state.registry.live.items()):
            texts = [self._content_event_text(m, e) for m, e in zip(live.source_memory_ids, live.source_event_ids)]
            target = into or self.store
            if into is None:
                target.remove(live.artifact_id)
            manifest = self.build(cube_id, tier, tuple(t.source for t in texts), [t.text for t in texts],
                                  progress, store=target)
            results.append(RebuiltArtifact(live.artifact_id, live.content_hash, manifest.content_hash,
                                           live.manifest_hash, manifest.manifest_hash))
        return results

    def _content_event_text(self, memory_id: str, event_id: str) -> MemoryText:
        for event in self.log.read_stream(memory_key(memory_id)):
            if event.event_id == event_id:
                return self._memory_text(memory_id, event.version)
        raise NotFound(f"content event {event_id} of memory {memory_id} is not in the log")

    # --- housekeeping ----------------------------------------------------------------------

    def _collect_garbage(self, state: RuntimeState) -> None:
        """Delete artifacts no live entry points at (dropped ones whose files survived a crash)."""
        self.store.clear_staging()
        live = {a.artifact_id for a in state.registry.live.values()}
        for artifact_id in self.store.ids():
            if artifact_id not in live:
                self.store.remove(artifact_id)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One runtime at a time per state file (CLI, background task and worker may overlap)."""
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.state_path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
