"""The traffic of bench/load.py: REST writers and searchers (httpx) and a direct producer
appending to the Kafka event log, each a thread that stops on its own.

Writers are bounded by a shared `Budget` of events (reserved before a request, so the run
never appends more than `--events`) and by a stop flag the load generator sets when
`--seconds` have passed. Only acknowledged writes count: a 201 from the API, or an append
that returned its offsets. A 409 (another writer kept fencing this one — all MOS writers of
a log share one transactional id) is counted as a conflict, anything else as an error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

QUERIES = tuple(f"Topic{i % 97} in City{i % 31}" for i in range(0, 400, 7))


def note(prefix: str, serial: int) -> str:
    return f"{prefix} note {serial}: Alice met Topic{serial % 97} in City{serial % 31} about project {serial % 13}"


class Budget:
    """Events left to append across all writers; None is unbounded."""

    def __init__(self, events: int | None):
        self._left = events
        self._lock = threading.Lock()

    def take(self, wanted: int) -> int:
        with self._lock:
            if self._left is None:
                return wanted
            granted = min(wanted, self._left)
            self._left -= granted
            return granted

    def exhausted(self) -> bool:
        with self._lock:
            return self._left is not None and self._left <= 0


@dataclass
class Tally:
    """What one kind of client saw: acknowledged events with their ack times, request
    latencies (seconds), and failures by kind."""

    name: str
    clock: Callable[[], float]  # seconds on the lag sampler's clock
    events: int = 0
    ack_times: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ack(self, events: int, seconds: float) -> None:
        at = self.clock()
        with self._lock:
            self.events += events
            self.ack_times.extend([at] * events)
            self.latencies.append(seconds)

    def fail(self, kind: str) -> None:
        with self._lock:
            self.failures[kind] += 1


class FenceCounter(logging.Handler):
    """Counts this process's Kafka appends that another writer fenced (each is then retried on
    a fresh producer): the cost of all MOS writers sharing one transactional id."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.fenced = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("writer fenced"):
            self.fenced += 1

    def install(self) -> "FenceCounter":
        logger = logging.getLogger("streams.kafka.event_log")
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self


class Worker(threading.Thread):
    """A client loop that runs until `stop` is set or its `step` returns False."""

    def __init__(self, name: str, stop: threading.Event):
        super().__init__(name=name, daemon=True)
        self.stop_flag = stop
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop_flag.is_set() and self.step():
                pass
        except BaseException as exc:  # noqa: BLE001 — the load generator reports it
            self.error = exc
        finally:
            self.close()

    def step(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        pass


class RestClient(Worker):
    """A worker whose step is one timed REST request, tallied as acknowledged or failed."""

    def __init__(self, name: str, base: str, token: str, tally: Tally, stop: threading.Event):
        super().__init__(name, stop)
        self.client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120)
        self.tally = tally

    def post(self, path: str, body: dict, ok_status: int, acked: Callable[[httpx.Response], int]) -> None:
        """POST `body`; a response with `ok_status` counts `acked(response)` events, anything
        else (or no response) is a failure named by its status or error type."""
        began = time.perf_counter()
        try:
            response = self.client.post(path, json=body)
        except httpx.HTTPError as exc:
            self.tally.fail(type(exc).__name__)
            return
        if response.status_code == ok_status:
            self.tally.ack(acked(response), time.perf_counter() - began)
        else:
            self.tally.fail(f"HTTP {response.status_code}")

    def close(self) -> None:
        self.client.close()


class RestWriter(RestClient):
    """POST /v1/cubes/{cube}/memories with `batch` items per request, as fast as acknowledged."""

    def __init__(self, base: str, token: str, cube: str, batch: int, budget: Budget, tally: Tally,
                 stop: threading.Event, serial: int):
        super().__init__(f"rest-writer-{serial}", base, token, tally, stop)
        self.cube, self.batch, self.budget, self.serial = cube, batch, budget, serial
        self.written = 0

    def step(self) -> bool:
        count = self.budget.take(self.batch)
        if not count:
            return False
        items = [{"text": note(f"rest{self.serial}", self.written + i)} for i in range(count)]
        self.written += count
        self.post(f"/v1/cubes/{self.cube}/memories", {"items": items}, 201,
                  lambda response: len(response.json()["memory_ids"]))
        return True


class Searcher(RestClient):
    """POST /v1/search in a closed loop over a fixed list of queries (top 10)."""

    def __init__(self, base: str, token: str, tally: Tally, stop: threading.Event, serial: int):
        super().__init__(f"searcher-{serial}", base, token, tally, stop)
        self.position = serial * 17

    def step(self) -> bool:
        query = QUERIES[self.position % len(QUERIES)]
        self.position += 1
        self.post("/v1/search", {"query": query, "top_k": 10}, 200, lambda response: 0)
        return True


class Producer(Worker):
    """Appends batches of MemoryCreated events straight to the Kafka event log (what a
    service embedding the SDK's log does), paced at `rate` events/s (0: as fast as acked).

    Content is sealed with the shared key store, as the SDK seals it, so the worker does the
    same decoding work for these events as for the REST server's."""

    def __init__(self, settings, keystore, cache, cube: str, batch: int, rate: float, budget: Budget,
                 tally: Tally, stop: threading.Event):
        super().__init__("producer", stop)
        from mos.backends import sealing_codec
        from mos.domain.commands import CommandContext
        from mos.embedders.hashing import HashingEmbedder
        from streams.kafka.event_log import KafkaEventLog

        self.codec = sealing_codec(keystore)
        self.log = KafkaEventLog(settings.log_config(), cache_path=cache, codec=self.codec)
        self.embedder = HashingEmbedder(settings.embedding_dimension)
        self.context = CommandContext(actor="loader", source_app="bench-load-producer")
        self.cube, self.batch, self.rate, self.budget, self.tally = cube, batch, rate, budget, tally
        self.sent = 0
        self.began: float | None = None

    def _events(self, count: int) -> list:
        from mos.domain import memory as memories
        from mos.domain.commands import random_id

        texts = [note("producer", self.sent + i) for i in range(count)]
        return [memories.create(self.context, random_id(), self.cube, memories.MemoryContentValues(
            text, (), "{}", tuple(vector.tolist()), self.embedder.model_id))
            for text, vector in zip(texts, self.embedder.embed(texts))]

    def step(self) -> bool:
        if self.began is None:
            self.began = time.perf_counter()
        if self.rate > 0:  # open loop: never ahead of schedule; when behind, no burst to catch up
            wait = self.began + self.sent / self.rate - time.perf_counter()
            if wait > 0 and self.stop_flag.wait(wait):
                return False
            if wait < -self.batch / self.rate:
                self.began -= wait
        count = self.budget.take(self.batch)
        if not count:
            return False
        events = self._events(count)
        self.sent += count
        began = time.perf_counter()
        try:
            recorded = self.log.append(events)
        except Exception as exc:  # noqa: BLE001 — Conflict, Unavailable: counted, the run goes on
            self.tally.fail(type(exc).__name__)
            return True
        self.tally.ack(len(recorded), time.perf_counter() - began)
        return True

    def close(self) -> None:
        self.log.close()
        self.codec.sealer.close()
