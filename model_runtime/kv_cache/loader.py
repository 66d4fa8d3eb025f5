"""Turn a verified KV cache artifact back into a transformers cache for the running model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mos.domain.errors import ArtifactMismatch, CorruptArtifact
from model_runtime.kv_cache.builder import KV_FILE
from model_runtime.manifest import ArtifactManifest
from model_runtime.models import LoadedModel


@dataclass
class PrefixCache:
    """A prompt prefix and its cache. Generation extends the cache in place; `reset()` crops
    it back to the prefix, which is cheaper than copying it per request."""

    artifact_id: str
    token_ids: list[int]
    cache: Any  # transformers.DynamicCache

    def reset(self) -> None:
        extra = self.cache.get_seq_length() - len(self.token_ids)
        if extra > 0:
            self.cache.crop(-extra)


def require_same_model(manifest: ArtifactManifest, loaded: LoadedModel) -> None:
    if manifest.model_fingerprint != loaded.fingerprint:
        raise ArtifactMismatch(
            f"artifact {manifest.artifact_id} was built for model {manifest.model_id} "
            f"(fingerprint {manifest.model_fingerprint[:12]}…), not the loaded {loaded.model_id} "
            f"({loaded.fingerprint[:12]}…); rebuild it with `mos runtime rebuild`")


def load_kv_cache(manifest: ArtifactManifest, directory: Path, loaded: LoadedModel) -> PrefixCache:
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    from transformers import DynamicCache

    require_same_model(manifest, loaded)
    if manifest.token_count >= loaded.max_context:
        raise ArtifactMismatch(f"artifact {manifest.artifact_id} holds {manifest.token_count} tokens; the model's "
                               f"context is {loaded.max_context}, leaving no room for a question")
    try:
        tensors = load_file(str(directory / KV_FILE))
    except (SafetensorError, OSError) as exc:
        raise CorruptArtifact(f"artifact {manifest.artifact_id}: cannot read {KV_FILE}: {exc}") from None
    layers = len([name for name in tensors if name.endswith(".keys")])
    token_ids = tensors["input_ids"].tolist()
    if len(token_ids) != manifest.token_count:
        raise CorruptArtifact(f"artifact {manifest.artifact_id}: {len(token_ids)} tokens stored, manifest says "
                              f"{manifest.token_count}")
    pairs = [(tensors[f"layers.{i}.keys"], tensors[f"layers.{i}.values"]) for i in range(layers)]
    return PrefixCache(manifest.artifact_id, token_ids, DynamicCache(ddp_cache_data=pairs))
