"""Porter-stemmed index terms, computed in Python because the ES build we run has no stemmer.

The embedded adapter stems inside SQLite (FTS5 `porter unicode61 remove_diacritics 2`); the
Elasticsearch build we run has neither the `english` analyzer nor stemmer token filters. So
the adapter indexes `text_terms`, a space-joined string of the stems produced here, and
stems query terms with the same function: documents and queries cannot drift apart.

The stemmer is Snowball's `porter` (the original Porter algorithm, as FTS5 uses) from the
`snowballstemmer` package, which uses the C `PyStemmer` when installed; it has no other
dependency, so the SQLite adapter could share this module if it ever stems outside FTS5.
Pure functions; the stemmer object (not thread-safe) is held per thread.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer

from mos.retrieval.text_analysis import STOP_WORDS

# Letters and digits only, like FTS5's unicode61 tokenizer (apostrophes and `_` separate words).
_TOKEN = re.compile(r"[^\W_]+")
_local = threading.local()


def _fold(text: str) -> str:
    """Lower-case and strip diacritics (`remove_diacritics 2` in FTS5 terms)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Porter stem of one folded word ("running" and "runs" both give "run")."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("porter")
    return stemmer.stemWord(word)


def _stems(text: str) -> Iterable[str]:
    for token in _TOKEN.findall(_fold(text)):
        if token not in STOP_WORDS:
            yield stem(token)


def document_terms(text: str) -> str:
    """Stems of `text` in order, duplicates kept (term frequency counts for BM25)."""
    return " ".join(_stems(text))


def query_stems(terms: Iterable[str]) -> list[str]:
    """Distinct stems of already-normalised query terms, in order of first appearance."""
    return list(dict.fromkeys(s for term in terms for s in _stems(term)))
