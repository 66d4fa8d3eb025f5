"""The SDK's activation and parametric memory methods (a mixin of `mos.sdk.MOS`).

Kept apart from the core SDK so each file stays readable; they use the same plumbing
(`_memory`, `_commit`, `_visible`) and the `ModelMemory` the MOS owns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from mos.domain import memory as memories
from mos.domain.errors import InvalidInput
from mos.domain.validation import validate_reason
from mos.model_memory import ChatResponse, live_artifacts


class TierMethods:
    def promote(self, memory_ids: Sequence[str], user_id: str, target: str = "activation",
                reason: str | None = None) -> None:
        """Promote memories to `activation` (KV cache) or `parametric` (LoRA adapter) memory, in
        one atomic append. The artifacts themselves are built by the model runtime
        (`build_artifacts`, `mos runtime run`, or the Faust worker on the Kafka backend)."""
        self._tier_change(memory_ids, user_id, target, reason, memories.promote)

    def demote(self, memory_ids: Sequence[str], user_id: str, target: str = "activation",
               reason: str | None = None) -> None:
        """Take memories out of a tier; the runtime then rebuilds or drops the cube's artifact."""
        self._tier_change(memory_ids, user_id, target, reason, memories.demote)

    def _tier_change(self, memory_ids, user_id, target, reason, decide) -> None:
        if isinstance(memory_ids, str) or not isinstance(memory_ids, Sequence) or not memory_ids:
            raise InvalidInput("memory_ids must be a non-empty list of memory ids")
        if len(set(memory_ids)) != len(memory_ids):
            raise InvalidInput("memory_ids must not repeat an id")
        validate_reason(reason)
        with self._lock:
            ctx = self._ctx(user_id)
            events = [decide(self._memory(m, user_id, "writer"), ctx, target, reason) for m in memory_ids]
            self._commit(events)

    def build_artifacts(self, progress: Callable[[str, int, int], None] | None = None):
        """Run the model runtime over the log up to its head (the embedded runner): build KV
        caches / adapters for changed promoted sets, drop stale ones. Returns a RuntimeReport."""
        return self._models.runtime().catch_up(progress)

    def rebuild_artifacts(self, into: str | Path | None = None, progress=None):
        """Rebuild every live artifact from the log and check it is byte-identical to what the
        ArtifactBuilt events recorded; returns one `RebuiltArtifact` per artifact."""
        from model_runtime.artifact_store import DirectoryArtifactStore

        store = DirectoryArtifactStore(into) if into is not None else None
        return self._models.runtime().rebuild(store, progress)

    def artifacts(self, user_id: str, cube_ids: Sequence[str] | None = None):
        """Live artifacts (`LiveArtifact`: id, tier, model, source memories and events) of the
        caller's cubes."""
        where = self._visible(user_id, cube_ids, None)
        return live_artifacts(self.log, where.cube_ids)

    def chat(self, query: str, user_id: str, cube_ids: Sequence[str] | None = None, top_k: int = 5,
             max_new_tokens: int = 64, use_artifacts: bool = True) -> ChatResponse:
        """Answer `query` with the caller's memories: retrieved plaintext memories go in the
        prompt, and on a local model the best cube's KV cache is injected and its LoRA adapter
        switched on. The response lists the memories and artifacts it used."""
        hits = self.search(query, user_id, cube_ids, top_k)
        cubes_used = self._visible(user_id, cube_ids, None).cube_ids
        return self._models.chat(query, hits, cubes_used, max_new_tokens, use_artifacts)

