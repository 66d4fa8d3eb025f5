"""The Embedder port."""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np


class Embedder(Protocol):
    """Maps texts to an (n, dimension) float32 array of unit-norm rows.

    `model_id` is recorded in every MemoryCreated event, so a log never mixes vectors of
    different models unnoticed.
    """

    model_id: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...
