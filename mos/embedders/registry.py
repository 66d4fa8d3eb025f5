"""Choosing an embedder by name, or by what a data directory was created with."""

from __future__ import annotations

import json
from pathlib import Path

from mos.embedders.hashing import HashingEmbedder
from mos.embedders.port import Embedder
from mos.embedders.sentence_transformer import DEFAULT_MODEL_ID, SentenceTransformerEmbedder


def make_embedder(name: str) -> Embedder:
    """`minilm` (default, all-MiniLM-L6-v2 from its wheel), `hashing`, or a local model directory."""
    if name in ("minilm", DEFAULT_MODEL_ID):
        return SentenceTransformerEmbedder()
    if name.startswith("mos/hashing-"):
        return HashingEmbedder(int(name.rsplit("-", 1)[1]))
    if name == "hashing":
        return HashingEmbedder()
    return SentenceTransformerEmbedder(model_path=name)


def embedder_for(data_dir: Path, default: str) -> Embedder:
    """The embedder recorded in `data_dir/mos.json`, else `default` (for a new directory)."""
    manifest = data_dir / "mos.json"
    if manifest.exists():
        return make_embedder(json.loads(manifest.read_text())["embedding_model"])
    return make_embedder(default)
