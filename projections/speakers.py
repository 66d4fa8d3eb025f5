"""Who spoke a memory, as the graph keeps it: hashed name words, never the name.

Hybrid retrieval gives a candidate the speaker feature when the query names its speaker
(metadata `speaker`): by the whole name or by one of its words of 3 letters or more ("Ms
Maria Lopez" is named by "Maria"). The engine lists bring their hits' speakers along; a
graph neighbour outside them would cost one more round trip to the search index — at 1M
memories on Elasticsearch ~2.3 ms in over half of the searches. So each memory node also
holds `speaker_keys`, one hash per word that names its speaker, keyed by cube like entity
nodes (`graph_projection.entity_node_id`): the graph read that finds the neighbours tells
which of them the query's names name, and the graph still holds no text of a memory.
Pure functions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

SPEAKER_KEY = "speaker"  # the metadata entry the graph projection reads


def speaker_words(speaker: str) -> frozenset[str]:
    """The lower-cased words a query may name `speaker` by: the whole name, and each of its
    words of 3 letters or more. Empty for an empty name."""
    if not speaker:
        return frozenset()
    whole = speaker.lower()
    return frozenset([whole, *(word for word in whole.split() if len(word) >= 3)])


def name_key(cube_id: str, word: str) -> str:
    """A lower-cased name (word) as the graph keeps it, within one cube: entity node ids and
    speaker keys alike, so equal names meet and cubes stay apart."""
    return hashlib.sha256(f"{cube_id}\0{word}".encode()).hexdigest()[:32]


def memory_speaker_keys(cube_id: str, metadata_json: str) -> tuple[str, ...]:
    """The keys of a memory's speaker (metadata `SPEAKER_KEY`, when a string), sorted."""
    metadata = json.loads(metadata_json)
    speaker = metadata.get(SPEAKER_KEY) if isinstance(metadata, dict) else None
    if not isinstance(speaker, str):
        return ()
    return tuple(sorted(name_key(cube_id, word) for word in speaker_words(speaker)))


def query_speaker_keys(cube_ids: Iterable[str], names: Iterable[str]) -> tuple[str, ...]:
    """The keys a query's lower-cased `names` have in each of `cube_ids`: a memory's speaker
    is named by the query exactly when its keys and these meet."""
    names = tuple(names)
    return tuple(sorted({name_key(cube, name) for cube in cube_ids for name in names}))
