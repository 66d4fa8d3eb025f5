"""`mos serve` as a real server: uvicorn on a loopback port, spoken to over real HTTP.

What only a real server shows: the command starts from a token file and a data directory,
a chunked body over the limit is cut off with 413, concurrent requests from many clients
are served by the worker threadpool without errors, and SIGTERM shuts it down without
losing the access signals the SDK was still buffering.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from mos import MOS
from mos.domain.events import access_key
from mos.embedders.hashing import HashingEmbedder

pytestmark = pytest.mark.slow
SERVE = "import typer; from mos.rest.cli import serve_command; typer.run(serve_command)"
ALICE = {"Authorization": "Bearer alice-server-token"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(tmp_path, *args: str, env: dict | None = None) -> subprocess.Popen:
    environment = {**os.environ, "MOS_EMBEDDER": "hashing", "MOS_API_TOKENS": "", **(env or {})}
    environment.pop("MOS_API_TOKENS_FILE", None)
    return subprocess.Popen([sys.executable, "-c", SERVE, "--data-dir", str(tmp_path / "data"), *args],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def server(tmp_path):
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"tokens": [{"token": "alice-server-token", "user": "alice"}]}))
    port = free_port()
    process = serve(tmp_path, "--port", str(port), "--tokens-file", str(tokens), "--max-body-bytes", "20000")
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.stdout.read()
        try:
            httpx.get(f"{base}/openapi.json", timeout=1)
            break
        except httpx.TransportError:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
    yield base, process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_the_server_serves_many_clients_at_once_and_flushes_everything_on_sigterm(server, tmp_path):
    base, process = server
    with httpx.Client(base_url=base, headers=ALICE, timeout=30) as client:
        assert client.post("/v1/users/me").status_code == 201
        cube = client.post("/v1/cubes", json={"name": "notes"}).json()["cube_id"]

    def add_then_search(n: int) -> tuple[int, int, list[str]]:
        with httpx.Client(base_url=base, headers=ALICE, timeout=30) as own:
            added = own.post(f"/v1/cubes/{cube}/memories", json={"items": [{"text": f"note {n} about tea"}]})
            found = own.post("/v1/search", json={"query": "tea", "top_k": 50})
            return added.status_code, found.status_code, [h["memory_id"] for h in found.json()["hits"]]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(add_then_search, range(24)))
    assert [(added, found) for added, found, _ in results] == [(201, 200)] * 24
    page = httpx.get(f"{base}/v1/memories", headers=ALICE, params={"limit": 100}).json()
    assert len(page["items"]) == 24 and page["next_offset"] is None
    assert {m["provenance"]["source_app"] for m in page["items"]} == {"mos-rest"}

    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    assert "Application shutdown complete" in process.stdout.read()
    hits_served = Counter(memory_id for _, _, hits in results for memory_id in hits)
    with MOS(tmp_path / "data", embedder=HashingEmbedder()) as reopened:
        recorded = {m: sum(e.count for e in reopened.log.read_stream(access_key(m))) for m in hits_served}
    assert recorded == dict(hits_served)  # no buffered access signal was lost at shutdown


def test_a_chunked_body_over_the_limit_is_cut_off_with_413(server):
    base, _ = server

    def chunks():
        yield b'{"query": "'
        for _ in range(50):
            yield b"z" * 1000

    response = httpx.post(f"{base}/v1/search", headers={**ALICE, "content-type": "application/json"},
                          content=chunks(), timeout=30)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"


def test_serve_refuses_to_start_without_any_token(tmp_path):
    process = serve(tmp_path, "--port", str(free_port()))
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 1 and "no API tokens" in output
