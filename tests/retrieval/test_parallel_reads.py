"""On server backends the retriever's two independent reads — the speakers of the candidates
(index) and the session chain around them (graph) — run side by side; the result must be
exactly what one-after-the-other gives."""

from __future__ import annotations

import threading

import pytest

from mos.embedders.hashing import HashingEmbedder
from mos.retrieval.hybrid import HybridRetriever
from projections.ports import Neighbour, ScoredId, SearchFilter

WHERE = SearchFilter(("c1",))


class Index:
    """Three turns of one session; `meet` is awaited by the speaker read."""

    def __init__(self, meet):
        self.meet = meet

    def bm25_and_knn(self, terms, vector, where, k):
        return [ScoredId("t2", 3.0)], [ScoredId("t2", 0.9), ScoredId("t1", 0.2)]

    def metadata_values(self, memory_ids, key):
        self.meet()
        return {m: "Ann" if m == "t2" else "Bob" for m in memory_ids}

    def documents(self, memory_ids):
        raise AssertionError("no tag or metadata filter: documents are not read")


class Graph:
    def __init__(self, meet):
        self.meet = meet

    def memory_neighbours(self, memory_ids, edge_kinds, cube_ids, states, max_entity_degree=25):
        return [Neighbour("t2", "t3", "NEXT_IN_SESSION"), Neighbour("t2", "t1", "NEXT_IN_SESSION")]

    def chain_links(self, memory_ids, edge_kind, hops, cube_ids, states):
        self.meet()
        return {("t1", "t2"), ("t2", "t3")}


def retriever(meet, parallel: bool) -> HybridRetriever:
    return HybridRetriever(Index(meet), Graph(meet), HashingEmbedder(), parallel_reads=parallel)


def test_parallel_reads_overlap_and_give_the_same_candidates_as_sequential_reads():
    both_waiting = threading.Barrier(2, timeout=10)  # passes only if the two reads run at once
    parallel = retriever(both_waiting.wait, parallel=True)
    sequential = retriever(lambda: None, parallel=False)
    try:
        got = parallel.candidates("What did Ann say?", WHERE, 3)
        assert got == sequential.candidates("What did Ann say?", WHERE, 3)
        assert set(got.rows) == {"t1", "t2", "t3"}
    finally:
        parallel.close()


def test_a_failing_read_fails_the_search_after_the_other_read_is_done():
    finished = []

    class FailingIndex(Index):
        def metadata_values(self, memory_ids, key):
            raise ConnectionError("index down")

    class SlowGraph(Graph):
        def chain_links(self, *args):
            threading.Event().wait(0.2)
            finished.append("graph")
            return set()

    broken = HybridRetriever(FailingIndex(None), SlowGraph(None), HashingEmbedder(), parallel_reads=True)
    try:
        with pytest.raises(ConnectionError):
            broken.candidates("What did Ann say?", WHERE, 3)
        assert finished == ["graph"]
    finally:
        broken.close()
