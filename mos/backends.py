"""Wiring of adapters behind the ports: one function per backend.

The SDK only sees the ports (`EventLog`, `SearchIndex`, `GraphStore`, `Embedder`); which
adapters fill them is decided here, once, from explicit arguments.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mos.domain.errors import InvalidInput
from mos.embedders.port import Embedder
from projections.embedded.sqlite_graph_store import SqliteGraphStore
from projections.embedded.sqlite_search_index import SqliteSearchIndex
from projections.graph_projection import project_graph
from projections.ports import GraphStore, SearchIndex
from projections.runner import ProjectionRunner
from projections.search_projection import project_search
from streams.avro_codec import AvroEventCodec
from streams.embedded.sqlite_event_log import SqliteEventLog
from streams.keys import ContentSealer, SqliteKeyStore
from streams.ports import EventLog

MANIFEST = "mos.json"


@dataclass
class Backend:
    log: EventLog
    index: SearchIndex
    graph: GraphStore
    runners: tuple[ProjectionRunner, ...]
    sealer: ContentSealer | None = None  # None: content is written in the clear and cannot be erased

    def close(self) -> None:
        for part in (self.log, self.index, self.graph, self.sealer):
            if part is not None:
                part.close()


def sealing_codec(keystore: Path) -> AvroEventCodec:
    """The codec every MOS backend writes with: memory content sealed with per-memory keys."""
    return AvroEventCodec.from_directory(sealer=ContentSealer(SqliteKeyStore(keystore)))


def _check_manifest(data_dir: Path, embedder: Embedder) -> None:
    """A data directory is tied to one embedding model: vectors of two models don't mix."""
    path = data_dir / MANIFEST
    wanted = {"format": 1, "embedding_model": embedder.model_id, "dimension": embedder.dimension}
    if path.exists():
        found = json.loads(path.read_text())
        if (found.get("embedding_model"), found.get("dimension")) != (embedder.model_id, embedder.dimension):
            raise InvalidInput(
                f"{data_dir} was created with embedder {found.get('embedding_model')} "
                f"({found.get('dimension')}-d), not {embedder.model_id} ({embedder.dimension}-d)"
            )
    else:
        path.write_text(json.dumps(wanted, indent=2) + "\n")


def open_embedded(data_dir: Path, embedder: Embedder, batch_size: int = 500) -> Backend:
    """Everything in one directory: events.db (the log), keys.db (data keys), search.db and
    graph.db (read models)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    _check_manifest(data_dir, embedder)
    codec = sealing_codec(data_dir / "keys.db")
    log = SqliteEventLog(data_dir / "events.db", codec)
    index = SqliteSearchIndex(data_dir / "search.db", embedder.dimension)
    graph = SqliteGraphStore(data_dir / "graph.db")
    runners = (
        ProjectionRunner("search", log, project_search, index, batch_size),
        ProjectionRunner("graph", log, project_graph, graph, batch_size),
    )
    return Backend(log, index, graph, runners, codec.sealer)


def open_kafka(data_dir: Path, embedder: Embedder, settings=None, batch_size: int = 500,
               ephemeral: bool = False) -> Backend:
    """The real-server backend: Kafka log, Elasticsearch index, Neo4j graph.

    The SDK still projects in-process before each read (read-your-writes); a Faust worker
    (`python -m streams.faust_app worker`) projecting into the same read models concurrently
    is safe: ES writes are version-guarded and Neo4j batches check the checkpoint.
    `data_dir` holds the rebuildable stream cache, the embedder manifest and, unless
    `settings.keystore_path` (MOS_KEYSTORE) says otherwise, the data keys (keys.db), which
    the Faust worker must share.
    `ephemeral` deletes the index and graph namespace on close (tests, benchmarks).
    """
    from mos.config import PipelineSettings
    from projections.elasticsearch.search_index import ElasticsearchSearchIndex
    from projections.neo4j.graph_store import Neo4jGraphStore
    from streams.kafka.event_log import KafkaEventLog

    settings = settings or PipelineSettings.from_env()
    data_dir.mkdir(parents=True, exist_ok=True)
    _check_manifest(data_dir, embedder)
    codec = sealing_codec(Path(settings.keystore_path) if settings.keystore_path else data_dir / "keys.db")
    log = KafkaEventLog(settings.log_config(), cache_path=data_dir / "kafka-streams.db", codec=codec)
    index = ElasticsearchSearchIndex(settings.es_url, settings.es_index, embedder.dimension,
                                     delete_on_close=ephemeral)
    graph = Neo4jGraphStore(settings.neo4j_uri, namespace=settings.neo4j_namespace, drop_on_close=ephemeral)
    runners = (
        ProjectionRunner("search", log, project_search, index, batch_size),
        ProjectionRunner("graph", log, project_graph, graph, batch_size),
    )
    return Backend(log, index, graph, runners, codec.sealer)
