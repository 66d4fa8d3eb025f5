"""Prefill a memory block once and store its KV cache as an artifact payload."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from mos.domain.errors import InvalidInput
from model_runtime.models import LoadedModel

KV_FILE = "kv.safetensors"
Progress = Callable[[int, int], None]  # (tokens done, tokens total)


@dataclass(frozen=True)
class KvCacheSettings:
    """`chunk_tokens`: prefill in chunks of this many tokens (bounded peak memory, a progress
    bar); the chunking is part of the artifact's identity, so rebuilds stay byte-identical."""

    chunk_tokens: int = 512
    dtype: str = "float32"  # fp32 round-trips exactly; a bf16 copy changed greedy outputs

    def __post_init__(self) -> None:
        if self.chunk_tokens < 1:
            raise InvalidInput("kv cache chunk_tokens must be >= 1")
        if self.dtype != "float32":
            raise InvalidInput("kv cache dtype must be float32 (other dtypes change generations)")

    def as_dict(self) -> dict:
        return asdict(self)


def tokenize_block(loaded: LoadedModel, text: str) -> list[int]:
    """Token ids of a memory block, with the tokenizer's BOS if it uses one: the block is
    always the start of a prompt."""
    ids = loaded.tokenizer(text, add_special_tokens=False)["input_ids"]
    bos = loaded.tokenizer.bos_token_id
    return ([bos] if bos is not None else []) + list(ids)


def prefill(loaded: LoadedModel, token_ids: list[int], chunk_tokens: int = 512, progress: Progress | None = None):
    """Run the model over `token_ids` once; returns the transformers DynamicCache."""
    import torch
    from transformers import DynamicCache

    if not token_ids:
        raise InvalidInput("cannot prefill an empty memory block")
    if len(token_ids) > loaded.max_context:
        raise InvalidInput(f"the memory block is {len(token_ids)} tokens, longer than the model's context "
                           f"of {loaded.max_context}; promote fewer memories")
    cache = DynamicCache()
    ids = torch.tensor([token_ids], dtype=torch.long)
    with torch.inference_mode():
        for start in range(0, len(token_ids), chunk_tokens):
            loaded.model(ids[:, start:start + chunk_tokens], past_key_values=cache, use_cache=True)
            if progress:
                progress(min(start + chunk_tokens, len(token_ids)), len(token_ids))
    return cache


def build_kv_cache(loaded: LoadedModel, text: str, directory: Path, settings: KvCacheSettings = KvCacheSettings(),
                   progress: Progress | None = None) -> int:
    """Prefill `text` and write `kv.safetensors` into `directory`; returns the token count."""
    import torch
    from safetensors.torch import save_file

    token_ids = tokenize_block(loaded, text)
    cache = prefill(loaded, token_ids, settings.chunk_tokens, progress)
    tensors = {"input_ids": torch.tensor(token_ids, dtype=torch.long)}
    for index, layer in enumerate(cache.layers):
        tensors[f"layers.{index}.keys"] = layer.keys.contiguous()
        tensors[f"layers.{index}.values"] = layer.values.contiguous()
    save_file(tensors, str(directory / KV_FILE))
    return len(token_ids)
