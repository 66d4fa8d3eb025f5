"""The shared analyser: both search backends index and query exactly these terms."""

from __future__ import annotations

from mos.retrieval.text_analysis import analyse, document_terms, query_terms, stems


def test_analysis_folds_case_and_diacritics_drops_stop_words_and_stems():
    assert analyse("The Café was RUNNING its ovens") == ["cafe", "run", "oven"]


def test_document_terms_keep_duplicates_for_term_frequency():
    assert document_terms("camping, camped, camps") == "camp camp camp"


def test_query_terms_are_distinct_words_and_stems_stem_them_once():
    words = query_terms("Where has Melanie camped? Melanie's camping trips")
    assert words == ["melanie", "camped", "camping", "trips"]
    assert stems(words) == ["melani", "camp", "trip"]


def test_stems_are_never_stemmed_twice():
    # Porter is not idempotent ("agreed" -> "agre" -> "agr"): the port takes words, so an
    # adapter applying `stems` to query words matches what `analyse` indexed.
    assert stems(["agreed"]) == analyse("agreed") == ["agre"]


def test_apostrophes_and_underscores_split_words_as_fts5_unicode61_does():
    assert analyse("Caroline's snake_case") == ["carolin", "snake", "case"]
