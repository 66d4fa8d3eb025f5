"""Index settings and explicit mapping of the search documents, and the checkpoint index.

Field choices:
- `text`: the original text, analysed by `standard` + English stop words (kept for
  highlighting and ad-hoc queries; this ES build has no stemmer, so BM25 runs on
  `text_terms`, the Porter stems computed in Python, split on whitespace only: the
  `whitespace` analyzer is built in, while custom tokenizers other than `standard` are
  absent from this build).
- `embedding`: `dense_vector`, cosine, HNSW. ES rejects zero-length vectors for cosine, so a
  zero embedding is left out of the document (it cannot be anyone's nearest neighbour).
- `metadata_json`: the metadata exactly as projected, stored but not indexed;
  `metadata_pairs`: one keyword per top-level entry (`["key", canonical JSON value]`) so an
  equality filter is one exact `term` query, type-sensitive like the SQLite adapter's.
- `dynamic: strict`: a field the adapter does not know is a bug, not a new column.
"""

from __future__ import annotations

from typing import Any

ANALYZER_TEXT = "mos_text"
ANALYZER_TERMS = "whitespace"  # built-in analyzer; this build has no whitespace *tokenizer*

_KEYWORDS = ("memory_id", "cube_id", "tags", "memory_type", "state", "created_by", "last_actor",
             "source_app", "created_event_id", "last_event_id", "derived_from", "merged_into", "tiers",
             "metadata_pairs")


def index_body(dimension: int, shards: int = 1, replicas: int = 0) -> dict[str, Any]:
    """Settings and mappings for a search index holding `dimension`-d embeddings."""
    properties: dict[str, Any] = {name: {"type": "keyword"} for name in _KEYWORDS}
    properties.update({
        "text": {"type": "text", "analyzer": ANALYZER_TEXT},
        "text_terms": {"type": "text", "analyzer": ANALYZER_TERMS},
        "metadata_json": {"type": "keyword", "index": False, "doc_values": False},
        "embedding": {"type": "dense_vector", "dims": dimension, "index": True, "similarity": "cosine",
                      "index_options": {"type": "hnsw"}},
        "version": {"type": "long"},
        "created_at": {"type": "date", "format": "epoch_millis"},
        "updated_at": {"type": "date", "format": "epoch_millis"},
    })
    return {
        "settings": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            "analysis": {"analyzer": {ANALYZER_TEXT: {"type": "standard", "stopwords": "_english_"}}},
            **PURGE_SETTINGS,
        },
        "mappings": {"dynamic": "strict", "properties": properties},
    }


# An erased document must leave the segment files, not just the results: with 0 %
# allowed, `_forcemerge?only_expunge_deletes` rewrites every segment that holds a deleted
# document (the default, 10 %, would keep a lone deleted document's bytes indefinitely).
PURGE_SETTINGS = {"index.merge.policy.expunge_deletes_allowed": 0}


def checkpoint_body() -> dict[str, Any]:
    """One document (`_id` = CHECKPOINT_ID) holding the next offset to apply, and one
    tombstone (`_id` = `erased:<memory_id>`) per erased memory."""
    return {"settings": {"number_of_shards": 1, "number_of_replicas": 0},
            "mappings": {"dynamic": "strict", "properties": CHECKPOINT_PROPERTIES}}


CHECKPOINT_PROPERTIES = {"next_offset": {"type": "long"}, "erased_memory_id": {"type": "keyword"}}


CHECKPOINT_ID = "search"
