"""The REST API, specified through HTTP: auth, the memory lifecycle, isolation, body limits."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.rest.conftest import ALICE, BOB, CAROL_EXPIRED
from tests.rest.http_steps import add, new_cube, problem, register

SECRET = "Alice's locker code is 4711"


@pytest.fixture
def alice_memory(client):
    register(client, ALICE, BOB)
    cube = new_cube(client, ALICE, "alice-private")
    (memory_id,) = add(client, ALICE, cube, SECRET)
    return cube, memory_id


# --- authentication ------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}, CAROL_EXPIRED,
                                     {"Authorization": "Basic YWxpY2U6cHc="}, {"Authorization": "Bearer "}],
                         ids=["missing", "unknown", "expired", "not bearer", "empty"])
def test_requests_without_a_valid_token_get_401_with_a_bearer_challenge(client, headers):
    response = client.get("/v1/cubes", headers=headers)
    problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_an_expired_token_reveals_nothing_more_than_an_unknown_one(client):
    expired = client.get("/v1/cubes", headers=CAROL_EXPIRED).json()
    unknown = client.get("/v1/cubes", headers={"Authorization": "Bearer nope"}).json()
    assert expired == unknown


def test_creating_yourself_is_idempotent(client):
    first, second = (client.post("/v1/users/me", headers=ALICE) for _ in range(2))
    assert (first.status_code, first.json()) == (201, {"user_id": "alice", "created": True})
    assert (second.status_code, second.json()) == (200, {"user_id": "alice", "created": False})


def test_the_acting_user_is_the_token_user_never_one_from_the_body(client):
    register(client, ALICE, BOB)
    problem(client.post("/v1/cubes", headers=BOB, json={"name": "x", "owner": "alice"}), 422)
    cube = new_cube(client, BOB)
    (memory_id,) = add(client, BOB, cube, "written with bob's token")
    provenance = client.get(f"/v1/memories/{memory_id}", headers=BOB).json()["provenance"]
    assert provenance["created_by"] == provenance["last_actor"] == "bob"


def test_an_unregistered_caller_is_told_it_does_not_exist(client):
    problem(client.post("/v1/cubes", headers=BOB, json={"name": "x"}), 404)


# --- the memory lifecycle ------------------------------------------------------------------

def test_a_memory_is_added_found_read_edited_archived_restored_and_audited(client):
    register(client, ALICE)
    cube = new_cube(client, ALICE)
    assert client.get("/v1/cubes", headers=ALICE).json() == {"items": [{"cube_id": cube, "role": "owner"}]}
    response = client.post(f"/v1/cubes/{cube}/memories", headers=ALICE, json={"items": [
        {"text": "Alice moved to Lisbon in May 2023", "tags": ["home"], "metadata": {"source": "chat"}},
        {"text": "Alice likes green tea"}]})
    assert response.status_code == 201
    lisbon, tea = response.json()["memory_ids"]

    hits = client.post("/v1/search", headers=ALICE, json={"query": "Lisbon", "top_k": 5}).json()["hits"]
    assert hits[0]["memory_id"] == lisbon and hits[0]["metadata"] == {"source": "chat"}

    memory = client.get(f"/v1/memories/{lisbon}", headers=ALICE).json()
    assert (memory["text"], memory["tags"], memory["state"], memory["version"]) == (
        "Alice moved to Lisbon in May 2023", ["home"], "active", 1)

    patched = client.patch(f"/v1/memories/{lisbon}", headers=ALICE,
                           json={"text": "Alice moved to Porto in 2024", "expected_version": 1})
    assert (patched.status_code, patched.json()["version"], patched.json()["tags"]) == (200, 2, ["home"])
    stale = client.patch(f"/v1/memories/{lisbon}", headers=ALICE, json={"text": "lost update", "expected_version": 1})
    assert "version 2" in problem(stale, 409)["detail"]

    archived = client.post(f"/v1/memories/{lisbon}/archive", headers=ALICE, json={"reason": "moved again"})
    assert archived.json()["state"] == "archived"
    problem(client.post(f"/v1/memories/{lisbon}/archive", headers=ALICE), 409)
    assert [m["memory_id"] for m in client.get("/v1/memories", headers=ALICE).json()["items"]] == [tea]
    listed = client.get("/v1/memories", headers=ALICE, params={"include_archived": True, "cube_id": cube}).json()
    assert {m["memory_id"] for m in listed["items"]} == {lisbon, tea}
    assert client.post(f"/v1/memories/{lisbon}/restore", headers=ALICE).json()["state"] == "active"

    history = client.get(f"/v1/memories/{lisbon}/history", headers=ALICE).json()["items"]
    assert [e["type"] for e in history] == ["MemoryCreated", "MemoryUpdated", "MemoryArchived", "MemoryRestored"]
    assert [e["version"] for e in history] == [1, 2, 3, 4]
    assert all(e["actor"] == "alice" and "embedding" not in e["data"] for e in history)
    assert history[2]["data"]["reason"] == "moved again"

    explanation = client.get(f"/v1/memories/{lisbon}/explain", headers=ALICE).json()
    assert explanation["state"] == "active" and explanation["lines"]


def test_merging_makes_one_memory_and_marks_the_sources_merged(client):
    register(client, ALICE)
    cube = new_cube(client, ALICE)
    first, second = add(client, ALICE, cube, "Alice has a cat", "The cat is called Miso")
    merged = client.post("/v1/memories/merge", headers=ALICE, json={"memory_ids": [first, second]})
    assert merged.status_code == 201
    target = merged.json()
    assert target["text"] == "Alice has a cat\nThe cat is called Miso"
    assert target["provenance"]["derived_from"] == [first, second]
    source = client.get(f"/v1/memories/{first}", headers=ALICE).json()
    assert (source["state"], source["provenance"]["merged_into"]) == ("merged", target["memory_id"])
    followed = client.get(f"/v1/memories/{first}", headers=ALICE, params={"resolve_merged": True}).json()
    assert followed["memory_id"] == target["memory_id"]


def test_pages_cover_every_memory_once_and_the_last_page_has_no_next_offset(client):
    register(client, ALICE)
    cube = new_cube(client, ALICE)
    ids = add(client, ALICE, cube, *(f"memory number {n}" for n in range(5)))
    seen, offset, pages = [], 0, []
    while offset is not None:
        page = client.get("/v1/memories", headers=ALICE, params={"limit": 2, "offset": offset}).json()
        pages.append((page["offset"], page["limit"], page["next_offset"]))
        seen += [m["memory_id"] for m in page["items"]]
        offset = page["next_offset"]
    assert pages == [(0, 2, 2), (2, 2, 4), (4, 2, None)]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    problem(client.get("/v1/memories", headers=ALICE, params={"limit": 0}), 422)


# --- isolation and sharing -----------------------------------------------------------------

def test_another_users_cube_and_memories_are_not_found_and_never_shown(client, alice_memory):
    cube, memory_id = alice_memory
    attempts = [
        client.get(f"/v1/memories/{memory_id}", headers=BOB),
        client.get(f"/v1/memories/{memory_id}/history", headers=BOB),
        client.get(f"/v1/memories/{memory_id}/explain", headers=BOB),
        client.patch(f"/v1/memories/{memory_id}", headers=BOB, json={"text": "mine now"}),
        client.post(f"/v1/memories/{memory_id}/archive", headers=BOB),
        client.post("/v1/memories/merge", headers=BOB, json={"memory_ids": [memory_id, memory_id]}),
        client.get("/v1/memories", headers=BOB, params={"cube_id": cube}),
        client.post(f"/v1/cubes/{cube}/memories", headers=BOB, json={"items": [{"text": "planted"}]}),
        client.post(f"/v1/cubes/{cube}/shares", headers=BOB, json={"user_id": "bob", "role": "writer"}),
        client.post("/v1/search", headers=BOB, json={"query": "locker code", "cube_ids": [cube]}),
    ]
    for response in attempts:
        problem(response, 404)
        assert SECRET not in response.text and "4711" not in response.text
    assert client.post("/v1/search", headers=BOB, json={"query": "locker code"}).json() == {"hits": []}
    assert client.get("/v1/memories", headers=BOB).json()["items"] == []
    assert client.get(f"/v1/memories/{memory_id}", headers=ALICE).json()["text"] == SECRET


def test_a_shared_reader_can_read_but_not_write(client, alice_memory):
    cube, memory_id = alice_memory
    shared = client.post(f"/v1/cubes/{cube}/shares", headers=ALICE, json={"user_id": "bob"})
    assert (shared.status_code, shared.json()) == (201, {"cube_id": cube, "user_id": "bob", "role": "reader"})
    assert client.get(f"/v1/memories/{memory_id}", headers=BOB).json()["text"] == SECRET
    assert [h["memory_id"] for h in client.post("/v1/search", headers=BOB, json={"query": "locker"}).json()["hits"]] \
        == [memory_id]
    assert {"cube_id": cube, "role": "reader"} in client.get("/v1/cubes", headers=BOB).json()["items"]
    problem(client.patch(f"/v1/memories/{memory_id}", headers=BOB, json={"text": "mine now"}), 403)
    problem(client.post(f"/v1/cubes/{cube}/memories", headers=BOB, json={"items": [{"text": "x"}]}), 403)


def test_a_shared_writer_can_add_memories(client, alice_memory):
    cube, _ = alice_memory
    client.post(f"/v1/cubes/{cube}/shares", headers=ALICE, json={"user_id": "bob", "role": "writer"})
    (bobs,) = add(client, BOB, cube, "Bob was here")
    assert client.get(f"/v1/memories/{bobs}", headers=ALICE).json()["provenance"]["created_by"] == "bob"


# --- limits and malformed requests ---------------------------------------------------------

def test_a_declared_oversize_body_is_refused_with_413(client):
    register(client, ALICE)
    cube = new_cube(client, ALICE)
    huge = {"items": [{"text": "x" * 10_000} for _ in range(10)]}
    problem(client.post(f"/v1/cubes/{cube}/memories", headers=ALICE, json=huge), 413)
    assert client.get("/v1/memories", headers=ALICE).json()["items"] == []


def test_a_streamed_oversize_body_without_content_length_is_refused_with_413(client):
    register(client, ALICE)
    chunks = (b'{"query": "' if i == 0 else b"y" * 8_192 for i in range(20))
    response = client.post("/v1/search", headers={**ALICE, "content-type": "application/json"}, content=chunks)
    problem(response, 413)


@pytest.mark.parametrize("body, content_type", [
    (b"{not json", "application/json"),
    (b'{"query": 42}', "application/json"),
    (b'{"query": "x", "top_k": "many"}', "application/json"),
    (b'{"query": "x", "unknown": 1}', "application/json"),
    (b"[]", "application/json"),
], ids=["malformed", "wrong type", "wrong number", "unknown field", "not an object"])
def test_a_body_that_does_not_match_the_schema_is_a_422_problem_listing_the_issues(client, body, content_type):
    register(client, ALICE)
    response = client.post("/v1/search", headers={**ALICE, "content-type": content_type}, content=body)
    assert problem(response, 422)["errors"]


def test_revoke_audit_and_point_in_time_over_http(client):
    import time

    register(client, ALICE)
    register(client, BOB)
    cube = new_cube(client, ALICE)
    [memory] = client.post(f"/v1/cubes/{cube}/memories", headers=ALICE,
                           json={"items": [{"text": "Alice hides the key under the blue pot"}]}).json()["memory_ids"]
    time.sleep(0.01)
    before_update = datetime.now(timezone.utc).isoformat()
    time.sleep(0.01)
    assert client.patch(f"/v1/memories/{memory}", headers=ALICE, json={"text": "Alice moved the key"}).status_code == 200
    then = client.get(f"/v1/memories/{memory}", headers=ALICE, params={"as_of": before_update})
    assert then.status_code == 200 and then.json()["text"] == "Alice hides the key under the blue pot"
    found = client.post("/v1/search", headers=ALICE, json={"query": "blue pot", "as_of": before_update}).json()
    assert [h["memory_id"] for h in found["hits"]] == [memory]
    assert problem(client.post("/v1/search", headers=ALICE, json={"query": "key", "as_of": "2999-01-01T00:00:00+00:00"}),
                   400)["detail"].endswith("is in the future")
    assert problem(client.get(f"/v1/memories/{memory}", headers=ALICE, params={"as_of": "soon"}), 400)
    steps = client.get(f"/v1/memories/{memory}/audit", headers=ALICE).json()["steps"]
    assert [s["event_type"] for s in steps] == ["MemoryCreated", "MemoryUpdated"]
    assert client.post(f"/v1/cubes/{cube}/shares", headers=ALICE, json={"user_id": "bob"}).status_code == 201
    assert client.get(f"/v1/memories/{memory}", headers=BOB).status_code == 200
    assert client.delete(f"/v1/cubes/{cube}/shares/bob", headers=ALICE).status_code == 204
    assert problem(client.get(f"/v1/memories/{memory}", headers=BOB), 404)
    assert problem(client.delete(f"/v1/cubes/{cube}/shares/bob", headers=ALICE), 409)


def test_erasure_over_http_removes_the_memory_for_everyone_and_only_its_owner_may_ask(client, alice_memory):
    cube, memory_id = alice_memory
    client.post(f"/v1/cubes/{cube}/shares", headers=ALICE, json={"user_id": "bob", "role": "writer"})
    (bobs,) = add(client, BOB, cube, "Bob's note about the lockers")

    problem(client.post(f"/v1/memories/{memory_id}/erase", headers=BOB, json={}), 403)
    erased = client.post(f"/v1/memories/{memory_id}/erase", headers=ALICE, json={"reason": "request #7"})

    assert erased.status_code == 200
    assert erased.json()["erased"] == {memory_id: "memory"} and erased.json()["keys_destroyed"] == 1
    problem(client.get(f"/v1/memories/{memory_id}", headers=ALICE), 404)
    hits = client.post("/v1/search", headers=BOB, json={"query": "locker code"}).json()["hits"]
    assert memory_id not in {h["memory_id"] for h in hits}
    history = client.get(f"/v1/memories/{memory_id}/history", headers=ALICE).json()["items"]
    assert history[-1]["type"] == "MemoryErased" and "4711" not in str(history)

    everything = client.post("/v1/users/me/erase", headers=BOB, json={"reason": "leaving"})
    assert everything.status_code == 200 and everything.json()["erased"] == {bobs: "user"}
