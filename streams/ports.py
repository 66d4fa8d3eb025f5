"""The EventLog port: the one append-only source of truth every read model is built from."""

from __future__ import annotations

from typing import Iterator, Protocol, Sequence

from mos.domain.events import Event, RecordedEvent


class EventLog(Protocol):
    """Append-only, totally ordered log of events with per-stream optimistic concurrency.

    Guarantees every adapter must keep (checked by tests/contract/test_event_log_contract.py):
    - `append` is atomic: all events of the call are stored, or none is.
    - For each stream_key in a call, versions are consecutive and the first one is exactly
      the stream's current version + 1; otherwise `Conflict` is raised and nothing is stored.
    - Offsets are 0-based, gap-free and never reused; stored events are never changed.
    """

    def append(self, events: Sequence[Event]) -> list[RecordedEvent]:
        ...

    def read(self, from_offset: int = 0, limit: int | None = None) -> Iterator[RecordedEvent]:
        """Events with offset >= from_offset in offset order (at most `limit`)."""
        ...

    def read_stream(self, stream_key: str) -> list[Event]:
        """Every event of one stream, oldest first."""
        ...

    def head(self) -> int:
        """The offset the next appended event will get (= number of events stored)."""
        ...

    def subscribe(self, from_offset: int = 0, poll_interval: float = 0.1,
                  stop_when_idle: bool = False) -> Iterator[RecordedEvent]:
        """Follow the log from `from_offset`, yielding new events as they are appended."""
        ...

    def close(self) -> None:
        ...
