"""Cheap, deterministic entity extraction for the graph's MENTIONS edges.

No model: capitalised words and acronyms that are not sentence-initial stop-words. It runs
inside a pure projection, so it must give the same answer on every replay.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\b[A-Z][A-Za-z0-9'’-]+\b")
_NOT_ENTITIES = frozenset(
    "I I'm I've I'll I'd A An The This That These Those It It's Its We We're You You're He She They "
    "My Your Our Their His Her Me Us Them What When Where Why How Who Which Yes No Not Oh Hey Hi "
    "Hello Thanks Thank Wow Well So And But Or If Then Also Just Really Sure Okay OK Great Good "
    "Nice Cool Awesome Love Haha Lol Yeah Yep Sounds Glad Sorry Congrats Congratulations Absolutely "
    "Definitely Totally Honestly Anyway Maybe There Here Do Did Does Have Has Had Is Are Was Were "
    "Be Been Can Could Would Should Will Let Let's Take Keep Make Go Got Get Thats Im By For From "
    "In On At To Of With As After Before Since Until While Because Although Though Even Still "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May "
    "June July August September October November December Am Pm AM PM".split()
)


def extract_entities(text: str, limit: int = 16) -> tuple[str, ...]:
    """Lower-cased entity keys mentioned in `text`, first-seen order, at most `limit`."""
    seen: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0).rstrip("'’-")
        if word in _NOT_ENTITIES or len(word) < 2:
            continue
        key = word.lower()
        if key.endswith("'s") or key.endswith("’s"):
            key = key[:-2]
        if key and key not in seen:
            seen.append(key)
            if len(seen) == limit:
                break
    return tuple(seen)
