"""The model runtime's state on disk: its log checkpoint and the two folds it maintains.

The state is a cache of a pure fold of the log (delete it and the runtime re-reads from
offset 0); it is saved atomically (write to a temp file, fsync, rename) after each run.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from mos.domain.artifacts import ArtifactRegistry, LiveArtifact, PromotionState, TrackedMemory


@dataclass(frozen=True)
class RuntimeState:
    checkpoint: int
    promotions: PromotionState
    registry: ArtifactRegistry

    @classmethod
    def initial(cls) -> "RuntimeState":
        return cls(0, PromotionState.empty(), ArtifactRegistry.empty())


def save_state(path: Path, state: RuntimeState) -> None:
    body = {
        "checkpoint": state.checkpoint,
        "memories": {mid: {**asdict(m), "tiers": sorted(m.tiers)} for mid, m in sorted(state.promotions.memories.items())},
        "live": [asdict(a) for _, a in sorted(state.registry.live.items())],
        "stream_versions": dict(sorted(state.registry.stream_versions.items())),
    }
    temp = path.with_suffix(".tmp")
    with open(temp, "w") as handle:
        json.dump(body, handle, indent=1)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def load_state(path: Path) -> RuntimeState:
    if not path.exists():
        return RuntimeState.initial()
    body = json.loads(path.read_text())
    memories = {mid: TrackedMemory(m["cube_id"], m["version"], m["active"], frozenset(m["tiers"]))
                for mid, m in body["memories"].items()}
    live = {}
    for raw in body["live"]:
        artifact = LiveArtifact(**{**raw, "source_memory_ids": tuple(raw["source_memory_ids"]),
                                   "source_event_ids": tuple(raw["source_event_ids"])})
        live[(artifact.cube_id, artifact.tier)] = artifact
    return RuntimeState(body["checkpoint"], PromotionState(memories), ArtifactRegistry(live, body["stream_versions"]))
