"""Configuration in one typed place, read from the environment only when asked."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MosSettings:
    data_dir: Path
    embedder: str = "minilm"
    backend: str = "embedded"
    model_dir: Path | None = None
    chat_url: str | None = None
    chat_model: str | None = None
    chat_api_key: str | None = None

    @classmethod
    def from_env(cls) -> "MosSettings":
        """`MOS_DATA_DIR` (default `~/.mos`), `MOS_EMBEDDER` (`minilm`, `hashing` or a model path),
        `MOS_BACKEND` (`embedded`, or `kafka` for Kafka + Elasticsearch + Neo4j), `MOS_MODEL`
        (a local Hugging Face causal-LM directory for chat, KV caches and adapters) and, for
        plaintext chat through a server instead, `MOS_CHAT_URL` / `MOS_CHAT_MODEL` / `MOS_CHAT_API_KEY`."""
        env = os.environ
        return cls(
            data_dir=Path(env.get("MOS_DATA_DIR", Path.home() / ".mos")).expanduser(),
            embedder=env.get("MOS_EMBEDDER", "minilm"),
            backend=env.get("MOS_BACKEND", "embedded"),
            model_dir=Path(env["MOS_MODEL"]).expanduser() if env.get("MOS_MODEL") else None,
            chat_url=env.get("MOS_CHAT_URL") or None,
            chat_model=env.get("MOS_CHAT_MODEL") or None,
            chat_api_key=env.get("MOS_CHAT_API_KEY") or None,
        )

    def chat_client(self):
        """The OpenAI-compatible client of MOS_CHAT_URL, or None."""
        if not self.chat_url:
            return None
        from mos.llm.openai_compatible import OpenAICompatibleChat

        return OpenAICompatibleChat(self.chat_url, self.chat_model or "default", api_key=self.chat_api_key)


@dataclass(frozen=True)
class PipelineSettings:
    """The real-server pipeline: Kafka log, Faust worker, Elasticsearch and Neo4j read models."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    es_url: str = "http://127.0.0.1:9200"
    neo4j_uri: str = "bolt://127.0.0.1:7687"
    events_topic: str = "mos.events"
    dead_letter_topic: str = "mos.events.dead-letter"
    promotions_topic: str = "mos.events.promotions"
    es_index: str = "mos-memories"
    neo4j_namespace: str = "mos"
    embedding_dimension: int = 384
    faust_app_id: str = "mos-projector"
    batch_size: int = 500
    batch_seconds: float = 0.2
    runtime_poll_seconds: float = 5.0
    scheduler_interval_seconds: float = 60.0  # 0 turns the worker's scheduler off
    scheduler_config: str | None = None  # a policy TOML file
    keystore_path: str | None = None  # data keys of sealed memory content; default <data dir>/keys.db
    retry_initial_seconds: float = 0.5  # a read model that fails is retried after this…
    retry_max_seconds: float = 30.0  # …doubling up to this, for as long as it stays down
    # A worker that dies without leaving its consumer group (SIGKILL, OOM, power) holds its
    # partitions until this passes: Faust's 60 s default made every crash a minute of no
    # projection. Heartbeats come from a background task every 3 s, so a slow batch does
    # not expire the session.
    session_timeout_seconds: float = 10.0

    @classmethod
    def isolated(cls, endpoints, name: str, **overrides) -> "PipelineSettings":
        """Settings whose topics, index, graph namespace and Faust app all carry `name`, on the
        servers of `endpoints` (a streams.services.ServiceEndpoints): one run that sees no other."""
        return cls(kafka_bootstrap=endpoints.kafka_bootstrap, es_url=endpoints.es_url,
                   neo4j_uri=endpoints.neo4j_uri, events_topic=name, dead_letter_topic=f"{name}.dead-letter",
                   promotions_topic=f"{name}.promotions", es_index=name, neo4j_namespace=name,
                   faust_app_id=f"{name}-app", **overrides)

    def log_config(self):
        """The Kafka log layout of these settings (a streams.kafka.config.KafkaLogConfig)."""
        from streams.kafka.config import KafkaLogConfig

        return KafkaLogConfig(bootstrap_servers=self.kafka_bootstrap, topic=self.events_topic,
                              dead_letter_topic=self.dead_letter_topic, writer_id=f"{self.events_topic}.writer")

    @classmethod
    def from_env(cls) -> "PipelineSettings":
        """MOS_KAFKA_BOOTSTRAP, MOS_ES_URL, MOS_NEO4J_URI, MOS_TOPIC, MOS_ES_INDEX,
        MOS_NEO4J_NAMESPACE, MOS_FAUST_APP_ID, MOS_EMBEDDING_DIMENSION, MOS_RUNTIME_POLL_SECONDS,
        MOS_SCHEDULER_INTERVAL_SECONDS, MOS_SCHEDULER_CONFIG, MOS_KEYSTORE, MOS_RETRY_INITIAL_SECONDS,
        MOS_RETRY_MAX_SECONDS, MOS_SESSION_TIMEOUT_SECONDS."""
        env = os.environ
        topic = env.get("MOS_TOPIC", cls.events_topic)
        return cls(
            kafka_bootstrap=env.get("MOS_KAFKA_BOOTSTRAP", cls.kafka_bootstrap),
            es_url=env.get("MOS_ES_URL", cls.es_url),
            neo4j_uri=env.get("MOS_NEO4J_URI", cls.neo4j_uri),
            events_topic=topic,
            dead_letter_topic=f"{topic}.dead-letter",
            promotions_topic=env.get("MOS_PROMOTIONS_TOPIC", f"{topic}.promotions"),
            es_index=env.get("MOS_ES_INDEX", cls.es_index),
            neo4j_namespace=env.get("MOS_NEO4J_NAMESPACE", cls.neo4j_namespace),
            faust_app_id=env.get("MOS_FAUST_APP_ID", cls.faust_app_id),
            embedding_dimension=int(env.get("MOS_EMBEDDING_DIMENSION", cls.embedding_dimension)),
            runtime_poll_seconds=float(env.get("MOS_RUNTIME_POLL_SECONDS", cls.runtime_poll_seconds)),
            keystore_path=env.get("MOS_KEYSTORE") or None,
            scheduler_interval_seconds=float(env.get("MOS_SCHEDULER_INTERVAL_SECONDS",
                                                     cls.scheduler_interval_seconds)),
            scheduler_config=env.get("MOS_SCHEDULER_CONFIG") or None,
            retry_initial_seconds=float(env.get("MOS_RETRY_INITIAL_SECONDS", cls.retry_initial_seconds)),
            retry_max_seconds=float(env.get("MOS_RETRY_MAX_SECONDS", cls.retry_max_seconds)),
            session_timeout_seconds=float(env.get("MOS_SESSION_TIMEOUT_SECONDS", cls.session_timeout_seconds)),
        )
