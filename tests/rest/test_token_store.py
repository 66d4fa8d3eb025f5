"""The token store: which bearer token acts as which user, until when, and what it keeps."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from mos.domain.errors import InvalidInput
from mos.rest.auth import TokenStore, Unauthenticated

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def write_tokens(tmp_path, entries) -> str:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"tokens": entries}))
    return str(path)


def test_a_token_file_maps_tokens_to_users_until_they_expire(tmp_path):
    clock = [NOW]
    store = TokenStore.from_file(write_tokens(tmp_path, [
        {"token": "t-alice", "user": "alice", "expires_at": "2026-06-02T00:00:00Z"},
        {"token": "t-bob", "user": "bob", "expires_at": None},
        {"token": "t-carol", "user": "carol"},
    ]), clock=lambda: clock[0])
    assert [store.user_for(t) for t in ("t-alice", "t-bob", "t-carol")] == ["alice", "bob", "carol"]
    clock[0] = NOW + timedelta(days=1)
    with pytest.raises(Unauthenticated):
        store.user_for("t-alice")
    assert store.user_for("t-bob") == "bob"


def test_env_tokens_never_expire_and_may_contain_equals_signs():
    store = TokenStore.from_env({"MOS_API_TOKENS": " tok1=alice , dG9rZW4==bob,"})
    assert (store.user_for("tok1"), store.user_for("dG9rZW4="), len(store)) == ("alice", "bob", 2)
    assert len(TokenStore.from_env({})) == 0


@pytest.mark.parametrize("token", [None, "", "tok", "tok1 ", "TOK1"])
def test_missing_unknown_or_near_miss_tokens_are_unauthenticated(token):
    store = TokenStore.from_env({"MOS_API_TOKENS": "tok1=alice"})
    with pytest.raises(Unauthenticated):
        store.user_for(token)


def test_only_digests_of_tokens_are_kept(tmp_path):
    store = TokenStore.from_file(write_tokens(tmp_path, [{"token": "super-secret-token", "user": "alice"}]))
    assert "super-secret-token" not in repr(vars(store))
    assert all(len(grant.digest) == 32 for grant in store._grants)


@pytest.mark.parametrize("entries, complaint", [
    ([{"token": "a", "user": "alice"}, {"token": "a", "user": "bob"}], "more than once"),
    ([{"token": "a", "user": "alice", "expires_at": "2027-01-01T00:00:00"}], "timezone"),
    ([{"token": "a", "user": "alice", "expires_at": "soon"}], "ISO 8601"),
    ([{"token": "a", "user": "not a user id!"}], "user"),
    ([{"token": "", "user": "alice"}], "non-empty"),
    ([{"token": "a", "user": "alice", "admin": True}], "expected"),
], ids=["duplicate", "naive expiry", "bad expiry", "bad user id", "empty token", "unknown field"])
def test_a_malformed_token_file_is_refused_when_loaded(tmp_path, entries, complaint):
    with pytest.raises(InvalidInput, match=complaint):
        TokenStore.from_file(write_tokens(tmp_path, entries))


def test_an_unreadable_or_shapeless_token_file_is_refused(tmp_path):
    with pytest.raises(InvalidInput, match="cannot read"):
        TokenStore.from_file(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(InvalidInput, match="'tokens' list"):
        TokenStore.from_file(tmp_path / "list.json")
