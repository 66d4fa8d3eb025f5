"""What every command needs besides its arguments: who, from which app, when, and new ids.

The clock and the id generator are injected, so the domain stays deterministic in tests and
in the scheduler's simulations.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Callable

from mos.domain.events import Provenance


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def random_id() -> str:
    """A new id: a UUIDv7 (RFC 9562), i.e. 48 bits of Unix milliseconds, then 74 random bits.

    Time-ordered rather than v4: every store keeps a B-tree on these ids (the log's
    event_id and stream key, the read models' memory id, the key store), and ids that grow
    with time are appended at the right edge of those trees. Random v4 ids land on a random
    leaf each, so past a few hundred thousand memories every batch rewrote pages spread over
    the whole index (an embedded replay of 200k events: 83 s on a v4 log, 58 s on a v7
    one). The millisecond of creation is visible in the id; the events carry `occurred_at`
    in the clear anyway.
    """
    return str(uuid7())


def short_id(identifier: str, length: int = 8) -> str:
    """An id abbreviated for people to read: its last `length` characters. A UUIDv7 starts
    with its creation time, shared by every id made in the same batch or minute; its tail is
    random (as is any part of a v4 id or of the hash-derived artifact ids)."""
    return identifier[-length:]


def uuid7(unix_ms: int | None = None) -> uuid.UUID:
    millis = wall_clock_ms() if unix_ms is None else unix_ms
    value = (millis & (2**48 - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return uuid.UUID(int=value)


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
