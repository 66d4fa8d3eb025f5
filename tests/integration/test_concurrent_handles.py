"""Two MOS handles (think: two processes) writing and projecting into one data directory
concurrently end with the same read models as a clean replay: no batch applied twice."""

from __future__ import annotations

import threading

from mos import MOS
from mos.embedders.hashing import HashingEmbedder
from projections.embedded.sqlite_graph_store import SqliteGraphStore
from projections.embedded.sqlite_search_index import SqliteSearchIndex
from projections.graph_projection import project_graph
from projections.runner import ProjectionRunner
from projections.search_projection import project_search


def test_concurrent_writers_and_projectors_equal_a_clean_replay(tmp_path):
    data = tmp_path / "data"
    with MOS(data, embedder=HashingEmbedder(32)) as setup:
        setup.create_user("alice")
        cube = setup.create_cube("shared", owner="alice")
    errors = []

    def work(worker: int) -> None:
        try:
            with MOS(data, embedder=HashingEmbedder(32)) as mos:
                for i in range(40):
                    ids = mos.add_many([{"text": f"worker {worker} note {i} {j}"} for j in range(3)], "alice", cube)
                    mos.archive(ids[0], "alice")
                    mos.search(f"note {i}", "alice")
        except Exception as exc:  # surfaced below, with the worker that raised it
            errors.append((worker, exc))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []

    with MOS(data, embedder=HashingEmbedder(32)) as mos:
        mos.sync()
        clean_index = SqliteSearchIndex(tmp_path / "clean-search.db", 32)
        clean_graph = SqliteGraphStore(tmp_path / "clean-graph.db")
        ProjectionRunner("search", mos.log, project_search, clean_index).catch_up()
        ProjectionRunner("graph", mos.log, project_graph, clean_graph).catch_up()
        assert mos._backend.index.snapshot() == clean_index.snapshot()
        assert mos._backend.graph.snapshot() == clean_graph.snapshot()
        assert len(mos.get_all("alice", include_archived=True)) == 3 * 40 * 3
