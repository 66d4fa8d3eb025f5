"""Access signals: searches and chats that return a memory become MemoryAccessed events.

Accesses are buffered and aggregated per (memory, user) — one event with a `count` — and
flushed in one append, off the caller's thread, when the buffer holds `max_pending`
distinct memories or the oldest pending access is `max_delay_ms` old; or explicitly
(`flush`, `MOS.close`, before the scheduler runs). A busy app thus appends a few events
per second, not one per hit, and no search waits for one. Each memory's accesses live on
their own `access:<id>` stream, so reads never bump the memory's version.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable, Iterable

from mos.domain.commands import CommandContext
from mos.domain.errors import Conflict
from mos.domain.events import MemoryAccessed, access_key
from streams.ports import EventLog

log = logging.getLogger(__name__)


class AccessRecorder:
    """`record` only buffers; appends happen on a flusher thread (`background`, the default)
    or in `flush`. A search must not wait for a log append: on Kafka, under write load, an
    append that another writer fences takes seconds (bench/load.py: search p99 3.1 s, every
    slow search one that happened to flush). A failed flush keeps its accesses for the next."""

    def __init__(self, log: EventLog, clock: Callable[[], int], source_app: str,
                 max_pending: int = 256, max_delay_ms: int = 2000, background: bool = True):
        self.log = log
        self.clock = clock
        self.source_app = source_app
        self.max_pending = max_pending
        self.max_delay_ms = max_delay_ms
        self.background = background
        self._pending: dict[tuple[str, str, str], int] = {}  # (memory, cube, user) -> count
        self._first_at: int | None = None
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()  # guards _pending and _first_at, never held across an append
        self._flushing = threading.Lock()  # one append of accesses at a time (and _versions)
        self._wake = threading.Event()
        self._closed = False
        self._flusher: threading.Thread | None = None

    def record(self, accesses: Iterable[tuple[str, str]], user_id: str) -> None:
        """`accesses`: (memory_id, cube_id) pairs returned to `user_id`."""
        now = self.clock()
        with self._lock:
            for memory_id, cube_id in accesses:
                key = (memory_id, cube_id, user_id)
                self._pending[key] = self._pending.get(key, 0) + 1
            if self._pending and self._first_at is None:
                self._first_at = now
            due = self._due(now)
        if self.background and not self._closed:
            if self._flusher is None:
                self._start_flusher()  # it also flushes an old access when no search follows
            if due:
                self._wake.set()
        elif due:
            self.flush()

    def _due(self, now: int) -> bool:
        return len(self._pending) >= self.max_pending or (
            self._first_at is not None and now - self._first_at >= self.max_delay_ms)

    def pending(self) -> int:
        with self._lock:
            return sum(self._pending.values())

    def flush(self) -> int:
        """Append every pending access (one event per memory and user); returns how many.
        If the append fails, the accesses stay pending (merged with newer ones) and the error
        propagates."""
        with self._flushing:
            with self._lock:
                if not self._pending:
                    return 0
                pending, first_at, self._pending, self._first_at = self._pending, self._first_at, {}, None
            try:
                self._append(pending)
            except BaseException:
                self._keep(pending, first_at)
                raise
            return len(pending)

    def _append(self, pending: dict[tuple[str, str, str], int]) -> None:
        for _ in range(3):
            try:
                self.log.append(self._events(pending))
                return
            except Conflict:
                self._versions.clear()  # another writer recorded accesses too: re-read versions
        raise Conflict("could not record access events after 3 attempts")

    def _keep(self, pending: dict[tuple[str, str, str], int], first_at: int | None) -> None:
        with self._lock:
            for key, count in pending.items():
                self._pending[key] = self._pending.get(key, 0) + count
            if first_at is not None and (self._first_at is None or first_at < self._first_at):
                self._first_at = first_at

    def close(self) -> int:
        """Stop the flusher and append what is left; returns how many were appended."""
        self._closed = True
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            self._wake.set()
            flusher.join()
        return self.flush()

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is None:
                self._flusher = threading.Thread(target=self._flush_when_due, name="mos-access-flusher", daemon=True)
                self._flusher.start()

    def _flush_when_due(self) -> None:
        """Wake on a due record or every `max_delay_ms`; flush what is due. A failure (the log
        unreachable) is logged and retried on the next wake, the accesses kept."""
        while not self._closed:
            self._wake.wait(self.max_delay_ms / 1000)
            self._wake.clear()
            if self._closed:
                return
            with self._lock:
                due = self._due(self.clock())
            if due:
                try:
                    self.flush()
                except Exception as exc:  # noqa: BLE001 — kept pending, retried on the next wake
                    log.warning("recording %d access signals failed, kept for the next flush: %r",
                                self.pending(), exc)

    def _events(self, pending: dict[tuple[str, str, str], int]) -> list[MemoryAccessed]:
        events, next_version = [], {}
        for (memory_id, cube_id, user_id), count in sorted(pending.items()):
            if memory_id not in next_version:
                if memory_id not in self._versions:
                    self._versions[memory_id] = len(self.log.read_stream(access_key(memory_id)))
                next_version[memory_id] = self._versions[memory_id]
            next_version[memory_id] += 1
            ctx = CommandContext(actor=user_id, source_app=self.source_app, clock=self.clock)
            events.append(MemoryAccessed(**ctx.envelope(access_key(memory_id), next_version[memory_id]),
                                         memory_id=memory_id, cube_id=cube_id, accessed_by=user_id, count=count))
        self._versions.update(next_version)
        return events
