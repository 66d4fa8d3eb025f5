"""bench/load.py at a tiny bound, on the real servers: it stops by itself, everything it got
acknowledged reaches the read model, its plot is a real PNG, and it leaves no process behind."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import subprocess
import sys
import time
import uuid
import zlib
from pathlib import Path

import pytest

from mos.config import PipelineSettings
from tests.pipeline.real_read_models import make_graph, make_index

pytestmark = [pytest.mark.services, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
LOAD_SECONDS, BASELINE_SECONDS = 8, 3


def png_chunks(data: bytes) -> list[bytes]:
    """Chunk types of a PNG, each CRC checked; AssertionError if the file is not one."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "no PNG signature"
    kinds, position = [], 8
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in the {kind!r} chunk"
        kinds.append(kind)
        position += 12 + length
    return kinds


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def delete_run(settings: PipelineSettings) -> None:
    """The run was kept (`--keep`) for the checks here; delete what it left."""
    from aiokafka.admin import AIOKafkaAdminClient

    make_index(settings).close()
    make_graph(settings).close()

    async def delete_topics() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            await admin.delete_topics([t for t in (settings.events_topic, settings.dead_letter_topic,
                                                   settings.promotions_topic) if t in existing])
        finally:
            await admin.close()

    asyncio.run(delete_topics())


def test_a_tiny_load_run_stops_by_itself_and_every_acknowledged_event_is_projected(tmp_path):
    from elasticsearch import Elasticsearch

    from streams.services import endpoints_for_tests

    endpoints = endpoints_for_tests()  # up before the clock starts: the bound is on the load run
    name = f"mos-test-load-{uuid.uuid4().hex[:8]}"
    settings = PipelineSettings.isolated(endpoints, name)
    command = [sys.executable, "bench/load.py", "--seconds", str(LOAD_SECONDS), "--baseline-seconds",
               str(BASELINE_SECONDS), "--producer-rate", "40", "--producer-batch", "20", "--drain-timeout", "45",
               "--out", str(tmp_path), "--name", name, "--keep"]
    env = {**os.environ, **endpoints.as_env(),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    began = time.monotonic()
    try:
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=150)
        elapsed = time.monotonic() - began
        assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-3000:]}"
        report = json.loads((tmp_path / "load.json").read_text())
        result, phases = report["result"], report["phases"]

        assert phases["load_end"] - phases["load_start"] <= LOAD_SECONDS + 5  # stopped writing by itself
        assert elapsed < 120
        assert result["writes"]["rest"]["events"] > 0 and result["writes"]["producer"]["events"] > 0
        assert result["searches"]["search_load"]["requests"] > 0
        assert result["searches"]["search_baseline"]["requests"] > 0

        after_writes = [s for s in report["samples"] if s["t"] >= phases["load_end"]]
        assert set(result["drain_seconds"]) == {"read_models", "worker_committed"}
        assert result["lag"]["read_models"]["max"] >= 0 and result["lag"]["worker_committed"]["max"] > 0
        assert any(s["projection_lag"] == 0 and s["checkpoint"] > 0 for s in after_writes)  # all visible
        assert any(s["lag"] == 0 and s["committed"] > 0 for s in after_writes)  # the worker committed all
        assert max(s["end"] for s in report["samples"]) > result["acked_events"]
        with Elasticsearch(settings.es_url) as es:
            es.indices.refresh(index=settings.es_index)
            documents = es.count(index=settings.es_index)["count"]
        assert documents == result["acked_events"] == result["documents"]

        kinds = png_chunks((tmp_path / "load.png").read_bytes())
        assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds

        assert report["leftover_pids"] == []
        assert not [pid for pid in report["pids"].values() if alive(pid)]
        host, port = report["rest_base"].removeprefix("http://").rsplit(":", 1)
        with pytest.raises(OSError), socket.create_connection((host, int(port)), timeout=2):
            pass  # nothing listens on the REST port any more
    finally:
        delete_run(settings)


def test_the_load_generator_refuses_a_non_loopback_host(tmp_path):
    done = subprocess.run([sys.executable, "bench/load.py", "--host", "192.0.2.1", "--seconds", "1",
                           "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "non-loopback" in done.stderr
    assert not (tmp_path / "load.json").exists()
