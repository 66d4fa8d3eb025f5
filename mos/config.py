"""Configuration in one typed place, read from the environment only when asked."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class MosSettings:
    data_dir: Path
    embedder: str = "minilm"

    @classmethod
    def from_env(cls) -> "MosSettings":
        """`MOS_DATA_DIR` (default `~/.mos`) and `MOS_EMBEDDER` (`minilm`, `hashing` or a model path)."""
        return cls(
            data_dir=Path(os.environ.get("MOS_DATA_DIR", Path.home() / ".mos")).expanduser(),
            embedder=os.environ.get("MOS_EMBEDDER", "minilm"),
        )
