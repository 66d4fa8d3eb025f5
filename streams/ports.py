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
    - Offsets are >= 0 and strictly increasing in append order, never reused; stored events
      are never changed. They need not be contiguous (Kafka's transaction markers take
      offsets), so `head()` is "greater than every stored offset", not a count.
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
        """An offset greater than every stored one: reading from it returns nothing yet."""
        ...

    def subscribe(self, from_offset: int = 0, poll_interval: float = 0.1,
                  stop_when_idle: bool = False) -> Iterator[RecordedEvent]:
        """Follow the log from `from_offset`, yielding new events as they are appended."""
        ...

    def close(self) -> None:
        ...
