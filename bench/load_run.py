"""One run of bench/load.py, phase by phase: start, write load, drain, search baseline, check.

    start     worker + REST server up, a user and a cube created through the API, the worker
              caught up with them (so it has joined its group and projects);
    load      REST writers, searchers and the direct producer together, until `seconds`
              pass or the event budget is spent;
    drain     no traffic: the time until the worker's lag is back to 0;
    baseline  the same searchers alone for `baseline_seconds`, over the now largest index —
              so a slower search under load is not explained by index size;
    check     Elasticsearch holds one document per acknowledged memory.

Every phase has a deadline, and `close()` (always called) stops the clients, the server,
the worker and the sampler, then deletes this run's index, graph namespace and topics.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from load_lag import LagSampler
from load_processes import Child, free_port, start_server, start_worker, wait_http
from load_traffic import Budget, FenceCounter, Producer, RestWriter, Searcher, Tally

log = logging.getLogger("bench.load")
TOKEN, USER = "load-token", "loader"
STARTUP_TIMEOUT_S = 180.0


@dataclass(frozen=True)
class LoadShape:
    seconds: float
    events: int | None
    baseline_seconds: float
    rest_writers: int
    rest_batch: int
    searchers: int
    producer_rate: float
    producer_batch: int
    sample_interval_s: float
    drain_timeout_s: float
    host: str
    port: int
    keep: bool


class LoadRun:
    def __init__(self, shape: LoadShape, settings, workdir: Path):
        self.shape, self.settings, self.workdir = shape, settings, workdir
        self.keystore = workdir / "keys.db"
        self.port = shape.port or free_port(shape.host)
        self.base = f"http://{shape.host}:{self.port}"
        self.children: list[Child] = []
        self.clients: list = []
        self.stop_clients = threading.Event()
        self.sampler = LagSampler(settings, shape.sample_interval_s)
        self.phases: dict[str, float] = {}
        self.tallies: dict[str, Tally] = {}
        self.cube = ""
        self.fences = FenceCounter().install()

    # --- phases ---------------------------------------------------------------------------

    def start(self) -> None:
        from streams.kafka.topics import ensure_topics

        asyncio.run(ensure_topics(self.settings.log_config(), extra=(self.settings.promotions_topic,)))
        self.children.append(start_worker(self.settings, self.workdir, self.keystore))
        self.children.append(start_server(self.settings, self.workdir, self.keystore, self.shape.host, self.port,
                                          TOKEN, USER))
        self.sampler.start()
        wait_http(self.children[1], f"{self.base}/openapi.json", STARTUP_TIMEOUT_S)
        with httpx.Client(base_url=self.base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60) as api:
            api.post("/v1/users/me").raise_for_status()
            created = api.post("/v1/cubes", json={"name": "load"})
            created.raise_for_status()
            self.cube = created.json()["cube_id"]
        self.sampler.wait_for(lambda s: s.committed >= 0 and s.lag == 0 and s.projection_lag == 0,
                              STARTUP_TIMEOUT_S, "the worker to project the setup events", self._children_alive)
        self.phases["ready"] = self.sampler.now()

    def load(self) -> None:
        shape, clock = self.shape, self.sampler.now
        budget = Budget(shape.events)
        rest, producer = Tally("REST add", clock), Tally("producer", clock)
        search = Tally("search under load", clock)
        self.tallies.update({"rest": rest, "producer": producer, "search_load": search})
        self.clients = [RestWriter(self.base, TOKEN, self.cube, shape.rest_batch, budget, rest, self.stop_clients, n)
                        for n in range(shape.rest_writers)]
        self.clients += [Searcher(self.base, TOKEN, search, self.stop_clients, n) for n in range(shape.searchers)]
        self.clients.append(Producer(self.settings, self.keystore, self.workdir / "producer-cache.db", self.cube,
                                     shape.producer_batch, shape.producer_rate, budget, producer, self.stop_clients))
        self.phases["load_start"] = clock()
        for client in self.clients:
            client.start()
        deadline = time.monotonic() + shape.seconds
        while time.monotonic() < deadline and not budget.exhausted():
            self._children_alive()
            self._clients_healthy()
            time.sleep(0.2)
        self.phases["writes_stopped"] = clock()
        self._stop_clients()  # requests in flight finish: their acks count
        self.phases["load_end"] = clock()

    def drain(self) -> dict[str, float]:
        """Seconds from the last write's ack until the read models, then the worker's committed
        offset, are at the end of the log (lag 0)."""
        end, deadline = self.phases["load_end"], time.monotonic() + self.shape.drain_timeout_s
        visible = self.sampler.wait_for(lambda s: s.projection_lag == 0, self.shape.drain_timeout_s,
                                        "the read models to catch up", self._children_alive, since=end)
        committed = self.sampler.wait_for(lambda s: s.lag == 0, max(1.0, deadline - time.monotonic()),
                                          "the worker's consumer-group lag to return to 0", self._children_alive,
                                          since=end)
        self.phases["projected"], self.phases["drained"] = visible.t, committed.t
        return {"read_models": visible.t - end, "worker_committed": committed.t - end}

    def baseline(self) -> None:
        clock = self.sampler.now
        search = self.tallies["search_baseline"] = Tally("search baseline", clock)
        self.stop_clients.clear()
        self.clients = [Searcher(self.base, TOKEN, search, self.stop_clients, n) for n in range(self.shape.searchers)]
        self.phases["baseline_start"] = clock()
        for client in self.clients:
            client.start()
        deadline = time.monotonic() + self.shape.baseline_seconds
        while time.monotonic() < deadline:
            self._children_alive()
            self._clients_healthy()
            time.sleep(0.2)
        self._stop_clients()
        self.phases["baseline_end"] = clock()

    def documents(self) -> int:
        """Memories in the Elasticsearch read model (after a refresh)."""
        from elasticsearch import Elasticsearch

        with Elasticsearch(self.settings.es_url) as es:
            es.indices.refresh(index=self.settings.es_index)
            return int(es.count(index=self.settings.es_index)["count"])

    # --- teardown -------------------------------------------------------------------------

    def close(self) -> dict[str, int | None]:
        """Stop everything this run started, in order; returns each child's exit code."""
        self._stop_clients()
        codes = {child.name: child.stop() for child in reversed(self.children)}  # server first: it flushes
        self.sampler.stop()
        if self.sampler.is_alive():
            self.sampler.join(10)
        if not self.shape.keep:
            self._delete_namespace()
        return codes

    def _delete_namespace(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        from tests.pipeline.real_read_models import make_graph, make_index

        for opener in (make_index, make_graph):
            try:
                opener(self.settings).close()  # ephemeral: deleted on close
            except Exception:  # noqa: BLE001 — leftovers are named after this run; never mask the result
                log.warning("could not delete a read model of %s", self.settings.es_index, exc_info=True)

        async def delete_topics() -> None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
            await admin.start()
            try:
                existing = set(await admin.list_topics())
                topics = [self.settings.events_topic, self.settings.dead_letter_topic, self.settings.promotions_topic]
                await admin.delete_topics([t for t in topics if t in existing])
            finally:
                await admin.close()

        try:
            asyncio.run(delete_topics())
        except Exception:  # noqa: BLE001
            log.warning("could not delete the topics of %s", self.settings.events_topic, exc_info=True)

    # --- guards ---------------------------------------------------------------------------

    def _stop_clients(self) -> None:
        self.stop_clients.set()
        for client in self.clients:
            if client.is_alive():
                client.join(150)  # a request in flight finishes (httpx timeout 120 s)

    def _children_alive(self) -> None:
        for child in self.children:
            if not child.alive():
                raise RuntimeError(f"the {child.name} exited ({child.process.returncode}):\n{child.tail()}")

    def _clients_healthy(self) -> None:
        for client in self.clients:
            if client.error is not None:
                raise RuntimeError(f"{client.name} failed: {client.error!r}") from client.error
