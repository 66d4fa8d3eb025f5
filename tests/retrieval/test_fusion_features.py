"""Features and fusion: normalised per query, context from neighbours, a total order."""

from __future__ import annotations

import pytest

from mos.retrieval.features import FEATURES, candidate_features, normalised
from mos.retrieval.fusion import fuse, linear
from mos.retrieval.learned_weights import shipped_weights
from projections.ports import ScoredId


def test_normalised_scales_each_list_to_unit_range_whatever_the_engine_scale():
    assert normalised([ScoredId("a", 12.0), ScoredId("b", 7.0), ScoredId("c", 2.0)]) == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert normalised([ScoredId("a", 3.0), ScoredId("b", 3.0)]) == {"a": 1.0, "b": 1.0}
    assert normalised([]) == {}


def test_context_features_are_the_best_neighbour_scores_and_missing_signals_score_zero():
    signals = {"bm25": {"a": 1.0, "b": 0.2}, "vector": {"b": 0.9, "c": 0.4}}
    rows = candidate_features(signals, {"c": ["a", "b"], "a": ["c"]}, {"b"}, ["a", "b", "c"])
    assert rows["a"] == (1.0, 0.0, 0.0, 0.4, 0.0, 0.0, 0.0)
    assert rows["b"] == (0.2, 0.9, 0.0, 0.0, 1.0, 0.0, 0.0)
    assert rows["c"] == (0.0, 0.4, 1.0, 0.9, 0.0, 0.0, 0.0)
    assert all(len(row) == len(FEATURES) for row in rows.values())


def test_window_signals_fill_the_window_features_in_feature_order():
    signals = {"bm25": {"a": 1.0}, "window_bm25": {"a": 0.3, "b": 1.0}, "window_vector": {"b": 0.6}}
    rows = candidate_features(signals, {}, set(), ["a", "b"])
    assert dict(zip(FEATURES, rows["a"]))["window_bm25"] == 0.3
    assert dict(zip(FEATURES, rows["b"]))["window_vector"] == 0.6


def test_linear_fusion_orders_by_weighted_sum_then_by_id():
    assert linear({"b": (1.0, 0.0), "a": (0.0, 2.0), "c": (0.5, 0.0)}, (2.0, 1.0)) == \
        [("a", 2.0), ("b", 2.0), ("c", 1.0)]


def test_minmax_fusion_keeps_how_much_better_the_top_hit_is_and_rrf_only_ranks():
    results = {"bm25": [ScoredId("a", 10.0), ScoredId("b", 9.0), ScoredId("c", 0.0)],
               "vector": [ScoredId("c", 0.9), ScoredId("b", 0.8), ScoredId("a", 0.1)]}
    assert [c.memory_id for c in fuse(results, {}, "minmax")] == ["b", "a", "c"]
    assert {c.memory_id: c.signals for c in fuse(results, {}, "rrf")}["b"] == {"bm25": 2, "vector": 2}
    with pytest.raises(ValueError):
        fuse(results, {}, "nonsense")


def test_shipped_weights_cover_every_feature_and_rank_own_matches_positively():
    weights = shipped_weights()
    assert set(weights) == set(FEATURES)
    assert weights["bm25"] > 0 and weights["vector"] > 0
