"""What every command needs besides its arguments: who, from which app, when, and new ids.

The clock and the id generator are injected, so the domain stays deterministic in tests and
in the scheduler's simulations.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Callable

from mos.domain.events import Provenance


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def random_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class CommandContext:
    actor: str
    source_app: str = "mos"
    correlation_id: str | None = None
    causation_id: str | None = None
    clock: Callable[[], int] = field(default=wall_clock_ms, compare=False)
    new_id: Callable[[], str] = field(default=random_id, compare=False)

    def envelope(self, stream_key: str, version: int) -> dict:
        """Envelope fields for one new event of `stream_key` at `version`."""
        return {
            "event_id": self.new_id(),
            "stream_key": stream_key,
            "version": version,
            "occurred_at": self.clock(),
            "provenance": Provenance(
                actor=self.actor,
                source_app=self.source_app,
                causation_id=self.causation_id,
                correlation_id=self.correlation_id,
            ),
        }

    def caused_by(self, event_id: str) -> "CommandContext":
        return replace(self, causation_id=event_id)
