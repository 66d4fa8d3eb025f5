"""Terms for the Elasticsearch `text_terms` field, from MOS's one shared analyser.

This Elasticsearch distribution has no stemmer filter, so the index stores
`document_terms(text)` — stems already made in Python — in a field analysed only by
whitespace, and queries are turned into the same stems. The embedded adapter indexes the
very same terms (see `mos.retrieval.text_analysis`), so both backends rank alike.
"""

from __future__ import annotations

from mos.retrieval.text_analysis import document_terms, stem, stems

query_stems = stems

__all__ = ["document_terms", "query_stems", "stem"]
