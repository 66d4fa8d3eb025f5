"""Sealing and opening the personal content of memory events (crypto-shredding).

`text`, `tags`, `metadata_json` and `embedding` of MemoryCreated / MemoryUpdated are
encrypted with the memory's own AES-256-GCM data key before they reach the log; the memory
id is the associated data, so a ciphertext cannot be replayed onto another memory. The
embedding model id, ids, versions and provenance stay in the clear: routing, ordering and
the audit trail work without any key. Once a key is destroyed, an event of that memory
opens to empty content with `sealed` kept (`content_erased`), and every consumer treats
the memory as erased.
"""

from __future__ import annotations

import json
import os
import struct
from collections import OrderedDict
from dataclasses import replace
from typing import Sequence

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mos.domain.events import Event, MemoryContent, MemoryErased, SealedContent
from streams.keys.port import KeyStore

_HEADER = struct.Struct("<I")


class KeyStoreMissing(RuntimeError):
    """A sealed event was read by a process that has no key store configured."""


class ContentSealer:
    def __init__(self, keys: KeyStore, cache_size: int = 100_000):
        self.keys = keys
        self._cache: OrderedDict[str, bytes | None] = OrderedDict()
        self._cache_size = cache_size

    # --- writing ----------------------------------------------------------------------------

    def seal(self, events: Sequence[Event]) -> list[Event]:
        """`events` with every clear MemoryContent sealed; keys are created (in one durable
        batch) before any ciphertext exists, so no event can outlive its key's creation."""
        needed = [e.memory_id for e in events if isinstance(e, MemoryContent) and e.sealed is None]
        if not needed:
            return list(events)
        keys = self.keys.create_many(needed)
        return [self._seal_one(e, keys[e.memory_id]) if isinstance(e, MemoryContent) and e.sealed is None else e
                for e in events]

    @staticmethod
    def _seal_one(event: MemoryContent, key: bytes) -> MemoryContent:
        header = json.dumps({"text": event.text, "tags": list(event.tags), "metadata_json": event.metadata_json},
                            ensure_ascii=False, separators=(",", ":")).encode()
        vector = np.asarray(event.embedding, dtype="<f4").tobytes()
        nonce = os.urandom(12)
        ciphertext = AESGCM(key).encrypt(nonce, _HEADER.pack(len(header)) + header + vector, event.memory_id.encode())
        return replace(event, text="", tags=(), metadata_json="{}", embedding=(),
                       sealed=SealedContent(event.memory_id, nonce, ciphertext))

    # --- reading ----------------------------------------------------------------------------

    def open(self, event: Event) -> Event:
        """The event with its content in the clear, or with empty content if its key is gone.

        Reading a MemoryErased destroys the key it names, if it still exists: the log is the
        source of truth, so an erasure interrupted between its append and the key's
        destruction is completed by the next process that reads it."""
        if isinstance(event, MemoryErased):
            self.destroy([event.memory_id])
            return event
        if not isinstance(event, MemoryContent) or event.sealed is None:
            return event
        key = self._key(event.sealed.key_id)
        if key is None:
            return event
        try:
            plain = AESGCM(key).decrypt(event.sealed.nonce, event.sealed.ciphertext, event.memory_id.encode())
        except InvalidTag:
            raise ValueError(f"sealed content of {event.memory_id} fails authentication") from None
        (length,) = _HEADER.unpack_from(plain)
        fields = json.loads(plain[_HEADER.size:_HEADER.size + length])
        vector = np.frombuffer(plain[_HEADER.size + length:], dtype="<f4")
        return replace(event, text=fields["text"], tags=tuple(fields["tags"]), metadata_json=fields["metadata_json"],
                       embedding=tuple(vector.tolist()), sealed=None)

    def destroy(self, key_ids: Sequence[str]) -> int:
        """Destroy the keys (idempotent); cheap when they are already known to be gone."""
        pending = [k for k in key_ids if not (k in self._cache and self._cache[k] is None)]
        destroyed = self.keys.destroy(pending) if pending else 0
        for key_id in key_ids:
            self._remember(key_id, None)
        return destroyed

    def _key(self, key_id: str) -> bytes | None:
        if key_id in self._cache:
            self._cache.move_to_end(key_id)
            return self._cache[key_id]
        try:
            key = self.keys.get(key_id)
        except KeyError as missing:
            raise KeyStoreMissing(f"{missing.args[0]}: is this process using the key store its producer "
                                  f"used (MOS_KEYSTORE / <data dir>/keys.db)?") from None
        self._remember(key_id, key)
        return key

    def _remember(self, key_id: str, key: bytes | None) -> None:
        self._cache[key_id] = key
        self._cache.move_to_end(key_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def close(self) -> None:
        self.keys.close()
