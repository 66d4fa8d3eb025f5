"""Point-in-time reads: the read models as they were after the first N events of the log.

"What did the agent know then" is answered by replaying the log up to that point into
private embedded read models (the same projections as the live ones, so the answer is what
a store built from only those events would give). Snapshots keep that fast on long logs:
every `snapshot_every` events the replayed models are copied aside, and a later question
starts from the nearest snapshot at or before its offset instead of from offset 0.
The latest few point-in-time models stay open for repeated questions.
"""

from __future__ import annotations

import bisect
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mos.domain.errors import InvalidInput
from projections.embedded.sqlite_graph_store import SqliteGraphStore
from projections.embedded.sqlite_search_index import SqliteSearchIndex
from projections.graph_projection import project_graph
from projections.search_projection import project_search
from streams.ports import EventLog

AsOf = datetime | int  # a moment (timezone-aware datetime) or a log offset (events [0, offset))


@dataclass
class ReadModelsAt:
    offset: int
    index: SqliteSearchIndex
    graph: SqliteGraphStore

    def close(self) -> None:
        self.index.close()
        self.graph.close()


class PointInTime:
    def __init__(self, log: EventLog, directory: Path, dimension: int, snapshot_every: int = 10_000,
                 keep_open: int = 2):
        self.log = log
        self.directory = Path(directory)
        self.dimension = dimension
        self.snapshot_every = snapshot_every
        self.keep_open = keep_open
        self._open: OrderedDict[int, ReadModelsAt] = OrderedDict()
        self._times: list[int] = []  # running max of occurred_at, per event in log order
        self._offsets: list[int] = []  # the offset of each of those events (Kafka's have gaps)
        self._lock = threading.Lock()

    def offset_of(self, as_of: AsOf, now_ms: int) -> int:
        """The log offset a moment or offset stands for; refuses the future and the time before
        the first event (there is no state to answer from)."""
        head = self.log.head()
        if isinstance(as_of, bool) or not isinstance(as_of, (int, datetime)):
            raise InvalidInput("as_of must be a timezone-aware datetime or a log offset (int)")
        if isinstance(as_of, int):
            if not 0 < as_of <= head:
                raise InvalidInput(f"as_of offset must be between 1 and the log head {head}, got {as_of}")
            return as_of
        if as_of.tzinfo is None:
            raise InvalidInput("as_of datetime must be timezone-aware (e.g. datetime(..., tzinfo=timezone.utc))")
        moment = int(as_of.timestamp() * 1000)
        if moment > now_ms:
            raise InvalidInput(f"as_of {as_of.isoformat()} is in the future")
        self._index_times()
        if not self._times or moment < self._times[0]:
            raise InvalidInput(f"as_of {as_of.isoformat()} is before the first event of the log")
        # the prefix is every event up to the moment; its end is just past the last one's offset
        return self._offsets[bisect.bisect_right(self._times, moment) - 1] + 1

    def _index_times(self) -> None:
        start = self._offsets[-1] + 1 if self._offsets else 0
        while batch := list(self.log.read(start, limit=5000)):
            # a later event with an earlier clock (another writer) must not end the prefix early
            floor = self._times[-1] if self._times else 0
            for recorded in batch:
                floor = max(floor, recorded.event.occurred_at)
                self._times.append(floor)
                self._offsets.append(recorded.offset)
            start = batch[-1].offset + 1

    def at(self, offset: int) -> ReadModelsAt:
        with self._lock:
            if offset in self._open:
                self._open.move_to_end(offset)
                return self._open[offset]
            models = self._build(offset)
            self._open[offset] = models
            while len(self._open) > self.keep_open:
                self._open.popitem(last=False)[1].close()
            return models

    def _build(self, offset: int) -> ReadModelsAt:
        start = self._nearest_snapshot(offset)
        work = self.directory / f"at-{offset}"
        shutil.rmtree(work, ignore_errors=True)
        if start:
            shutil.copytree(self.directory / f"snapshot-{start}", work)
        else:
            work.mkdir(parents=True)
        position = start
        while True:
            models = ReadModelsAt(position, SqliteSearchIndex(work / "search.db", self.dimension),
                                  SqliteGraphStore(work / "graph.db"))
            stop = min(offset, (position // self.snapshot_every + 1) * self.snapshot_every)
            for project, target in ((project_search, models.index), (project_graph, models.graph)):
                self._advance(project, target, stop)
            position = stop
            if position == offset:
                models.offset = offset
                return models
            models.close()  # a snapshot boundary: keep a copy for later questions
            shutil.copytree(work, self.directory / f"snapshot-{position}", dirs_exist_ok=True)

    def _advance(self, project, target, stop: int) -> None:
        """Apply every event with an offset below `stop` (offsets may have gaps, e.g. Kafka's
        transaction markers, so this counts offsets, not events)."""
        while True:
            batch = [r for r in self.log.read(target.checkpoint(), limit=1000) if r.offset < stop]
            if not batch:
                return
            target.apply([write for r in batch for write in project(r.event)], batch[-1].offset + 1)

    def forget_snapshots(self) -> None:
        """Drop every replayed copy and snapshot (after an erasure: they hold its content).
        Later questions replay again, through the log, where the content is now sealed away."""
        with self._lock:
            while self._open:
                self._open.popitem(last=False)[1].close()
            shutil.rmtree(self.directory, ignore_errors=True)

    def _nearest_snapshot(self, offset: int) -> int:
        taken = [int(p.name.split("-")[1]) for p in self.directory.glob("snapshot-*")] if self.directory.exists() else []
        return max((s for s in taken if s <= offset), default=0)

    def close(self) -> None:
        with self._lock:
            for models in self._open.values():
                models.close()
            self._open.clear()
