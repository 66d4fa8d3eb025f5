"""Shared fixtures. Tests that are not about embedding quality use the deterministic
HashingEmbedder (instant); tests about retrieval quality load the real all-MiniLM-L6-v2."""

from __future__ import annotations

import pytest

from mos import MOS
from mos.embedders.hashing import HashingEmbedder


@pytest.fixture(scope="session")
def minilm():
    from mos.embedders.sentence_transformer import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    embedder.embed(["warm up"])
    return embedder


def _kafka_backend(tmp_path, embedder):
    """Kafka log + Elasticsearch + Neo4j on real servers, with names unique to this test."""
    import uuid

    from mos.backends import open_kafka
    from mos.config import PipelineSettings
    from streams.services import endpoints_for_tests

    endpoints = endpoints_for_tests()
    settings = PipelineSettings.isolated(endpoints, f"mos-test-{uuid.uuid4().hex[:10]}")
    return open_kafka(tmp_path / "data", embedder, settings, ephemeral=True)


@pytest.fixture(params=["embedded", "kafka"])
def mos(request, tmp_path):
    """The SDK on each backend: every test using it runs on both."""
    embedder = HashingEmbedder()
    backend = "embedded" if request.param == "embedded" else _kafka_backend(tmp_path, embedder)
    with MOS(tmp_path / "data", embedder=embedder, backend=backend) as instance:
        yield instance


@pytest.fixture
def alice_cube(mos):
    mos.create_user("alice")
    return mos.create_cube("alice-notes", owner="alice")
