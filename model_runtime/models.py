"""Loading a local Hugging Face causal LM, and the fingerprint that ties artifacts to it.

Nothing is downloaded: `local_files_only=True` everywhere, so a missing file is an error
here and never a silent fetch from a hub.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mos.domain.errors import InvalidInput

log = logging.getLogger(__name__)

FINGERPRINTED_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".txt", ".tiktoken")


class ModelLoadError(InvalidInput):
    """The model directory is missing, incomplete, or does not hold a causal LM."""


@dataclass(frozen=True)
class LoadedModel:
    """A causal LM in eval mode (fp32, CPU unless moved) with its tokenizer.

    `fingerprint` is a SHA-256 over the directory's config, tokenizer and weight files: two
    directories with the same bytes share artifacts; retrain or swap a file and they don't.
    """

    model: Any
    tokenizer: Any
    model_id: str
    fingerprint: str
    max_context: int
    directory: Path


def model_fingerprint(directory: Path) -> str:
    return _fingerprint(str(directory.resolve()), *_stamp(directory))


def _stamp(directory: Path) -> tuple[tuple[str, int, int], ...]:
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in FINGERPRINTED_SUFFIXES)
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files)


@lru_cache(maxsize=16)
def _fingerprint(directory: str, *stamp: tuple[str, int, int]) -> str:
    """Cached on (path, names, sizes, mtimes): hashing gigabytes of weights once per process."""
    digest = hashlib.sha256()
    for name, _, _ in stamp:
        digest.update(name.encode() + b"\0")
        with open(Path(directory) / name, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def load_causal_lm(directory: str | Path) -> LoadedModel:
    """Load model + tokenizer from a local directory (e.g. `MOS_MODEL=/models/qwen2.5-0.5b`)."""
    path = Path(directory).expanduser()
    if not path.is_dir():
        raise ModelLoadError(f"model directory {path} does not exist")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise ModelLoadError(f"{path} has no config.json: not a Hugging Face model directory")
    try:
        config = json.loads(config_file.read_text())
    except ValueError as exc:
        raise ModelLoadError(f"{config_file} is not valid JSON: {exc}") from None
    architectures = config.get("architectures") or []
    if not any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        raise ModelLoadError(f"{path} holds {architectures or 'an unknown architecture'}, not a causal LM "
                             "(its config.json architectures should name a *ForCausalLM class)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype="float32")
    except (OSError, ValueError, KeyError) as exc:
        raise ModelLoadError(f"cannot load the causal LM in {path}: {exc}") from None
    model.eval()
    max_context = int(getattr(model.config, "max_position_embeddings", 0) or tokenizer.model_max_length)
    log.info("loaded model %s (%d parameters)", path.name, sum(p.numel() for p in model.parameters()))
    return LoadedModel(model, tokenizer, path.name, model_fingerprint(path), max_context, path)
