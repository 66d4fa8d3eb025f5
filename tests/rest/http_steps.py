"""Small HTTP steps the REST specifications are written in."""

from __future__ import annotations


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"] and isinstance(body["detail"], str)
    return body


def register(client, *who: dict) -> None:
    for headers in who:
        assert client.post("/v1/users/me", headers=headers).status_code in (200, 201)


def new_cube(client, headers: dict, name: str = "notes") -> str:
    response = client.post("/v1/cubes", headers=headers, json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["cube_id"]


def add(client, headers: dict, cube_id: str, *texts: str) -> list[str]:
    response = client.post(f"/v1/cubes/{cube_id}/memories", headers=headers,
                           json={"items": [{"text": t} for t in texts]})
    assert response.status_code == 201, response.text
    return response.json()["memory_ids"]
