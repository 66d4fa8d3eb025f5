"""`explain`: why a memory is in its current state, told from the log alone.

For the lifecycle state and for each tier it holds, the event that put it there: who (a
user or the scheduler), when, and the recorded reason (a policy's JSON: measured values,
thresholds, the access events behind it). Then the artifacts built from it, and its heat.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

from mos.domain import memory as memories
from mos.domain.commands import short_id
from mos.domain.events import (
    ArtifactBuilt,
    ArtifactDropped,
    Event,
    MemoriesMerged,
    MemoryAccessed,
    MemoryArchived,
    MemoryCreated,
    MemoryDemoted,
    MemoryPromoted,
    MemoryRestored,
)


@dataclass(frozen=True)
class Explanation:
    memory_id: str
    state: str
    tiers: tuple[str, ...]
    lines: tuple[str, ...]
    because: tuple[Event, ...]  # the events that explain the current state and tiers

    def __str__(self) -> str:
        return "\n".join(self.lines)


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _reason(event: Event) -> str:
    raw = getattr(event, "reason", None)
    if not raw:
        return "no reason recorded"
    try:
        reason = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(reason, dict) or "policy" not in reason:
        return raw
    measured = ", ".join(f"{k}={v}" for k, v in reason.get("measured", {}).items())
    thresholds = ", ".join(f"{k}={v}" for k, v in reason.get("thresholds", {}).items())
    text = f"policy {reason['policy']}: {measured}" + (f" (thresholds: {thresholds})" if thresholds else "")
    if reason.get("access_events"):
        text += f"; after access events {', '.join(short_id(e) for e in reason['access_events'])}"
    return text


def _by(event: Event) -> str:
    return f"by {event.provenance.actor} via {event.provenance.source_app} at {_when(event.occurred_at)}"


def explain(memory_events: Sequence[Event], access_events: Sequence[Event],
            artifact_events: Sequence[Event]) -> Explanation:
    memory = memories.rebuild(memory_events)
    lines = [f"memory {memory.memory_id} (cube {memory.cube_id}) is {memory.state.value}"
             + (f", promoted to {', '.join(sorted(memory.tiers))}" if memory.tiers else ", not promoted")]
    because: list[Event] = []
    state_event = next((e for e in reversed(memory_events)
                        if isinstance(e, (MemoryCreated, MemoryArchived, MemoryRestored, MemoriesMerged))), None)
    if isinstance(state_event, MemoriesMerged):
        lines.append(f"- merged into {state_event.target_memory_id} with {', '.join(state_event.source_memory_ids)} "
                     f"{_by(state_event)}: {_reason(state_event)}")
    elif isinstance(state_event, (MemoryArchived, MemoryRestored)):
        verb = "archived" if isinstance(state_event, MemoryArchived) else "restored"
        lines.append(f"- {verb} {_by(state_event)}: {_reason(state_event)}")
    elif state_event is not None:
        lines.append(f"- created {_by(state_event)}")
    if state_event is not None:
        because.append(state_event)
    for tier in ("activation", "parametric"):
        last = next((e for e in reversed(memory_events)
                     if isinstance(e, (MemoryPromoted, MemoryDemoted)) and e.target == tier), None)
        if last is None:
            continue
        verb = "promoted to" if isinstance(last, MemoryPromoted) else "demoted from"
        lines.append(f"- {verb} {tier} {_by(last)}: {_reason(last)}")
        because.append(last)
    live: dict[str, ArtifactBuilt] = {}
    for event in artifact_events:
        if isinstance(event, ArtifactBuilt) and memory.memory_id in event.source_memory_ids:
            live[event.artifact_id] = event
        elif isinstance(event, ArtifactDropped):
            live.pop(event.artifact_id, None)
    for artifact in live.values():
        lines.append(f"- part of live {artifact.tier} artifact {artifact.artifact_id} ({artifact.kind}, "
                     f"{artifact.token_count} tokens, model {artifact.model_id}) built {_by(artifact)}")
    accesses = [e for e in access_events if isinstance(e, MemoryAccessed)]
    if accesses:
        total = sum(e.count for e in accesses)
        lines.append(f"- accessed {total} times in {len(accesses)} access events, last at "
                     f"{_when(accesses[-1].occurred_at)}")
    else:
        lines.append("- never accessed")
    return Explanation(memory.memory_id, memory.state.value, tuple(sorted(memory.tiers)), tuple(lines),
                       tuple(because))
