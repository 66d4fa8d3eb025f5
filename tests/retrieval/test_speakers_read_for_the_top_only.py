"""Where a neighbour's speaker comes from.

- Metadata `speaker` (the key the graph projects, hashed): from the graph read itself; no
  metadata is read from the index after the engine lists, and the results equal those of
  reading every speaker from the index.
- Any other `speaker_key`: read from the index, and only when it can change the top k: the
  speaker adds one weight, so a candidate below the k-th score by more than that weight
  stays out whatever its speaker. The top k, its order and its scores must equal those of
  reading every speaker, and some reads must be saved (else the rule does nothing)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mos.retrieval.features import FEATURES
from mos.retrieval.fusion import linear
from mos.retrieval.hybrid import HybridRetriever, RetrievalConfig
from projections.ports import SearchFilter
from tests.retrieval.test_recall_sample import sample_in_a_cube


class CountingReads:
    """The search index, counting the memories whose metadata is read after the engine lists."""

    def __init__(self, index):
        self._index, self.read = index, 0

    def metadata_values(self, memory_ids, key):
        self.read += len(memory_ids)
        return self._index.metadata_values(memory_ids, key)

    def __getattr__(self, name):
        return getattr(self._index, name)


OTHER_KEY = replace(RetrievalConfig(), speaker_key="who")  # the speaker again, under a key the graph ignores


@pytest.fixture(scope="module")
def dialogue(tmp_path_factory):
    mos, cube, questions = sample_in_a_cube(tmp_path_factory.mktemp("speakers"), speaker_also_as="who")
    yield mos, SearchFilter((cube,)), [q for q, _ in questions]
    mos.close()


@pytest.mark.parametrize("top_k", [1, 5, 10])
def test_the_graph_gives_the_neighbours_speakers_read_from_the_index_otherwise(dialogue, top_k):
    mos, where, questions = dialogue
    index = CountingReads(mos._backend.index)
    from_graph = HybridRetriever(index, mos._backend.graph, mos.embedder)
    from_index = HybridRetriever(index, mos._backend.graph, mos.embedder, OTHER_KEY)
    for question in questions:
        before = index.read
        got = from_graph.retrieve(question, where, top_k)
        assert index.read == before, question
        expected = from_index.candidates(question, where, top_k)  # every speaker read
        assert [(r.memory_id, r.score) for r in got] == \
            [(r.memory_id, r.score) for r in from_index.retrieve(question, where, top_k)], question
        assert from_graph.candidates(question, where, top_k).rows == expected.rows, question
    assert index.read > 0


@pytest.mark.parametrize("top_k", [1, 5, 10])
def test_the_top_k_is_that_of_reading_every_speaker_with_fewer_reads(dialogue, top_k):
    mos, where, questions = dialogue
    index = CountingReads(mos._backend.index)
    retriever = HybridRetriever(index, mos._backend.graph, mos.embedder, OTHER_KEY)
    weights = [RetrievalConfig().weights[name] for name in FEATURES]
    every_speaker_reads = 0
    for question in questions:
        before = index.read
        exact = linear(retriever.candidates(question, where, top_k).rows, weights)[:top_k]
        every_speaker_reads += index.read - before
        got = retriever.retrieve(question, where, top_k)
        assert [r.memory_id for r in got] == [memory_id for memory_id, _ in exact], question
        assert [r.score for r in got] == pytest.approx([score for _, score in exact]), question
    lazy_reads = index.read - every_speaker_reads
    assert every_speaker_reads > 0 and lazy_reads < every_speaker_reads


def test_other_fusions_read_no_speaker_after_the_lists(dialogue):
    mos, where, questions = dialogue
    index = CountingReads(mos._backend.index)
    retriever = HybridRetriever(index, mos._backend.graph, mos.embedder, replace(RetrievalConfig(), fusion="rrf"))
    for question in questions:
        retriever.retrieve(question, where, 5)
    assert index.read == 0
