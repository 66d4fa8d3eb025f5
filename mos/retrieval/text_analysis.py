"""The one text analyser of MOS: every search backend indexes and queries the same terms.

Analysis is done here, in Python, not by the engines: Elasticsearch's distribution has no
stemmer filter, and FTS5's `porter` tokenizer counts stop-words into document lengths where
Elasticsearch would not, so two engines left to their own analysers rank differently.
Both adapters index `document_terms(text)` in a field their engine only splits on spaces,
and turn query words into terms with `stems`; BM25 then sees identical postings and lengths.

Steps: lower-case, strip diacritics, split into runs of letters and digits (apostrophes and
`_` separate words, as FTS5's unicode61 does), drop stop-words, Porter-stem (Snowball's
`porter`, the original algorithm). The stemmer is applied once, to words: Porter is not
idempotent ("agreed" → "agre" → "agr"), so stems must never be stemmed again.
Pure functions; the stemmer object (not thread-safe) is held per thread.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[\w'’]+")
_TOKEN = re.compile(r"[^\W_]+")
_local = threading.local()

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves s t don ll ve re d m""".split()
)


def fold(text: str) -> str:
    """Lower-case and strip diacritics (`remove_diacritics 2` in FTS5 terms)."""
    if text.isascii():  # nothing to decompose: the per-character pass is most of analysis time
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    """Porter stem of one folded word ("running" and "runs" both give "run")."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = snowballstemmer.stemmer("porter")
    return stemmer.stemWord(word)


def analyse(text: str) -> list[str]:
    """Stems of `text` in order, duplicates kept (term frequency counts for BM25)."""
    return [stem(token) for token in _TOKEN.findall(fold(text)) if token not in STOP_WORDS]


def document_terms(text: str) -> str:
    """What a backend indexes for `text`: its stems joined by single spaces."""
    return " ".join(analyse(text))


def stems(terms: Iterable[str]) -> list[str]:
    """Distinct stems of query words (as `query_terms` gives them), in first-seen order."""
    return list(dict.fromkeys(s for term in terms for s in analyse(term)))


def query_terms(text: str, max_terms: int = 64) -> list[str]:
    """Distinct, lower-cased, non-stop-word words of `text`, in order of first appearance.

    Words, not stems: the SearchIndex port takes words and each adapter calls `stems`, so a
    caller can never hand an adapter a stem to be stemmed a second time."""
    terms: list[str] = []
    for raw in _WORD.findall(text.lower()):
        word = raw.strip("'’")
        for part in re.split(r"['’]", word):
            if part and part not in STOP_WORDS and part not in terms:
                terms.append(part)
    return terms[:max_terms]
