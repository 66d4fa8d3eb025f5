"""Small causal LMs built from a config, for tests, the demo and the benchmarks.

Nothing is downloaded: the tokenizer is a byte-level BPE trained on the spot (any text
encodes), the weights come from a seeded random init, and both are saved to a directory so
that callers go through the same `load_causal_lm` path as with a real model. The weights
are random, so the generated text is noise; what these models exercise is the machinery
(KV caches, adapters, token-exact equality), at realistic shapes for the `small-100m` preset.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

SPECIAL_TOKENS = ("<s>", "</s>", "<pad>")


@dataclass(frozen=True)
class TinyModelPreset:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    layers: int
    heads: int
    kv_heads: int
    max_context: int
    # The tiny preset uses 0.2, not the usual 0.02: at 0.02-0.1 its greedy decoding collapses
    # onto one repeated token, which would make "same tokens" tests pass vacuously.
    initializer_range: float = 0.02


PRESETS = {
    "tiny": TinyModelPreset(vocab_size=1024, hidden_size=64, intermediate_size=128, layers=2, heads=4,
                            kv_heads=2, max_context=1024, initializer_range=0.2),
    # ~100M parameters, Llama-style with grouped-query attention (like small real LMs).
    "small-100m": TinyModelPreset(vocab_size=8192, hidden_size=768, intermediate_size=2048, layers=12, heads=12,
                                  kv_heads=4, max_context=8192),
}

DEFAULT_CORPUS = (
    "Alice moved to Lisbon in May and works as a nurse at the city hospital.",
    "Bob is training for a marathon; he runs every morning before work.",
    "The team meets on Tuesdays to plan the next release of the memory system.",
    "Caroline adopted a dog named Pixel and takes him hiking on weekends.",
    "Question: where does Alice live? Answer: Lisbon.",
    "Memories:\n- She likes green tea.\n- He plays the guitar.\n",
)


def build_tiny_model(directory: str | Path, preset: str = "tiny", seed: int = 0,
                     corpus: Iterable[str] | None = None) -> Path:
    """Build, seed and save a Llama-style model + tokenizer into `directory`; returns it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    spec = PRESETS[preset]
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=spec.vocab_size, special_tokens=list(SPECIAL_TOKENS),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(list(corpus or DEFAULT_CORPUS) * 4, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>",
                                        pad_token="<pad>", model_max_length=spec.max_context)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.layers, num_attention_heads=spec.heads, num_key_value_heads=spec.kv_heads,
        max_position_embeddings=spec.max_context, initializer_range=spec.initializer_range,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path
