"""The MemScheduler loop: fold the log, decide, append each decision as events.

Each decision is one atomic append made through the domain's own commands (so the
lifecycle rules hold for the scheduler as for any user), with the policy's reason and the
causing access event as provenance. A crash between decisions loses nothing: the next run
re-folds the log and decides again from what was actually recorded. A decision that lost a
race (`Conflict`) or no longer applies (`InvalidTransition`) is skipped and re-evaluated
on the next tick. Given the same log, config, clock and id generator, runs are identical.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import Callable

from mos.domain import memory as memories
from mos.domain.commands import CommandContext, random_id, wall_clock_ms
from mos.domain.errors import Conflict, InvalidTransition
from mos.domain.events import Event, memory_key
from mos.domain.validation import canonical_metadata_json
from mos.scheduler.config import SchedulerConfig
from mos.scheduler.heat import SchedulerState
from mos.scheduler.policies import Decision, decide
from streams.ports import EventLog

log = logging.getLogger(__name__)
ACTOR = "mos-scheduler"


@dataclass
class SchedulerReport:
    now: int
    events_read: int = 0
    decided: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    decisions: list[Decision] = field(default_factory=list)


class MemScheduler:
    def __init__(self, log: EventLog, config: SchedulerConfig | None = None,
                 clock: Callable[[], int] = wall_clock_ms, new_id: Callable[[], str] = random_id,
                 source_app: str = "mos-scheduler", read_batch: int = 5000):
        self.log = log
        self.config = config or SchedulerConfig()
        self.clock = clock
        self.new_id = new_id
        self.source_app = source_app
        self.read_batch = read_batch
        self.state = SchedulerState(self.config)
        self._lock = threading.Lock()

    def catch_up(self) -> int:
        """Fold every event since the last fold; returns how many were read."""
        read = 0
        while batch := list(self.log.read(self.state.offset, limit=self.read_batch)):
            for recorded in batch:
                self.state.apply(recorded.offset, recorded.event)
            read += len(batch)
        return read

    def run_once(self, now: int | None = None) -> SchedulerReport:
        with self._lock:
            now = self.clock() if now is None else now
            report = SchedulerReport(now, events_read=self.catch_up())
            decisions = decide(self.state, now)
            self.state.unchecked.clear()  # merge candidates were compared; new changes re-enter
            correlation = self.new_id()
            for decision in decisions:
                try:
                    self.log.append(self._events(decision, now, correlation))
                except (Conflict, InvalidTransition) as exc:
                    log.info("scheduler skipped %s of %s: %s", decision.kind, decision.memory_ids, exc)
                    report.skipped += 1
                    continue
                report.decided[decision.kind] = report.decided.get(decision.kind, 0) + 1
                report.decisions.append(decision)
            report.events_read += self.catch_up()
            return report

    def _events(self, decision: Decision, now: int, correlation: str) -> list[Event]:
        ctx = CommandContext(actor=ACTOR, source_app=self.source_app, correlation_id=correlation,
                             causation_id=decision.causation_id, clock=lambda: now, new_id=self.new_id)
        reason = json.dumps(decision.reason, sort_keys=True)
        current = [memories.rebuild(self.log.read_stream(memory_key(m))) for m in decision.memory_ids]
        if decision.kind == "promote":
            return [memories.promote(current[0], ctx, decision.tier, reason)]
        if decision.kind == "demote":
            return [memories.demote(current[0], ctx, decision.tier, reason)]
        if decision.kind == "archive":
            return [memories.archive(current[0], ctx, reason)]
        keep = self.state.memories[decision.merge_text_from]
        content = memories.MemoryContentValues(
            keep.text, tuple(dict.fromkeys(t for m in current for t in m.tags)),
            canonical_metadata_json({**json.loads(keep.metadata_json), "merged_from": list(decision.memory_ids)}),
            tuple(float(v) for v in keep.embedding), keep.embedding_model)
        return memories.merge(current, ctx, self.new_id(), content, reason)
