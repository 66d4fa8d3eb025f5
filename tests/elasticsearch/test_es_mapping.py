"""The Elasticsearch index's own promises, beyond the shared read-model contract: its mapping,
stemming done in Python (this ES build has no stemmer), exact metadata filters, the
checkpoint guard and the zero-vector case. Runs against a real server."""

from __future__ import annotations

import json
import uuid

import pytest

from projections.checkpoints import CheckpointMoved
from projections.elasticsearch.search_index import ElasticsearchSearchIndex
from projections.elasticsearch.text_terms import document_terms, query_stems
from projections.ports import SearchFilter
from projections.search_writes import UpsertDocument

DIM = 4


@pytest.fixture
def es_url():
    from streams.services import endpoints_for_tests

    return endpoints_for_tests(("elasticsearch",)).es_url


@pytest.fixture
def index(es_url):
    store = ElasticsearchSearchIndex(es_url, f"mos-test-{uuid.uuid4().hex[:12]}", DIM, refresh=True,
                                     delete_on_close=True)
    yield store
    store.close()


def doc(memory_id, text, vector=(1, 0, 0, 0), metadata=None, created_at=0, cube="c1"):
    return UpsertDocument(memory_id, cube, text, (), json.dumps(metadata or {}), tuple(vector), "plaintext",
                          "active", 1, created_at, "alice", "app", f"e-{memory_id}", ())


def test_mapping_has_cosine_hnsw_vectors_keywords_and_python_stems(index):
    mapping = index._es.indices.get_mapping(index=index.index)[index.index]["mappings"]
    fields = mapping["properties"]
    assert mapping["dynamic"] == "strict"
    assert fields["embedding"] == {"type": "dense_vector", "dims": DIM, "index": True, "similarity": "cosine",
                                   "index_options": fields["embedding"]["index_options"]}
    assert fields["embedding"]["index_options"]["type"] == "hnsw"
    for name in ("memory_id", "cube_id", "state", "tags", "memory_type", "created_by", "metadata_pairs"):
        assert fields[name]["type"] == "keyword", name
    assert fields["created_at"]["type"] == fields["updated_at"]["type"] == "date"
    assert fields["version"]["type"] == "long"
    assert fields["text_terms"]["analyzer"] == "whitespace"
    assert fields["metadata_json"]["index"] is False


def test_stemming_happens_in_python_for_documents_and_queries_alike():
    assert query_stems(["running"]) == query_stems(["runs"]) == ["run"]
    assert document_terms("The Café RUNS marathons, don't they?") == "cafe run marathon"


def test_running_finds_runs(index):
    index.apply([doc("m1", "She runs every morning"), doc("m2", "Green tea")], next_offset=2)
    assert [r.memory_id for r in index.bm25(["running"], SearchFilter(("c1",)), 10)] == ["m1"]


def test_metadata_equality_is_exact_and_type_sensitive(index):
    index.apply([doc("n", "a", metadata={"n": 1, "tag": {"b": 2, "a": 1}}), doc("s", "b", metadata={"n": "1"})],
                next_offset=2)

    def found(value):
        where = SearchFilter(("c1",), metadata_equals=value)
        return {d.memory_id for d in index.list_documents(where, 10, 0)}

    assert found({"n": 1}) == found({"n": 1.0}) == {"n"}
    assert found({"n": "1"}) == {"s"}
    assert found({"tag": {"a": 1, "b": 2}}) == {"n"}
    assert found({"missing": 1}) == set()


def test_a_moved_checkpoint_refuses_the_batch_before_writing(index):
    index.apply([doc("m1", "first")], next_offset=1)
    with pytest.raises(CheckpointMoved):
        index.apply([doc("m2", "second")], next_offset=2, expected_checkpoint=0)
    assert index.documents(["m2"]) == {} and index.checkpoint() == 1
    index.apply([doc("m2", "second")], next_offset=2, expected_checkpoint=1)
    assert index.checkpoint() == 2


def test_list_documents_pages_by_created_at_then_memory_id(index):
    index.apply([doc("b", "x", created_at=5), doc("a", "x", created_at=5), doc("c", "x", created_at=1)],
                next_offset=3)
    listed = [d.memory_id for d in index.list_documents(SearchFilter(("c1",)), 2, 1)]
    assert listed == ["a", "b"]


def test_a_zero_embedding_is_stored_but_never_a_neighbour(index):
    index.apply([doc("z", "zero", vector=(0, 0, 0, 0)), doc("u", "unit")], next_offset=2)
    assert [r.memory_id for r in index.knn([1, 0, 0, 0], SearchFilter(("c1",)), 10)] == ["u"]
    assert index.knn([0, 0, 0, 0], SearchFilter(("c1",)), 10) == []
    assert index.snapshot()["documents"]["z"][1] == bytes(4 * DIM)


def test_knn_scores_are_cosine_similarities(index):
    index.apply([doc("same", "a", (1, 0, 0, 0)), doc("opposite", "b", (-1, 0, 0, 0))], next_offset=2)
    scores = {r.memory_id: r.score for r in index.knn([2, 0, 0, 0], SearchFilter(("c1",)), 10)}
    assert scores == pytest.approx({"same": 1.0, "opposite": -1.0}, abs=1e-5)


def test_an_existing_index_of_another_width_is_refused(index, es_url):
    with pytest.raises(ValueError, match="4-d"):
        ElasticsearchSearchIndex(es_url, index.index, 8)
