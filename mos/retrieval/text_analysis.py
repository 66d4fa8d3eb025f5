"""Query text normalisation shared by every search backend.

Only lower-casing, word splitting and stop-word removal happen here; stemming is left to
the index's analyzer (FTS5 `porter`), so documents and queries are stemmed identically.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[\w'’]+")

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves s t don ll ve re d m""".split()
)


def query_terms(text: str, max_terms: int = 64) -> list[str]:
    """Distinct, lower-cased, non-stop-word terms of `text`, in order of first appearance."""
    terms: list[str] = []
    for raw in _WORD.findall(text.lower()):
        word = raw.strip("'’")
        for part in re.split(r"['’]", word):
            if part and part not in STOP_WORDS and part not in terms:
                terms.append(part)
    return terms[:max_terms]
