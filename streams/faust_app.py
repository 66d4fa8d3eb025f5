"""The Faust projection app: one agent per read model, the promotions feed, the MemScheduler
(a timer), and the model runtime (when MOS_MODEL names a local model).

    python -m streams.faust_app worker -l info      # runs every agent

Agents are thin loops: take a batch of raw records, hand them to a `BatchProjector`
(decode → pure projection → idempotent write with checkpoint), and send undecodable records
to the dead-letter topic with the reason in a header. A read model that is down (or fails a
write) is retried with bounded exponential backoff (`streams/backoff.py`): the agent holds
its batch until the write succeeds, so an outage delays projection but never drops an
event, and the worker neither crashes nor needs the read model up to start. Processing is
at-least-once (Faust
commits offsets after the agents), made effectively-once by the read models' checkpoints
and version guards; the consumer reads committed transactions only
(`streams/faust_read_committed.py`), so events of an aborted append never reach a read model,
and its committed offset passes transaction markers at once (`streams/faust_offsets.py`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

import faust

from mos.config import PipelineSettings
from mos.domain.events import MemoryDemoted, MemoryErased, MemoryPromoted
from projections.batch_projector import BatchProjector, DeadLetter, RawRecord
from projections.graph_projection import project_graph
from projections.search_projection import project_search
from streams.avro_codec import AvroEventCodec, DecodeError
from streams.backoff import Backoff, retry_async
from streams.faust_offsets import install as install_gap_is_the_hole
from streams.faust_read_committed import install as install_read_committed
from streams.keys import pipeline_codec
from streams.kafka.topics import ensure_topics

log = logging.getLogger(__name__)
# Erasures too: an artifact built from an erased memory must be rebuilt without it.
PROMOTIONS = (MemoryPromoted.type_name, MemoryDemoted.type_name, MemoryErased.type_name)


def _records(events) -> list[RawRecord]:
    return [RawRecord(e.message.offset, e.message.key, e.message.value) for e in events]


def create_app(settings: PipelineSettings | None = None,
               targets: dict[str, Callable[[], object]] | None = None, model_runtime=None,
               scheduler=None) -> faust.App:
    """Build the app; `targets` maps agent name → factory of its read-model adapter
    (default: Elasticsearch for `search`, Neo4j for `graph`, from `settings`);
    `model_runtime` is an `ArtifactRuntime` that builds KV caches / adapters, or None;
    `scheduler` is a `MemScheduler` ticked every `settings.scheduler_interval_seconds`, or None."""
    settings = settings or PipelineSettings.from_env()
    install_read_committed()
    install_gap_is_the_hole()  # commits pass transaction markers at once
    targets = targets if targets is not None else default_targets(settings)
    app = faust.App(settings.faust_app_id, broker=f"kafka://{settings.kafka_bootstrap}",
                    processing_guarantee="at_least_once", topic_partitions=1, topic_allow_declare=False,
                    topic_disable_leader=True, web_enabled=False, store="memory://",
                    broker_commit_every=500, broker_commit_interval=0.5, consumer_auto_offset_reset="earliest",
                    broker_session_timeout=settings.session_timeout_seconds)
    events = app.topic(settings.events_topic, key_serializer="raw", value_serializer="raw", partitions=1)
    dead_letters = app.topic(settings.dead_letter_topic, key_serializer="raw", value_serializer="raw",
                             partitions=1)
    promotions = app.topic(settings.promotions_topic, key_serializer="raw", value_serializer="raw",
                           partitions=1)
    codec = pipeline_codec(settings)

    async def send_dead_letters(letters: list[DeadLetter], agent: str) -> None:
        for letter in letters:
            log.warning("dead letter at offset %d (%s): %s", letter.offset, agent, letter.reason)
            try:
                await dead_letters.send(key=letter.key, value=letter.value, headers={
                    "reason": letter.reason.encode(), "offset": str(letter.offset).encode(),
                    "original_bytes": str(letter.original_bytes).encode(), "agent": agent.encode()})
            except Exception:  # the record is skipped either way; never stop the pipeline for it
                log.exception("could not publish the dead letter of offset %d", letter.offset)

    backoff = Backoff(settings.retry_initial_seconds, settings.retry_max_seconds)

    def projection_agent(name: str, project, factory) -> None:
        projectors: list[BatchProjector] = []  # built on first use: the read model may be down at start

        def process(records: list[RawRecord]) -> list[DeadLetter]:
            if not projectors:
                projectors.append(BatchProjector(name, codec, project, factory()))
            return projectors[0].process(records)

        async def agent(stream):
            async for batch in stream.take_events(settings.batch_size, within=settings.batch_seconds):
                records = _records(batch)
                letters = await retry_async(
                    lambda: asyncio.get_running_loop().run_in_executor(None, process, records), backoff,
                    f"projection {name} of offsets {records[0].offset}..{records[-1].offset}", log)
                if name == "search":  # one agent reports the poison records; both skip them
                    await send_dead_letters(letters, name)
                yield len(batch)

        app.agent(events, name=f"mos.project.{name}")(agent)

    projections = {"search": project_search, "graph": project_graph}
    for name, factory in targets.items():
        projection_agent(name, projections[name], factory)

    @app.agent(events, name="mos.promotions.feed")
    async def promotions_feed(stream):
        """Forwards promotion/demotion events to the model runtime's topic, unchanged."""
        async for event in stream.events():
            kind = dict(event.message.headers or []).get("type", b"").decode()
            if kind in PROMOTIONS:
                try:
                    codec.decode(event.message.value)
                except DecodeError:
                    continue
                await promotions.send(key=event.message.key, value=event.message.value)
            yield kind

    if model_runtime is not None:
        install_model_runtime(app, promotions, model_runtime, settings.runtime_poll_seconds)
    if scheduler is not None:
        install_scheduler(app, scheduler, settings.scheduler_interval_seconds)
    return app


def install_scheduler(app: faust.App, scheduler, interval_seconds: float) -> None:
    """The MemScheduler as a timer: each tick folds the log and appends its decisions (the
    promotions among them then wake the model runtime through the promotions feed)."""

    @app.timer(interval=interval_seconds, name="mos.scheduler")
    async def scheduler_tick():
        try:
            report = await asyncio.get_running_loop().run_in_executor(None, scheduler.run_once)
        except Exception:  # a failed tick is retried on the next one; never kill the worker
            log.exception("scheduler tick failed")
            return
        if report.decided:
            log.info("scheduler decided %s", report.decided)


def install_model_runtime(app: faust.App, promotions, runtime, poll_seconds: float) -> None:
    """One agent wakes the runtime on promotions, a timer on everything else; a lock keeps
    one catch-up at a time (builds can take minutes: they run off the event loop)."""
    running = asyncio.Lock()

    async def catch_up() -> None:
        async with running:
            try:
                report = await asyncio.get_running_loop().run_in_executor(None, runtime.catch_up)
            except Exception:  # a failed build is retried on the next wake-up; never kill the worker
                log.exception("model runtime catch-up failed")
                return
            if report.built or report.dropped:
                log.info("model runtime built %s, dropped %s", report.built, report.dropped)

    @app.agent(promotions, name="mos.model_runtime")
    async def model_runtime_agent(stream):
        async for batch in stream.take_events(100, within=1.0):
            await catch_up()
            yield len(batch)

    @app.timer(interval=poll_seconds, name="mos.model_runtime.poll")
    async def model_runtime_poll():
        await catch_up()


def default_targets(settings: PipelineSettings) -> dict[str, Callable[[], object]]:
    def search():
        from projections.elasticsearch.search_index import ElasticsearchSearchIndex

        return ElasticsearchSearchIndex(settings.es_url, settings.es_index, settings.embedding_dimension)

    def graph():
        from projections.neo4j.graph_store import Neo4jGraphStore

        # The agent's backoff (logged, bounded) governs retries, not the driver's own 30 s.
        return Neo4jGraphStore(settings.neo4j_uri, namespace=settings.neo4j_namespace, transaction_retry_s=1.0)

    return {"search": search, "graph": graph}


def main() -> None:
    """Create every topic the worker reads or writes (Faust must not auto-create them with the
    wrong partition count), then run the Faust command line."""
    from model_runtime.worker import runtime_for_worker
    from mos.scheduler.worker import scheduler_for_worker

    settings = PipelineSettings.from_env()
    asyncio.run(ensure_topics(settings.log_config(), extra=(settings.promotions_topic,)))
    create_app(settings, model_runtime=runtime_for_worker(settings),
               scheduler=scheduler_for_worker(settings)).main()


if __name__ == "__main__":
    main()
