"""The SDK's scheduler methods: access signals, ticks, the background thread, explain (a
mixin of `mos.sdk.MOS`)."""

from __future__ import annotations

import logging
import threading
from typing import Sequence

from mos.domain.errors import InvalidInput, NotFound
from mos.domain.events import access_key, artifacts_key, memory_key
from mos.domain.validation import validate_id

log = logging.getLogger(__name__)


class SchedulerMethods:
    def record_access(self, memory_ids: Sequence[str], user_id: str) -> None:
        """Count a use of memories the app got some other way than `search` / `chat` (e.g.
        `get`, or its own cache): the same batched MemoryAccessed signal the scheduler reads."""
        if isinstance(memory_ids, str) or not isinstance(memory_ids, Sequence):
            raise InvalidInput("memory_ids must be a list of memory ids")
        if self._access is None:
            return
        where = self._visible(user_id, None, {"state": ["active", "archived"]})
        docs = self._backend.index.documents([validate_id(m, "memory_id") for m in memory_ids])
        missing = [m for m in memory_ids if m not in docs or docs[m].cube_id not in where.cube_ids]
        if missing:
            raise NotFound(f"unknown memory {missing[0]!r}")
        self._access.record(((m, docs[m].cube_id) for m in memory_ids), user_id)

    def flush_access(self) -> int:
        """Append buffered access signals now; returns how many (memory, user) pairs."""
        return self._access.flush() if self._access is not None else 0

    def scheduler(self):
        """The MemScheduler of this log (created on first use, with this MOS's clock)."""
        from mos.scheduler import MemScheduler, SchedulerConfig, load_config

        with self._lock:
            if self._scheduler is None:
                config = self._scheduler_config
                if not isinstance(config, SchedulerConfig):
                    config = load_config(config)
                self._scheduler = MemScheduler(self.log, config, clock=self._clock)
            return self._scheduler

    def run_scheduler(self, now: int | None = None, build_artifacts: bool = False):
        """One scheduler tick: flush access signals, decide, append the decisions; then
        (optionally) let the model runtime build / drop the artifacts they imply."""
        self.flush_access()
        report = self.scheduler().run_once(now)
        self.sync()
        if build_artifacts and self._models.has_local_model:
            self.build_artifacts()
        return report

    def start_scheduler(self, interval_s: float = 60.0, build_artifacts: bool = True) -> None:
        """Run the scheduler every `interval_s` seconds on a background thread (embedded
        backend; on Kafka the Faust worker runs it). Stopped by `stop_scheduler` / `close`."""
        if self._scheduler_thread is not None:
            return
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(interval_s):
                try:
                    self.run_scheduler(build_artifacts=build_artifacts)
                except Exception:  # a failed tick is retried on the next one; never kill the app
                    log.exception("scheduler tick failed")

        thread = threading.Thread(target=loop, name="mos-scheduler", daemon=True)
        self._scheduler_thread = (thread, stop)
        thread.start()

    def stop_scheduler(self) -> None:
        if self._scheduler_thread is not None:
            thread, stop = self._scheduler_thread
            stop.set()
            thread.join()
            self._scheduler_thread = None

    def explain(self, memory_id: str, user_id: str):
        """Why the memory is in its current state and tiers, from the log (`Explanation`)."""
        from mos.scheduler.explain import explain

        self._memory(memory_id, user_id, "reader")
        events = self.log.read_stream(memory_key(memory_id))
        cube_id = events[0].cube_id
        return explain(events, self.log.read_stream(access_key(memory_id)),
                       self.log.read_stream(artifacts_key(cube_id)))

