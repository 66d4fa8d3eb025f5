"""Session windows: a turn is judged with the stretch of conversation around it."""

from __future__ import annotations

import pytest

from mos.retrieval.session_window import chain_windows, window_scores

# one session a-b-c-d-e, another x-y; links come in either direction, as the graph gives them
LINKS = [("a", "b"), ("c", "b"), ("c", "d"), ("d", "e"), ("x", "y")]


def test_a_window_is_every_turn_within_the_radius_on_both_sides_nearest_first():
    windows = chain_windows(LINKS, ["c", "a", "x"], radius=2)
    assert windows["c"] == ("b", "d", "a", "e")
    assert windows["a"] == ("b", "c")
    assert windows["x"] == ("y",)


def test_a_window_never_crosses_into_another_session_and_a_lone_turn_has_none():
    assert chain_windows(LINKS, ["e", "z"], radius=10) == {"e": ("d", "c", "b", "a"), "z": ()}


def test_window_bm25_rewards_query_words_spread_over_neighbouring_turns():
    # no single turn matches best, but c's window holds both halves of the question
    scores = {"b": 2.0, "d": 2.0, "x": 3.0}
    windows = chain_windows(LINKS, ["c", "x"], radius=1)
    assert window_scores(scores, windows, ["c", "x"], "sum") == {"c": 1.0, "x": 0.0}


def test_window_vector_is_the_mean_similarity_and_unreturned_turns_count_as_the_floor():
    scores = {"a": 0.9, "b": 0.5}
    windows = {"a": ("b",), "b": ("a", "c")}
    raw_a, raw_b = (0.9 + 0.5) / 2, (0.5 + 0.9 + 0.1) / 3
    assert raw_a > raw_b
    assert window_scores(scores, windows, ["a", "b"], "mean", floor=0.1) == {"a": 1.0, "b": 0.0}


def test_unknown_reduction_is_refused():
    with pytest.raises(ValueError):
        window_scores({}, {}, [], "max")
