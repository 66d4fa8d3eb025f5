"""Access signals: searches and chats that return a memory become MemoryAccessed events.

Accesses are buffered and aggregated per (memory, user) — one event with a `count` — and
flushed in one append when the buffer holds `max_pending` distinct memories, when the
oldest pending access is `max_delay_ms` old (checked on the next access), or explicitly
(`flush`, `MOS.close`, before the scheduler runs). A busy app thus appends a few events
per second, not one per hit. Each memory's accesses live on their own `access:<id>`
stream, so reads never bump the memory's version.
"""

from __future__ import annotations

import threading
from typing import Callable, Iterable

from mos.domain.commands import CommandContext
from mos.domain.errors import Conflict
from mos.domain.events import MemoryAccessed, access_key
from streams.ports import EventLog


class AccessRecorder:
    def __init__(self, log: EventLog, clock: Callable[[], int], source_app: str,
                 max_pending: int = 256, max_delay_ms: int = 2000):
        self.log = log
        self.clock = clock
        self.source_app = source_app
        self.max_pending = max_pending
        self.max_delay_ms = max_delay_ms
        self._pending: dict[tuple[str, str, str], int] = {}  # (memory, cube, user) -> count
        self._first_at: int | None = None
        self._versions: dict[str, int] = {}
        self._lock = threading.Lock()

    def record(self, accesses: Iterable[tuple[str, str]], user_id: str) -> None:
        """`accesses`: (memory_id, cube_id) pairs returned to `user_id`."""
        now = self.clock()
        with self._lock:
            for memory_id, cube_id in accesses:
                key = (memory_id, cube_id, user_id)
                self._pending[key] = self._pending.get(key, 0) + 1
            if self._pending and self._first_at is None:
                self._first_at = now
            due = len(self._pending) >= self.max_pending or (
                self._first_at is not None and now - self._first_at >= self.max_delay_ms)
        if due:
            self.flush()

    def pending(self) -> int:
        return sum(self._pending.values())

    def flush(self) -> int:
        """Append every pending access (one event per memory and user); returns how many."""
        with self._lock:
            if not self._pending:
                return 0
            pending, self._pending, self._first_at = self._pending, {}, None
            for attempt in range(3):
                try:
                    self.log.append(self._events(pending))
                    return len(pending)
                except Conflict:
                    self._versions.clear()  # another writer recorded accesses too: re-read versions
            raise Conflict("could not record access events after 3 attempts")

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
