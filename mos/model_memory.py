"""Activation and parametric memory inside the SDK: the embedded model runtime and chat.

`ModelMemory` owns what is expensive and shared per process: the loaded local model, its
adapters, the decoded KV caches (kept by artifact id), and the `ArtifactRuntime` that builds
artifacts from the log. Models load on first use, so an app that never chats never pays.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from mos.domain.artifacts import LiveArtifact, rebuild_registry
from mos.domain.errors import InvalidInput
from mos.domain.events import artifacts_key
from mos.types import Hit
from streams.ports import EventLog

NO_MODEL = ("no language model configured: pass MOS(model=...) or set MOS_MODEL to a local Hugging Face "
            "causal-LM directory (or MOS_CHAT_URL to an OpenAI-compatible endpoint for plaintext chat)")
SYSTEM_PROMPT = "You are a helpful assistant. Answer using these memories when they are relevant:\n"


@dataclass(frozen=True)
class ChatResponse:
    """What `MOS.chat` answered and exactly what it used to answer."""

    answer: str
    model: str
    memories: tuple[Hit, ...]
    kv_cache: str | None = None          # artifact id of the injected KV cache, if any
    adapter: str | None = None           # artifact id of the active LoRA adapter, if any
    cached_memory_ids: tuple[str, ...] = ()  # memories the KV cache brought in
    prompt_tokens: int | None = None
    cached_tokens: int = 0

    @property
    def artifacts(self) -> tuple[str, ...]:
        return tuple(a for a in (self.kv_cache, self.adapter) if a)


def live_artifacts(log: EventLog, cube_ids: Sequence[str]) -> list[LiveArtifact]:
    """Live artifacts of the cubes, from their `artifacts:<cube_id>` streams in the log."""
    return [a for cube_id in cube_ids for a in rebuild_registry(log.read_stream(artifacts_key(cube_id))).of_cube(cube_id)]


class ModelMemory:
    def __init__(self, log: EventLog, artifacts_dir: Path, model: Any = None, chat_client: Any = None,
                 runtime_settings: Any = None, clock: Callable[[], int] | None = None):
        self.log = log
        self.artifacts_dir = Path(artifacts_dir)
        self._model_source = model
        self._chat_client = chat_client
        self._runtime_settings = runtime_settings
        self._clock = clock
        self._loaded = None
        self._generator = None
        self._runtime = None
        self._prefixes: dict[str, Any] = {}
        self._lock = threading.RLock()

    @property
    def has_local_model(self) -> bool:
        return self._model_source is not None

    def loaded(self):
        from model_runtime.models import LoadedModel, load_causal_lm

        with self._lock:
            if self._loaded is None:
                if self._model_source is None:
                    raise InvalidInput(NO_MODEL)
                source = self._model_source
                self._loaded = source if isinstance(source, LoadedModel) else load_causal_lm(source)
            return self._loaded

    def runtime(self):
        from model_runtime.artifact_store import DirectoryArtifactStore
        from model_runtime.runtime import ArtifactRuntime, RuntimeSettings

        with self._lock:
            if self._runtime is None:
                extra = {"clock": self._clock} if self._clock else {}
                self._runtime = ArtifactRuntime(self.log, DirectoryArtifactStore(self.artifacts_dir), self.loaded,
                                                self.artifacts_dir / "runtime-state.json",
                                                self._runtime_settings or RuntimeSettings(), **extra)
            return self._runtime

    def generator(self):
        from model_runtime.generation import LocalGenerator

        with self._lock:
            if self._generator is None:
                self._generator = LocalGenerator(self.loaded())
            return self._generator

    # --- chat -------------------------------------------------------------------------------

    def chat(self, query: str, hits: Sequence[Hit], cube_ids: Sequence[str], max_new_tokens: int,
             use_artifacts: bool) -> ChatResponse:
        if self._model_source is None:
            if self._chat_client is None:
                raise InvalidInput(NO_MODEL)
            return self._chat_remote(query, hits, max_new_tokens)
        from model_runtime.context import render_question

        artifacts = live_artifacts(self.log, cube_ids) if use_artifacts else []
        kv = _preferred(artifacts, "activation", hits, cube_ids)
        lora = _preferred(artifacts, "parametric", hits, cube_ids)
        generator = self.generator()
        with self._lock:
            prefix = self._prefix(kv) if kv else None
            if lora is not None:
                self._attach_adapter(lora)
            cached = set(kv.source_memory_ids) if kv else set()
            text = render_question(query, [h.text for h in hits if h.memory_id not in cached])
            generated = generator.generate(text, prefix=prefix, adapter_id=lora.artifact_id if lora else None,
                                           max_new_tokens=max_new_tokens)
        return ChatResponse(generated.text.strip(), generator.model_id, tuple(hits),
                            kv.artifact_id if kv else None, lora.artifact_id if lora else None,
                            tuple(kv.source_memory_ids) if kv else (), generated.prompt_tokens,
                            generated.cached_tokens)

    def _prefix(self, artifact: LiveArtifact):
        from model_runtime.artifact_store import DirectoryArtifactStore
        from model_runtime.kv_cache.loader import load_kv_cache

        if artifact.artifact_id not in self._prefixes:
            manifest, path = DirectoryArtifactStore(self.artifacts_dir).open(artifact.artifact_id)
            self._prefixes = {artifact.artifact_id: load_kv_cache(manifest, path, self.loaded())}  # keep one
        return self._prefixes[artifact.artifact_id]

    def _attach_adapter(self, artifact: LiveArtifact) -> None:
        from model_runtime.artifact_store import DirectoryArtifactStore
        from model_runtime.kv_cache.loader import require_same_model

        adapters = self.generator().adapters
        if artifact.artifact_id not in adapters.loaded_ids():
            manifest, path = DirectoryArtifactStore(self.artifacts_dir).open(artifact.artifact_id)
            require_same_model(manifest, self.loaded())
            adapters.load(artifact.artifact_id, path)

    def _chat_remote(self, query: str, hits: Sequence[Hit], max_new_tokens: int) -> ChatResponse:
        from mos.llm.port import ChatMessage

        system = SYSTEM_PROMPT + "".join(f"- {h.text}\n" for h in hits)
        completion = self._chat_client.complete([ChatMessage("system", system), ChatMessage("user", query)],
                                                max_tokens=max_new_tokens)
        return ChatResponse(completion.text.strip(), completion.model or self._chat_client.model_id, tuple(hits),
                            prompt_tokens=completion.prompt_tokens)


def _preferred(artifacts: Sequence[LiveArtifact], tier: str, hits: Sequence[Hit],
               cube_ids: Sequence[str]) -> LiveArtifact | None:
    """One artifact per tier per prompt: the cube with the most retrieved hits wins, then the
    cube listed first (a prompt has one prefix, and adapters of two cubes do not compose)."""
    candidates = [a for a in artifacts if a.tier == tier]
    if not candidates:
        return None
    hits_per_cube: Mapping[str, int] = {c: sum(h.cube_id == c for h in hits) for c in cube_ids}
    order = {c: i for i, c in enumerate(cube_ids)}
    return min(candidates, key=lambda a: (-hits_per_cube.get(a.cube_id, 0), order.get(a.cube_id, 0)))
