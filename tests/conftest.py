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


@pytest.fixture
def mos_cli(tmp_path, monkeypatch):
    """The `mos` command line on a fresh embedded data directory (hashing embedder), called
    like the shell: `mos_cli("add", "text", "-u", "alice", ...)` returns stdout, and a non-zero
    exit fails the test with the command's output. `mos_cli.invoke` returns the raw result,
    for tests about failures."""
    from typer.testing import CliRunner

    from mos.cli.app import app

    monkeypatch.setenv("MOS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOS_EMBEDDER", "hashing")
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.stdout

    cli.invoke = lambda *args: runner.invoke(app, list(args))
    return cli
