"""Property: no request the OpenAPI schema admits (or nearly admits) makes the server fail.

Schemathesis generates requests for each operation from the app's own schema — valid ones
(positive) and ones that break it (negative) — and sends them, authenticated as alice,
straight to the ASGI app; `not_a_server_error` fails on any 5xx. Half the generated ids
(in paths, and `memory_ids` / `user_id` / `cube_ids` in bodies) are swapped for ones that
exist (alice's cube, an active and an archived memory of hers, bob's cube and memory), so
the deep paths are exercised too, not only the 404 a random id gets.

Schemathesis' own pytest integration (`schemathesis.pytest.from_fixture`) is not used: with
pytest 9.2 it fails on `request.node._nodeid`, which pytest no longer has. The per-operation
Hypothesis strategies (`APIOperation.as_strategy`) are its documented alternative.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from mos.rest.app import v1
from tests.rest.conftest import ALICE, BOB

pytestmark = pytest.mark.slow
EXAMPLES_PER_OPERATION = 40  # 15 operations x 2 modes: about 40 s on 2 cores
OPERATIONS = sorted((method, route.path) for route in v1.routes for method in route.methods)


@pytest.fixture
def api_schema(client):
    """The app's schema, with a world in the app whose ids the generated requests sometimes use."""
    for headers in (ALICE, BOB):
        client.post("/v1/users/me", headers=headers)
    for headers, cube_id in ((ALICE, "alice-cube"), (BOB, "bob-cube")):
        client.post("/v1/cubes", headers=headers, json={"name": cube_id, "cube_id": cube_id})
    memory_ids = []
    for headers, cube_id, text in ((ALICE, "alice-cube", "an active memory about tea"),
                                   (ALICE, "alice-cube", "an archived memory about tea"),
                                   (BOB, "bob-cube", "bob's memory about tea")):
        response = client.post(f"/v1/cubes/{cube_id}/memories", headers=headers,
                               json={"items": [{"text": text, "tags": ["tea"], "metadata": {"n": 1}}]})
        memory_ids += response.json()["memory_ids"]
    client.post(f"/v1/memories/{memory_ids[1]}/archive", headers=ALICE)
    known = {"cube_id": ["alice-cube", "bob-cube"], "memory_id": memory_ids}

    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)

    @schema.hook("flatmap_path_parameters")
    def sometimes_known_ids(context, path_parameters):
        swaps = {name: st.sampled_from(known[name]) for name in path_parameters or () if name in known}
        if not swaps:
            return st.just(path_parameters)
        return st.one_of(st.just(path_parameters), _with(path_parameters, swaps))

    @schema.hook("flatmap_body")
    def sometimes_known_references(context, body):
        if not isinstance(body, dict):
            return st.just(body)
        swaps = {"memory_ids": st.lists(st.sampled_from(memory_ids), min_size=2, max_size=3),
                 "user_id": st.sampled_from(["alice", "bob"]),
                 "cube_ids": st.lists(st.sampled_from(known["cube_id"]), min_size=1, max_size=2)}
        swaps = {name: strategy for name, strategy in swaps.items() if name in body}
        return st.one_of(st.just(body), _with(body, swaps)) if swaps else st.just(body)

    return schema


def _with(values: dict, swaps: dict) -> st.SearchStrategy:
    return st.fixed_dictionaries({**{name: st.just(value) for name, value in values.items()}, **swaps})


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize("method, path", OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_generated_request_gets_a_server_error(api_schema, method, path, mode):
    operation = api_schema[path][method]

    @given(case=operation.as_strategy(mode))
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def never_a_5xx(case):
        response = case.call(headers=ALICE)
        case.validate_response(response, checks=[not_a_server_error])

    never_a_5xx()
