"""Query understanding: the words to match and the person a question is about."""

from __future__ import annotations

import pytest

from mos.retrieval.query_analysis import analyse_query, names_speaker


def test_a_question_about_a_person_names_that_person():
    analysis = analyse_query("What did Caroline research after the support group?")
    assert analysis.names == ("caroline",)
    assert "research" in analysis.terms and "what" not in analysis.terms


def test_sentence_initial_function_words_are_not_names():
    assert analyse_query("When did they move?").names == ()


@pytest.mark.parametrize("speaker, named", [
    ("Caroline", True),
    ("caroline", True),
    ("Caroline Smith", True),   # one word of a full name is enough
    ("Melanie", False),
    ("Ca", False),              # too short to be matched by a word
    (None, False),
])
def test_names_speaker_matches_whole_names_or_one_of_their_words(speaker, named):
    assert names_speaker(analyse_query("Where has Caroline camped?"), speaker) is named


def test_a_possessive_names_the_person():
    assert names_speaker(analyse_query("What is Melanie's favourite book?"), "Melanie")
