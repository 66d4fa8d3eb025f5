"""Applies a pure projection to a read model, from the read model's own checkpoint.

Exactly-once effect on an at-least-once log: each batch's writes and the checkpoint that
follows them are committed by the read model in one transaction (`apply(writes,
next_offset)`). A crash before the commit loses the whole batch (it is re-read from the old
checkpoint); a crash after it loses nothing. No event is applied twice or skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

from mos.domain.events import Event
from projections.checkpoints import CheckpointMoved, require_checkpoint  # noqa: F401 (re-exported)
from streams.ports import EventLog

log = logging.getLogger(__name__)


class ProjectionTarget(Protocol):
    def checkpoint(self) -> int: ...

    def apply(self, writes: Sequence[Any], next_offset: int, expected_checkpoint: int | None = None) -> None:
        """Store writes and the new checkpoint atomically; with `expected_checkpoint`, raise
        CheckpointMoved (storing nothing) if the stored checkpoint differs from it."""

    def reset(self) -> None: ...


ProgressCallback = Callable[[int, int], None]  # (applied_up_to_offset, head)


@dataclass
class ProjectionRunner:
    name: str
    log: EventLog
    project: Callable[[Event], list]
    target: ProjectionTarget
    batch_size: int = 500

    def lag(self) -> int:
        return self.log.head() - self.target.checkpoint()

    def catch_up(self, progress: ProgressCallback | None = None, max_events: int | None = None) -> int:
        """Apply every event appended since the checkpoint; returns how many were applied."""
        applied = 0
        head = self.log.head()
        while max_events is None or applied < max_events:
            start = self.target.checkpoint()
            limit = self.batch_size if max_events is None else min(self.batch_size, max_events - applied)
            batch = list(self.log.read(start, limit=limit))
            if not batch:
                break
            writes = [write for recorded in batch for write in self.project(recorded.event)]
            try:
                self.target.apply(writes, batch[-1].offset + 1, expected_checkpoint=start)
            except CheckpointMoved:
                continue  # another process applied (part of) it: re-read the checkpoint
            applied += len(batch)
            log.debug("projection %s applied offsets %d..%d", self.name, start, batch[-1].offset)
            if progress:
                progress(batch[-1].offset + 1, max(head, batch[-1].offset + 1))
        return applied

    def rebuild(self, progress: ProgressCallback | None = None) -> int:
        """Throw the read model away and replay the whole log into it."""
        self.target.reset()
        return self.catch_up(progress)


def holds_the_log(runners: Sequence[ProjectionRunner], log: EventLog) -> bool:
    """Whether every read model already holds the whole log: what `catch_up_all` looks at
    first (any event at or after the lowest checkpoint?), read-only, so a caller can skip the
    lock it takes around `catch_up_all`. An event committed before this call is seen here."""
    start = min((runner.target.checkpoint() for runner in runners), default=0)
    return next(iter(log.read(start, limit=1)), None) is None


def catch_up_all(runners: Sequence[ProjectionRunner], log: EventLog,
                 progress: ProgressCallback | None = None, batch_size: int | None = None) -> int:
    """Bring several read models of one log up to its head, decoding each event once.

    Each runner still applies only events at or after its own checkpoint, so read models that
    lag by different amounts (say, one was just reset) are each advanced exactly once.
    A replay passes a larger `batch_size`: fewer, bigger transactions.
    """
    applied = 0
    batch_size = batch_size or min(runner.batch_size for runner in runners)
    head = log.head() if progress else 0
    while True:
        checkpoints = [runner.target.checkpoint() for runner in runners]
        start = min(checkpoints, default=0)
        batch = list(log.read(start, limit=batch_size))
        if not batch:
            return applied
        for runner, checkpoint in zip(runners, checkpoints):
            pending = [recorded for recorded in batch if recorded.offset >= checkpoint]
            if pending:
                writes = [write for recorded in pending for write in runner.project(recorded.event)]
                try:
                    runner.target.apply(writes, pending[-1].offset + 1, expected_checkpoint=checkpoint)
                except CheckpointMoved:
                    continue  # another process got there first; the next round re-reads
        applied += len(batch)
        if progress:
            progress(batch[-1].offset + 1, max(head, batch[-1].offset + 1))
