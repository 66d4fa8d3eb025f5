"""A dependency-free embedder: signed feature hashing of word unigrams and bigrams.

Deterministic and instant, with no model to load. It captures lexical overlap only, so it
is for tests of everything *around* embeddings (replay, concurrency, ACLs) and for
machines without torch — not a substitute for a semantic model in retrieval.
"""

from __future__ import annotations

import hashlib
import re
from typing import Sequence

import numpy as np

_WORD = re.compile(r"\w+")


class HashingEmbedder:
    def __init__(self, dimension: int = 384):
        self.dimension = dimension
        self.model_id = f"mos/hashing-{dimension}"

    def _features(self, text: str) -> list[str]:
        words = _WORD.findall(text.lower())
        return words + [f"{a} {b}" for a, b in zip(words, words[1:])]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode(), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                out[row, value % self.dimension] += 1.0 if (value >> 63) & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm > 0 else out[row]
            if norm == 0:
                out[row, 0] = 1.0
        return out
