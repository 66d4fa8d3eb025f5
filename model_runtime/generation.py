"""Greedy generation on a local model, with an injected KV cache and/or a LoRA adapter.

With a `PrefixCache`, the prompt is the cached prefix's token ids followed by the new text's
ids; the model only prefills the new ids. Without one, the same ids are prefilled in full,
so the two paths see identical token sequences and produce identical greedy tokens.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Sequence

from mos.domain.errors import InvalidInput
from model_runtime.kv_cache.loader import PrefixCache
from model_runtime.lora.loader import AdapterSet
from model_runtime.models import LoadedModel


@dataclass(frozen=True)
class Generated:
    text: str
    new_token_ids: tuple[int, ...]
    prompt_tokens: int
    cached_tokens: int
    seconds: float


class LocalGenerator:
    """One loaded model shared by every cube; calls are serialised (the cache and the active
    adapter are per-call state on a shared model)."""

    def __init__(self, loaded: LoadedModel):
        self.loaded = loaded
        self.adapters = AdapterSet(loaded)
        self._lock = threading.Lock()

    @property
    def model_id(self) -> str:
        return self.loaded.model_id

    def encode(self, text: str, with_bos: bool) -> list[int]:
        ids = list(self.loaded.tokenizer(text, add_special_tokens=False)["input_ids"])
        bos = self.loaded.tokenizer.bos_token_id
        return ([bos] if with_bos and bos is not None else []) + ids

    def generate(self, text: str, *, prefix: PrefixCache | None = None, prefix_ids: Sequence[int] | None = None,
                 adapter_id: str | None = None, max_new_tokens: int = 64) -> Generated:
        """Generate after `text`. `prefix` injects a cached prefix; `prefix_ids` prefills the
        same prefix in full (for comparisons); with neither, the prompt is just `text`."""
        import torch

        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise InvalidInput("max_new_tokens must be a positive integer")
        head = list(prefix.token_ids) if prefix is not None else list(prefix_ids or [])
        ids = head + self.encode(text, with_bos=not head)
        if len(ids) + max_new_tokens > self.loaded.max_context:
            raise InvalidInput(f"prompt of {len(ids)} tokens + {max_new_tokens} new tokens exceeds the model's "
                               f"context of {self.loaded.max_context}")
        tokenizer = self.loaded.tokenizer
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        with self._lock, torch.inference_mode(), self.adapters.active(adapter_id) as model:
            input_ids = torch.tensor([ids], dtype=torch.long)
            started = time.perf_counter()
            try:
                output = model.generate(input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                                        past_key_values=prefix.cache if prefix is not None else None,
                                        max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=pad)
            finally:
                if prefix is not None:
                    prefix.reset()
            seconds = time.perf_counter() - started
        new_ids = tuple(output[0, len(ids):].tolist())
        return Generated(tokenizer.decode(new_ids, skip_special_tokens=True), new_ids, len(ids),
                         len(head) if prefix is not None else 0, seconds)
