"""Killing the projection runner (SIGKILL, mid-batch) and restarting it yields read models
equal to a clean replay: no event applied twice, none skipped."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from mos import MOS
from mos.embedders.hashing import HashingEmbedder
from projections.embedded.sqlite_graph_store import SqliteGraphStore
from projections.embedded.sqlite_search_index import SqliteSearchIndex
from projections.graph_projection import project_graph
from projections.runner import ProjectionRunner
from projections.search_projection import project_search
from streams.embedded.sqlite_event_log import SqliteEventLog

DIMENSION = 64


def build_log(data_dir: Path) -> None:
    with MOS(data_dir, embedder=HashingEmbedder(DIMENSION)) as mos:
        mos.create_user("alice")
        cube = mos.create_cube("crash", owner="alice")
        ids = []
        for chunk in range(8):
            ids += mos.add_many([{"text": f"memory {chunk}-{i} about Topic{i % 13} and Place{i % 7}",
                                  "tags": [f"t{i % 3}"]} for i in range(500)], "alice", cube)
        for memory_id in ids[::50]:
            mos.update(memory_id, "alice", text="rewritten memory about Lisbon")
        for memory_id in ids[7::60]:
            mos.archive(memory_id, "alice")
        mos.merge(ids[1:3], "alice")
        for runner in mos._backend.runners:
            runner.target.reset()  # read models start from nothing: the runner has all to do


def start_runner(data_dir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "mos.cli.app", "project", "--data-dir", str(data_dir), "--batch-size", "40"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def checkpoint_of(data_dir: Path) -> int:
    index = SqliteSearchIndex(data_dir / "search.db", DIMENSION)
    try:
        return index.checkpoint()
    finally:
        index.close()


def created_before(log: SqliteEventLog, offset: int) -> int:
    return sum(1 for r in log.read(0, limit=offset) if r.event.type_name == "MemoryCreated")


def test_sigkilled_runner_resumes_to_the_same_read_models_as_a_clean_replay(tmp_path):
    data_dir = tmp_path / "data"
    build_log(data_dir)
    log = SqliteEventLog(data_dir / "events.db")
    head = log.head()
    rng = random.Random(7)
    killed_mid_stream = 0
    for _ in range(5):
        before = checkpoint_of(data_dir)
        process = start_runner(data_dir)
        while process.poll() is None and checkpoint_of(data_dir) == before:
            time.sleep(0.005)  # wait until this run has committed at least one batch…
        time.sleep(rng.uniform(0.0, 0.1))  # …then kill it at a random point of a later one
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait()
        index = SqliteSearchIndex(data_dir / "search.db", DIMENSION)
        checkpoint = index.checkpoint()
        # The checkpoint and the writes moved together: exactly the documents of the events before it.
        documents = index._db.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
        assert documents == created_before(log, checkpoint)
        killed_mid_stream += 0 < checkpoint < head
        index.close()
    assert killed_mid_stream >= 3, f"only {killed_mid_stream} kills landed mid-stream"

    finisher = start_runner(data_dir)
    assert finisher.wait(timeout=300) == 0, finisher.stderr.read().decode()

    clean_index = SqliteSearchIndex(tmp_path / "clean-search.db", DIMENSION)
    clean_graph = SqliteGraphStore(tmp_path / "clean-graph.db")
    ProjectionRunner("search", log, project_search, clean_index).catch_up()
    ProjectionRunner("graph", log, project_graph, clean_graph).catch_up()
    resumed_index = SqliteSearchIndex(data_dir / "search.db", DIMENSION)
    resumed_graph = SqliteGraphStore(data_dir / "graph.db")
    assert resumed_index.checkpoint() == head
    assert resumed_index.snapshot() == clean_index.snapshot()
    assert resumed_graph.snapshot() == clean_graph.snapshot()
