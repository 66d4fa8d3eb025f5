"""Search writes applied to Elasticsearch `_source` dicts, and `_source` back to Document.

Pure functions: the adapter fetches the current sources of a batch, folds the batch into
them here (same rules as the SQLite adapter: a creation is applied once, a later write only
if its version is newer, a write to an unknown memory is a KeyError), then indexes the
results with external versioning.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from projections.elasticsearch.text_terms import document_terms
from projections.ports import Document
from projections.search_writes import (
    EraseDocument,
    PatchDocument,
    ReplaceContent,
    SearchWrite,
    UpsertDocument,
)

Source = dict[str, Any]

_MAX_PAIR_BYTES = 512  # longer pairs are hashed: Lucene refuses keyword terms over 32 KiB


def _canonical(value: Any) -> Any:
    """JSON value with integral floats as ints (SQLite's json_extract compares 1.0 == 1)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    return value


def _pair_json(items: list) -> str:
    return json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def metadata_pair(key: str, value: Any) -> str:
    """The keyword indexed for metadata entry `key: value` and queried by an equality filter."""
    pair = _pair_json([key, _canonical(value)])
    if len(pair.encode()) > _MAX_PAIR_BYTES:
        return "sha256:" + hashlib.sha256(pair.encode()).hexdigest()
    return pair


def metadata_pair_prefix(key: str) -> str:
    """How every unhashed `metadata_pair` of `key` starts: a reader looking for one key
    parses only those pairs (the JSON array opened, the key, a comma)."""
    return _pair_json([key])[:-1] + ","


def _metadata_pairs(metadata_json: str) -> list[str]:
    metadata = json.loads(metadata_json)
    return [metadata_pair(k, v) for k, v in metadata.items()] if isinstance(metadata, dict) else []


def _set_content(source: Source, text: str, tags: Sequence[str], metadata_json: str,
                 embedding: Sequence[float]) -> None:
    source.update(text=text, text_terms=document_terms(text), tags=list(tags), metadata_json=metadata_json,
                  metadata_pairs=_metadata_pairs(metadata_json))
    vector = [float(x) for x in embedding]
    if any(vector):
        source["embedding"] = vector
    else:
        source.pop("embedding", None)  # cosine is undefined for a zero vector


def created(w: UpsertDocument) -> Source:
    source: Source = {
        "memory_id": w.memory_id, "cube_id": w.cube_id, "memory_type": w.memory_type, "state": w.state,
        "version": w.version, "created_at": w.created_at, "updated_at": w.created_at,
        "created_by": w.created_by, "last_actor": w.created_by, "source_app": w.source_app,
        "created_event_id": w.created_event_id, "last_event_id": w.created_event_id,
        "derived_from": list(w.derived_from), "merged_into": None, "tiers": [],
    }
    _set_content(source, w.text, w.tags, w.metadata_json, w.embedding)
    return source


def updated(source: Source, w: ReplaceContent | PatchDocument) -> Source:
    """A new source with `w` applied (the caller has checked that `w` is newer)."""
    new = dict(source, version=w.version, updated_at=w.updated_at, last_event_id=w.last_event_id,
               last_actor=w.last_actor)
    if isinstance(w, ReplaceContent):
        _set_content(new, w.text, w.tags, w.metadata_json, w.embedding)
        return new
    tiers = [] if w.clear_tiers else list(source["tiers"])
    if w.add_tier and w.add_tier not in tiers:
        tiers = sorted(tiers + [w.add_tier])
    if w.remove_tier:
        tiers = [t for t in tiers if t != w.remove_tier]
    new.update(state=w.state or source["state"], merged_into=w.merged_into or source["merged_into"], tiers=tiers)
    return new


def fold(current: Mapping[str, Source], writes: Sequence[SearchWrite], dimension: int,
         erased: frozenset[str] | set[str] = frozenset()) -> dict[str, Source | None]:
    """The sources changed by `writes`, applied in order over `current` (memory_id -> source);
    None marks a document to erase. Writes of memories in `erased` (tombstones) are skipped.

    Raises KeyError (update of an unknown memory), TypeError (not a search write) or
    ValueError (wrong embedding width) before anything is written.
    """
    state: dict[str, Source | None] = dict(current)
    gone = set(erased)
    changed: dict[str, Source | None] = {}
    for w in writes:
        if not isinstance(w, (UpsertDocument, ReplaceContent, PatchDocument, EraseDocument)):
            raise TypeError(f"unknown search write {w!r}")
        if w.memory_id in gone:
            continue  # an erased memory stays erased, whatever of its past is replayed
        if isinstance(w, EraseDocument):
            gone.add(w.memory_id)
            state[w.memory_id] = changed[w.memory_id] = None
            continue
        if isinstance(w, (UpsertDocument, ReplaceContent)) and len(w.embedding) != dimension:
            raise ValueError(f"{w.memory_id}: embedding has {len(w.embedding)} dimensions, index has {dimension}")
        source = state.get(w.memory_id)
        if isinstance(w, UpsertDocument):
            if source is not None:
                continue  # a memory is created once; a re-delivered creation is a no-op
            new = created(w)
        elif source is None:
            raise KeyError(f"{type(w).__name__} for unknown memory {w.memory_id}")
        elif w.version <= source["version"]:
            continue  # stale or duplicate: versions make writes idempotent
        else:
            new = updated(source, w)
        state[w.memory_id] = changed[w.memory_id] = new
    return changed


def document(source: Mapping[str, Any]) -> Document:
    return Document(
        source["memory_id"], source["cube_id"], source["text"], tuple(source["tags"]),
        json.loads(source["metadata_json"]), source["memory_type"], source["state"], source["version"],
        source["created_at"], source["updated_at"], source["created_by"], source["last_actor"],
        source["source_app"], source["created_event_id"], source["last_event_id"],
        tuple(source["derived_from"]), source["merged_into"], tuple(source["tiers"]))


def embedding_of(source: Mapping[str, Any], dimension: int) -> list[float]:
    return source.get("embedding") or [0.0] * dimension
