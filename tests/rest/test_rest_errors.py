"""How the REST API reports errors: one status per SDK error, problem+json everywhere, no leaks,
and the input JSON can spell that the SDK cannot take."""

from __future__ import annotations

import pytest

from mos.domain.errors import (
    AccessDenied,
    AlreadyExists,
    ArtifactError,
    Conflict,
    CorruptArtifact,
    GenerationFailed,
    InvalidInput,
    InvalidTransition,
    NotFound,
)
from tests.rest.conftest import ALICE
from tests.rest.http_steps import new_cube, problem, register


def test_invalid_content_is_judged_by_the_sdk_and_reported_as_400(client):
    register(client, ALICE)
    cube = new_cube(client, ALICE)
    response = client.post(f"/v1/cubes/{cube}/memories", headers=ALICE,
                           json={"items": [{"text": "fine", "tags": [f"t{n}" for n in range(40)]}]})
    assert "at most 32 tags" in problem(response, 400)["detail"]


def test_chat_without_a_language_model_is_a_400_problem(client):
    register(client, ALICE)
    assert "no language model" in problem(client.post("/v1/chat", headers=ALICE, json={"query": "hi"}), 400)["detail"]


def test_unknown_routes_and_methods_are_problems_too(client):
    problem(client.get("/v1/nothing-here", headers=ALICE), 404)
    not_allowed = client.delete("/v1/cubes", headers=ALICE)
    problem(not_allowed, 405)
    assert not_allowed.headers["allow"] == "GET, POST"


@pytest.mark.parametrize("text", [" \n ", "a\x00b", ""], ids=["blank", "NUL", "empty"])
def test_text_the_sdk_would_refuse_is_refused_by_the_schema_already(client, text):
    register(client, ALICE)
    cube = new_cube(client, ALICE)
    response = client.post(f"/v1/cubes/{cube}/memories", headers=ALICE, json={"items": [{"text": text}]})
    assert problem(response, 422)["errors"][0]["loc"] == ["body", "items", 0, "text"]


# --- error mapping -------------------------------------------------------------------------

@pytest.mark.parametrize("error, status", [
    (InvalidInput("bad"), 400), (NotFound("gone"), 404), (AccessDenied("no"), 403), (Conflict("moved"), 409),
    (AlreadyExists("twice"), 409), (InvalidTransition("not now"), 409), (GenerationFailed("model down"), 502),
    (ArtifactError("unusable"), 400), (CorruptArtifact("hash mismatch"), 400),
], ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v))
def test_each_sdk_error_maps_to_one_status(client, embedded_mos, monkeypatch, error, status):
    register(client, ALICE)

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr(embedded_mos, "cubes", fail)
    assert problem(client.get("/v1/cubes", headers=ALICE), status)["detail"] == str(error)


def test_an_unexpected_error_is_a_500_problem_that_leaks_nothing(client, embedded_mos, monkeypatch):
    register(client, ALICE)

    def crash(*args, **kwargs):
        raise RuntimeError("sqlite file /srv/secret/path.db is corrupt")

    monkeypatch.setattr(embedded_mos, "cubes", crash)
    response = client.get("/v1/cubes", headers=ALICE)
    problem(response, 500)
    assert "secret" not in response.text and "RuntimeError" not in response.text and "Traceback" not in response.text


def test_the_openapi_schema_declares_bearer_auth_and_problem_bodies(client):
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "Problem" in schema["components"]["schemas"]
    get_memory = schema["paths"]["/v1/memories/{memory_id}"]["get"]
    assert get_memory["security"] == [{"HTTPBearer": []}]
    assert "application/problem+json" in get_memory["responses"]["404"]["content"]


# --- JSON the SDK cannot take --------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    b'{"items": [{"text": "x", "tags": ["\\udc00"]}]}',
    b'{"items": [{"text": "x", "metadata": {"k": "\\ud800"}}]}',
    b'{"items": [{"text": "x", "metadata": {"\\ud800": 1}}]}',
    b'{"items": [{"text": "\\ud800 lone"}]}',
], ids=["tag", "metadata value", "metadata key", "text"])
def test_strings_with_lone_surrogates_are_refused_with_422_and_nothing_is_written(client, raw):
    register(client, ALICE)
    cube = new_cube(client, ALICE)
    response = client.post(f"/v1/cubes/{cube}/memories", headers={**ALICE, "content-type": "application/json"},
                           content=raw)
    problem(response, 422)
    assert client.get("/v1/memories", headers=ALICE).json()["items"] == []


def test_metadata_nested_too_deep_to_be_returned_is_refused_with_422(client):
    from mos.rest.json_input import MAX_METADATA_DEPTH

    register(client, ALICE)
    cube = new_cube(client, ALICE)
    url = f"/v1/cubes/{cube}/memories"

    def nested(depth: int) -> dict:
        value: object = "leaf"
        for _ in range(depth - 1):
            value = [value]
        return {"items": [{"text": "deep", "metadata": {"k": value}}]}

    assert client.post(url, headers=ALICE, json=nested(MAX_METADATA_DEPTH)).status_code == 201
    assert "deeper" in problem(client.post(url, headers=ALICE, json=nested(MAX_METADATA_DEPTH + 1)), 422)[
        "errors"][0]["msg"]
    assert client.get("/v1/memories", headers=ALICE).status_code == 200


def test_a_metadata_filter_key_with_a_backslash_is_not_a_server_error(client):
    register(client, ALICE)
    cube = new_cube(client, ALICE)
    client.post(f"/v1/cubes/{cube}/memories", headers=ALICE,
                json={"items": [{"text": "tea", "metadata": {"a\\": 1}}]})
    response = client.post("/v1/search", headers=ALICE, json={"query": "tea", "filters": {"metadata": {"a\\": 1}}})
    assert "metadata filter keys" in problem(response, 400)["detail"]  # was a 500 (a SQLite JSON path error)


def test_as_of_with_non_ascii_digits_is_a_clear_400(client):
    """Found by schemathesis: '²'.isdigit() is true but int('²') raises — it was a 500."""
    register(client, ALICE)
    assert problem(client.post("/v1/search", headers=ALICE, json={"query": "tea", "as_of": "²"}), 400)
