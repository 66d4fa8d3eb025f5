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


@pytest.fixture
def mos(tmp_path):
    with MOS(tmp_path / "data", embedder=HashingEmbedder()) as instance:
        yield instance


@pytest.fixture
def alice_cube(mos):
    mos.create_user("alice")
    return mos.create_cube("alice-notes", owner="alice")
