"""Audit: the full lineage of a memory, read from the log alone.

Starting from one memory, follow every link the events record — the memories it was
derived from (a merge's sources), the memory it was merged into, and the KV caches and
adapters built from any of them — and list every step: which event, who, from which app,
when, why, and what caused it. `render_svg` draws the same lineage as a picture, with no
external tool (graphviz is not needed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from typing import Sequence

from mos.domain.commands import short_id
from mos.domain.events import (
    ArtifactBuilt,
    ArtifactDropped,
    Event,
    MemoriesMerged,
    MemoryAccessed,
    MemoryContent,
    MemoryCreated,
    artifacts_key,
    memory_key,
)
from streams.ports import EventLog

MAX_MEMORIES = 200


@dataclass(frozen=True)
class AuditStep:
    occurred_at: int
    subject: str  # memory or artifact id
    event_type: str
    actor: str
    source_app: str
    event_id: str
    causation_id: str | None
    detail: str

    def line(self) -> str:
        when = datetime.fromtimestamp(self.occurred_at / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        return (f"{when}  {self.event_type:<15} {short_id(self.subject, 13):<13} by {self.actor} via {self.source_app}"
                f"  [{short_id(self.event_id)}]" + (f"  {self.detail}" if self.detail else ""))


@dataclass
class Lineage:
    root: str
    memories: dict[str, dict] = field(default_factory=dict)  # id -> {text, state, cube_id}
    artifacts: dict[str, dict] = field(default_factory=dict)  # id -> {tier, kind, live}
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, label)
    steps: list[AuditStep] = field(default_factory=list)


def _detail(event: Event) -> str:
    if isinstance(event, MemoryContent):
        return f"text: {event.text[:80]!r}"
    if isinstance(event, MemoriesMerged):
        return f"merged into {event.target_memory_id[:13]}" + _why(event)
    if isinstance(event, ArtifactBuilt):
        return f"{event.kind} from {len(event.source_memory_ids)} memories, {event.token_count} tokens, model {event.model_id}"
    if isinstance(event, MemoryAccessed):
        return f"accessed {event.count}x by {event.accessed_by}"
    return f"{getattr(event, 'target', None) or ''} {_why(event)}".strip()


def _why(event: Event) -> str:
    raw = getattr(event, "reason", None)
    if not raw:
        return ""
    try:
        reason = json.loads(raw)
        return f"reason: {reason['policy']}" if isinstance(reason, dict) and "policy" in reason else f"reason: {raw}"
    except ValueError:
        return f"reason: {raw}"


def _step(subject: str, event: Event) -> AuditStep:
    p = event.provenance
    return AuditStep(event.occurred_at, subject, event.type_name, p.actor, p.source_app, event.event_id,
                     p.causation_id, _detail(event).strip())


def lineage(log: EventLog, memory_id: str, include_accesses: bool = False) -> Lineage:
    result = Lineage(memory_id)
    pending, seen_cubes = [memory_id], set()
    while pending and len(result.memories) < MAX_MEMORIES:
        current = pending.pop()
        if current in result.memories:
            continue
        events = log.read_stream(memory_key(current))
        if not events:
            continue
        state, text = "active", ""
        for event in events:
            result.steps.append(_step(current, event))
            if isinstance(event, MemoryContent):
                text = event.text
            if isinstance(event, MemoryCreated):
                for source in event.derived_from:
                    result.edges.append((source, current, "merged into"))
                    pending.append(source)
            if isinstance(event, MemoriesMerged):
                state = "merged"
                pending.append(event.target_memory_id)
            state = {"MemoryArchived": "archived", "MemoryRestored": "active"}.get(event.type_name, state)
        result.memories[current] = {"text": text, "state": state, "cube_id": events[0].cube_id}
        seen_cubes.add(events[0].cube_id)
        if include_accesses:
            result.steps += [_step(current, e) for e in log.read_stream(f"access:{current}")]
    for cube_id in sorted(seen_cubes):
        for event in log.read_stream(artifacts_key(cube_id)):
            if isinstance(event, ArtifactBuilt) and set(event.source_memory_ids) & set(result.memories):
                result.artifacts[event.artifact_id] = {"tier": event.tier, "kind": event.kind, "live": True}
                result.steps.append(_step(event.artifact_id, event))
                result.edges += [(m, event.artifact_id, f"in {event.tier}")
                                 for m in event.source_memory_ids if m in result.memories]
            elif isinstance(event, ArtifactDropped) and event.artifact_id in result.artifacts:
                result.artifacts[event.artifact_id]["live"] = False
                result.steps.append(_step(event.artifact_id, event))
    result.edges = sorted(set(result.edges))
    result.steps.sort(key=lambda s: (s.occurred_at, s.subject, s.event_type))
    return result


def render_svg(found: Lineage) -> str:
    """Memories in columns by merge generation (sources left of targets), artifacts last."""
    depth: dict[str, int] = {m: 0 for m in found.memories}
    for _ in range(len(found.memories)):
        for source, target, label in found.edges:
            if label == "merged into" and source in depth and target in depth:
                depth[target] = max(depth[target], depth[source] + 1)
    columns: dict[int, list[str]] = {}
    for memory in sorted(found.memories):
        columns.setdefault(depth[memory], []).append(memory)
    last = max(columns, default=0) + 1
    columns[last] = sorted(found.artifacts)
    box_w, box_h, gap_x, gap_y = 230, 54, 90, 24
    position = {node: (20 + c * (box_w + gap_x), 20 + r * (box_h + gap_y))
                for c, nodes in columns.items() for r, node in enumerate(nodes)}
    width = 40 + (last + 1) * (box_w + gap_x)
    height = 40 + max((len(n) for n in columns.values()), default=1) * (box_h + gap_y)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             'font-size="11"><defs><marker id="arrow" markerWidth="8" markerHeight="8" refX="8" refY="4" '
             'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>']
    for source, target, label in found.edges:
        if source in position and target in position:
            (x1, y1), (x2, y2) = position[source], position[target]
            parts.append(f'<line x1="{x1 + box_w}" y1="{y1 + box_h / 2}" x2="{x2}" y2="{y2 + box_h / 2}" '
                         'stroke="#555" marker-end="url(#arrow)"/>')
            parts.append(f'<text x="{(x1 + box_w + x2) / 2}" y="{(y1 + y2) / 2 + box_h / 2 - 4}" '
                         f'text-anchor="middle" fill="#555">{escape(label)}</text>')
    for node, (x, y) in position.items():
        memory = found.memories.get(node)
        if memory is not None:
            fill = {"active": "#e8f4ea", "archived": "#eeeeee", "merged": "#fdf1dc"}.get(memory["state"], "#fff")
            title, subtitle = f"memory {node[:13]} ({memory['state']})", memory["text"][:38]
        else:
            artifact = found.artifacts[node]
            fill = "#e3ecfa" if artifact["live"] else "#f3e3e3"
            title, subtitle = node[:30], f"{artifact['tier']} {artifact['kind']}" + ("" if artifact["live"] else " (dropped)")
        stroke = ' stroke-width="3"' if node == found.root else ""
        parts.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" fill="{fill}" '
                     f'stroke="#333"{stroke}/>')
        parts.append(f'<text x="{x + 8}" y="{y + 20}" font-weight="bold">{escape(title)}</text>')
        parts.append(f'<text x="{x + 8}" y="{y + 40}">{escape(subtitle)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def lines(found: Lineage) -> Sequence[str]:
    return [step.line() for step in found.steps]
