"""An embedded MOS behind the REST app, with tokens for alice, bob and an expired one for carol."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from mos import MOS
from mos.embedders.hashing import HashingEmbedder

pytest.register_assert_rewrite("tests.rest.http_steps")

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)
TOKENS = [("alice-token", "alice", None), ("bob-token", "bob", None),
          ("carol-token", "carol", datetime(2026, 1, 1, tzinfo=timezone.utc))]
ALICE = {"Authorization": "Bearer alice-token"}
BOB = {"Authorization": "Bearer bob-token"}
CAROL_EXPIRED = {"Authorization": "Bearer carol-token"}


@pytest.fixture
def embedded_mos(tmp_path):
    with MOS(tmp_path / "data", embedder=HashingEmbedder()) as instance:
        yield instance


@pytest.fixture
def token_store():
    from mos.rest.auth import TokenStore

    return TokenStore.from_pairs(TOKENS, clock=lambda: NOW)


@pytest.fixture
def app(embedded_mos, token_store):
    from mos.rest import create_app

    return create_app(embedded_mos, token_store, max_body_bytes=64_000)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
