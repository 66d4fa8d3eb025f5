"""Read-model contract: filters are honoured by every query, and `apply` is atomic with the
checkpoint (a failing batch leaves documents and checkpoint exactly as they were)."""

from __future__ import annotations

import json

import pytest

from projections.graph_writes import AppendToSession, UpsertEdge, UpsertNode
from projections.ports import (
    GraphContext,
    RankedLists,
    SearchFilter,
    context_in_two_reads,
    ranked_lists_in_two_reads,
)
from projections.search_writes import PatchDocument, UpsertDocument
from projections.speakers import memory_speaker_keys, query_speaker_keys

from tests.contract.read_model_adapters import GRAPH_STORES, SEARCH_INDEXES


@pytest.fixture(params=sorted(SEARCH_INDEXES))
def index(request, tmp_path):
    store = SEARCH_INDEXES[request.param](tmp_path)
    yield store
    store.close()


@pytest.fixture(params=sorted(GRAPH_STORES))
def graph(request, tmp_path):
    store = GRAPH_STORES[request.param](tmp_path)
    yield store
    store.close()


def doc(memory_id, cube, text, vector, tags=(), metadata_json="{}"):
    return UpsertDocument(memory_id, cube, text, tuple(tags), metadata_json, tuple(vector), "plaintext", "active", 1,
                          0, "alice", "app", f"e-{memory_id}", ())


def archive(memory_id):
    return PatchDocument(memory_id, 2, 1, f"e2-{memory_id}", "alice", state="archived")


@pytest.fixture
def filled(index):
    index.apply([
        doc("m1", "c1", "Alice runs marathons in Berlin", (1, 0, 0, 0), ["sport"]),
        doc("m2", "c1", "Alice drinks green tea", (0, 1, 0, 0)),
        doc("m3", "c2", "Bob runs a bakery in Berlin", (0.9, 0.1, 0, 0)),
        doc("m4", "c1", "Old note about running shoes", (0.8, 0, 0.2, 0)),
    ], next_offset=4)
    index.apply([archive("m4")], next_offset=5)
    return index


def ids(results):
    return [r.memory_id for r in results]


def test_bm25_is_filtered_by_cube_and_state_and_stems_terms(filled):
    assert ids(filled.bm25(["running"], SearchFilter(("c1",)), 10)) == ["m1"]
    assert set(ids(filled.bm25(["running"], SearchFilter(("c1",), ("active", "archived")), 10))) == {"m1", "m4"}
    assert set(ids(filled.bm25(["berlin"], SearchFilter(("c1", "c2")), 10))) == {"m1", "m3"}
    assert filled.bm25(["berlin"], SearchFilter(()), 10) == []


def test_knn_is_exact_within_the_filter(filled):
    assert ids(filled.knn([1, 0, 0, 0], SearchFilter(("c1",)), 10)) == ["m1", "m2"]
    assert ids(filled.knn([1, 0, 0, 0], SearchFilter(("c1", "c2")), 2)) == ["m1", "m3"]
    assert ids(filled.knn([1, 0, 0, 0], SearchFilter(("c1",), ("archived",)), 10)) == ["m4"]
    assert ids(filled.knn([1, 0, 0, 0], SearchFilter(("c1",), tags_all=("sport",)), 10)) == ["m1"]


def test_a_zero_query_vector_is_nobodys_neighbour(filled):
    assert filled.knn([0, 0, 0, 0], SearchFilter(("c1", "c2")), 3) == []


def test_bm25_and_knn_together_equal_the_two_queries(filled):
    for where in (SearchFilter(("c1",)), SearchFilter(("c1", "c2"), ("active", "archived")), SearchFilter(())):
        both = filled.bm25_and_knn(["running", "berlin"], [1, 0, 0, 0], where, 3)
        assert both == (filled.bm25(["running", "berlin"], where, 3), filled.knn([1, 0, 0, 0], where, 3))
    assert filled.bm25_and_knn(["the"], [1, 0, 0, 0], SearchFilter(("c1",)), 2) == (
        [], filled.knn([1, 0, 0, 0], SearchFilter(("c1",)), 2))  # nothing to match: only kNN is asked


def test_ranked_lists_bring_the_hits_metadata_values_as_the_two_reads_would(filled):
    metadata = {"speaker": "Ann " * 300, "n": {"a": 1}}  # a long and a non-string value too
    filled.apply([doc("m5", "c1", "running in berlin", (1, 0, 0, 0), metadata_json=json.dumps(metadata))],
                 next_offset=6)
    where = SearchFilter(("c1", "c2"))
    for key in ("speaker", "n", "absent"):
        lists = filled.ranked_lists(["running", "berlin"], [1, 0, 0, 0], where, 3, key)
        assert (lists.bm25, lists.knn) == filled.bm25_and_knn(["running", "berlin"], [1, 0, 0, 0], where, 3)
        assert lists == ranked_lists_in_two_reads(filled, ["running", "berlin"], [1, 0, 0, 0], where, 3, key)
        assert lists.metadata == ({"m5": metadata[key]} if key in metadata else {})
    assert filled.ranked_lists(["the"], [0, 0, 0, 0], where, 3, "speaker") == RankedLists([], [], {})


def test_metadata_values_read_one_key_of_the_memories_that_have_it(filled):
    filled.apply([doc("m5", "c1", "hi", (0, 0, 1, 0), metadata_json='{"speaker": "Ann", "n": {"a": 1}}')],
                 next_offset=6)
    assert filled.metadata_values(["m5", "m1", "nope"], "speaker") == {"m5": "Ann"}
    assert filled.metadata_values(["m5"], "n") == {"m5": {"a": 1}}
    assert filled.metadata_values([], "speaker") == {}


def test_metadata_values_come_back_as_written_whatever_their_type_or_length(filled):
    long_name = "Ann " * 300  # an equality filter's indexed form of this one is a hash
    metadata = {"speaker": long_name, "weight": 1.0, "ok": True, "none": None}
    filled.apply([doc("m5", "c1", "hi", (0, 0, 1, 0), metadata_json=json.dumps(metadata))], next_offset=6)
    for key, value in metadata.items():
        got = filled.metadata_values(["m5", "m1"], key)
        assert got == {"m5": value} and type(got["m5"]) is type(value)


def test_redelivering_a_failed_batch_gives_the_same_model_as_applying_it_once(filled, tmp_path, request):
    """The exactly-once *effect*: transactional adapters roll a failed batch back; the others
    apply idempotently by version. Either way the checkpoint never moves past a failure."""
    batch = [doc("m5", "c1", "new note", (0, 0, 1, 0)), archive("m1")]
    with pytest.raises(KeyError):
        filled.apply(batch + [archive("does-not-exist")], next_offset=6)
    assert filled.checkpoint() == 5
    filled.apply(batch, next_offset=6)
    filled.apply(batch, next_offset=6)  # at-least-once delivery: the same batch again
    assert ids(filled.knn([0, 0, 1, 0], SearchFilter(("c1",)), 10)) == ["m5", "m2"]
    assert ids(filled.knn([1, 0, 0, 0], SearchFilter(("c1",), ("archived",)), 10)) == ["m1", "m4"]
    assert filled.checkpoint() == 6


def test_stale_writes_are_ignored_by_version(filled):
    filled.apply([PatchDocument("m2", 1, 9, "e-old", "alice", state="archived")], next_offset=6)
    assert ids(filled.knn([0, 1, 0, 0], SearchFilter(("c1",)), 1)) == ["m2"]


def test_reset_empties_the_model_and_the_checkpoint(filled):
    filled.reset()
    assert filled.checkpoint() == 0 and filled.knn([1, 0, 0, 0], SearchFilter(("c1", "c2")), 10) == []


def test_graph_roles_sessions_and_filtered_neighbours(graph):
    graph.apply([
        UpsertNode("user:alice", "User"), UpsertNode("cube:c1", "Cube", cube_id="c1"),
        UpsertEdge("HAS_ROLE", "user:alice", "cube:c1", role="owner"),
        UpsertNode("memory:a", "Memory", cube_id="c1", state="active"), AppendToSession("c1", "memory:a"),
        UpsertNode("memory:b", "Memory", cube_id="c1", state="active"), AppendToSession("c1", "memory:b"),
        UpsertNode("memory:c", "Memory", cube_id="c1", state="archived"), AppendToSession("c1", "memory:c"),
    ], next_offset=3)
    assert graph.cube_roles("alice") == {"c1": "owner"}
    found = graph.memory_neighbours(["b"], ["NEXT_IN_SESSION"], ["c1"], ["active"])
    assert {(n.seed_id, n.memory_id) for n in found} == {("b", "a")}  # c is archived
    assert graph.memory_neighbours(["b"], ["NEXT_IN_SESSION"], ["other"], ["active"]) == []


def test_graph_chain_links_walk_the_session_both_ways_within_hops_and_scope(graph):
    names = "abcdefg"
    graph.apply([write for name in names for write in (
        UpsertNode(f"memory:{name}", "Memory", cube_id="c1", state="archived" if name == "c" else "active"),
        AppendToSession("c1", f"memory:{name}"))], next_offset=1)
    assert graph.chain_links(["e"], "NEXT_IN_SESSION", 2, ["c1"], ["active"]) == {
        ("d", "e"), ("e", "f"), ("f", "g")}  # d's link to c is a step onto an archived memory
    assert graph.chain_links(["a", "f"], "NEXT_IN_SESSION", 1, ["c1"], ["active"]) == {
        ("a", "b"), ("e", "f"), ("f", "g")}
    assert graph.chain_links(["b"], "NEXT_IN_SESSION", 3, ["c1"], ["active", "archived"]) == {
        ("a", "b"), ("b", "c"), ("c", "d"), ("d", "e")}
    assert graph.chain_links(["e"], "NEXT_IN_SESSION", 2, ["other"], ["active"]) == set()
    assert graph.chain_links([], "NEXT_IN_SESSION", 2, ["c1"], ["active"]) == set()


def test_graph_retrieval_context_is_the_neighbours_and_the_chain_around_seeds_and_neighbours(graph):
    """One read on a server; the same as the two reads it replaces, on every backend."""
    names = "abcdefgh"
    graph.apply([write for name in names for write in (
        UpsertNode(f"memory:{name}", "Memory", cube_id="c1", state="archived" if name == "g" else "active"),
        AppendToSession("c1", f"memory:{name}"))]
        + [UpsertNode("memory:x", "Memory", cube_id="c1", state="active"),
           UpsertEdge("DERIVED_FROM", "memory:x", "memory:a")], next_offset=1)
    kinds = ("NEXT_IN_SESSION", "DERIVED_FROM")
    context = graph.retrieval_context(["x", "e"], kinds, ["c1"], ["active"], 25, "NEXT_IN_SESSION", 1)
    assert {(n.seed_id, n.memory_id, n.edge_kind) for n in context.neighbours} == {
        ("x", "a", "DERIVED_FROM"), ("e", "d", "NEXT_IN_SESSION"), ("e", "f", "NEXT_IN_SESSION")}
    # one hop from x, e and their neighbours a, d, f; f's link to g is a step onto an archived memory
    assert context.chain == {("a", "b"), ("c", "d"), ("d", "e"), ("e", "f")}
    assert context == context_in_two_reads(graph, ["x", "e"], kinds, ["c1"], ["active"], 25, "NEXT_IN_SESSION", 1)
    without_chain = graph.retrieval_context(["x", "e"], kinds, ["c1"], ["active"], 25, "NEXT_IN_SESSION", 0)
    assert without_chain.chain == frozenset() and without_chain.neighbours == context.neighbours
    assert graph.retrieval_context([], kinds, ["c1"], ["active"], 25, "NEXT_IN_SESSION", 2) == GraphContext((), frozenset())
    assert graph.retrieval_context(["e"], kinds, ["other"], ["active"], 25, "NEXT_IN_SESSION", 2).chain == frozenset()
    only_chain = graph.retrieval_context(["e"], (), ["c1"], ["active"], 25, "NEXT_IN_SESSION", 1)
    assert only_chain == GraphContext((), frozenset({("d", "e"), ("e", "f")}))


def test_graph_tells_which_neighbours_a_querys_names_name_the_speaker_of(graph):
    """Memory nodes hold hashed speaker keys (projections.speakers), replaced on update."""
    maria, bob = memory_speaker_keys("c1", '{"speaker": "Ms Maria Lopez"}'), memory_speaker_keys("c1", '{"speaker": "Bob"}')
    graph.apply([UpsertNode(f"memory:{name}", "Memory", cube_id="c1", state="active", speaker_keys=keys)
                 for name, keys in (("a", maria), ("b", bob), ("c", maria), ("d", ()))]
                + [AppendToSession("c1", f"memory:{name}") for name in "abcd"], next_offset=1)
    asked = query_speaker_keys(["c1"], ["maria"])
    assert graph.speakers_named(["a", "b", "c", "d", "absent"], asked) == {"a", "c"}
    assert graph.speakers_named(["a", "b"], query_speaker_keys(["c2"], ["maria"])) == set()  # another cube's keys
    assert graph.speakers_named(["a", "b"], ()) == set()
    context = graph.retrieval_context(["b"], ("NEXT_IN_SESSION",), ["c1"], ["active"], 25, "NEXT_IN_SESSION", 1, asked)
    assert context.speakers_named == {"a", "c"}  # b's neighbours; b itself is a seed, not a neighbour
    assert context == context_in_two_reads(graph, ["b"], ("NEXT_IN_SESSION",), ["c1"], ["active"], 25,
                                           "NEXT_IN_SESSION", 1, asked)
    graph.apply([UpsertNode("memory:a", "Memory", cube_id="c1", speaker_keys=bob)], next_offset=2)
    assert graph.speakers_named(["a", "c"], asked) == {"c"}
    assert graph.speakers_named(["a"], query_speaker_keys(["c1"], ["bob"])) == {"a"}
    # only memories have speakers: another node with keys, reached by an edge, is named by nobody
    graph.apply([UpsertNode("entity:x", "Entity", cube_id="c1", state="active", speaker_keys=maria),
                 UpsertEdge("DERIVED_FROM", "memory:b", "entity:x")], next_offset=3)
    context = graph.retrieval_context(["b"], ("DERIVED_FROM",), ["c1"], ["active"], 25, "NEXT_IN_SESSION", 1, asked)
    assert [n.memory_id for n in context.neighbours] == ["entity:x"] and context.speakers_named == frozenset()


def test_graph_failing_batch_is_rolled_back(graph):
    graph.apply([UpsertNode("user:alice", "User")], next_offset=1)
    before = graph.snapshot()
    with pytest.raises(TypeError):
        graph.apply([UpsertNode("user:bob", "User"), object()], next_offset=2)
    assert graph.snapshot() == before
