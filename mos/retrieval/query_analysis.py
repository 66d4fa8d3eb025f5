"""Query understanding without a model: which words to match and who is asked about.

Questions over a conversation are mostly about one of its speakers ("What did Caroline
research?"), and the answer is nearly always in that speaker's own turns. The names a query
mentions are found the way the graph finds entities (capitalised words that are not
sentence-initial function words), so a query and a memory agree on what a name is.
Pure functions; nothing here knows any particular conversation or name.
"""

from __future__ import annotations

from dataclasses import dataclass

from mos.retrieval.text_analysis import query_terms
from projections.entities import extract_entities
from projections.speakers import speaker_words


@dataclass(frozen=True)
class QueryAnalysis:
    terms: tuple[str, ...]  # query words for BM25 (stop-words removed, not yet stemmed)
    names: tuple[str, ...]  # lower-cased names the query mentions, first-seen order


def analyse_query(text: str) -> QueryAnalysis:
    return QueryAnalysis(tuple(query_terms(text)), extract_entities(text))


def names_speaker(analysis: QueryAnalysis, speaker: str | None) -> bool:
    """True if the query names `speaker` — by full name, or by any one of its words
    ("Ms Maria Lopez" is named by "Maria"); a name shorter than 3 letters never matches."""
    if not speaker or not analysis.names:
        return False
    return not speaker_words(speaker).isdisjoint(analysis.names)
