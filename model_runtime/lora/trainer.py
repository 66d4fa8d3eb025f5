"""Fit a LoRA adapter on memory texts with the causal-LM loss, deterministically."""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from mos.domain.errors import InvalidInput
from model_runtime.lora.config import LoraSettings
from model_runtime.models import LoadedModel

Progress = Callable[[int, int], None]  # (steps done, steps total)


@dataclass(frozen=True)
class TrainingReport:
    examples: int
    tokens: int
    steps: int
    seconds: float
    loss_before: float
    loss_after: float


def encode_examples(loaded: LoadedModel, texts: Sequence[str], max_tokens: int) -> list[list[int]]:
    tokenizer = loaded.tokenizer
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    return [(bos + tokenizer(text, add_special_tokens=False)["input_ids"] + eos)[:max_tokens] for text in texts]


def _batch(examples: list[list[int]], pad_id: int):
    import torch

    width = max(len(e) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        ids[row, :len(example)] = torch.tensor(example)
        mask[row, :len(example)] = 1
    labels = ids.masked_fill(mask == 0, -100)
    return ids, mask, labels


def mean_loss(model, examples: list[list[int]], pad_id: int) -> float:
    """Token-weighted causal-LM loss of `model` on the examples (no gradient)."""
    import torch

    total, tokens = 0.0, 0
    with torch.inference_mode():
        for example in examples:
            ids, mask, labels = _batch([example], pad_id)
            out = model(input_ids=ids, attention_mask=mask, labels=labels)
            total += float(out.loss) * (len(example) - 1)
            tokens += len(example) - 1
    return total / max(tokens, 1)


def _canonical_config(path: Path) -> None:
    """peft writes `target_modules` from a Python set, so its order follows the process's
    string-hash seed and the same adapter got different bytes in different processes. Sorted
    keys and sorted set-valued lists make the file a function of the settings alone."""
    config = json.loads(path.read_text())
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")


def train_adapter(loaded: LoadedModel, texts: Sequence[str], directory: Path,
                  settings: LoraSettings = LoraSettings(), progress: Progress | None = None) -> TrainingReport:
    """Train on a private copy of the model (the shared one is never modified) and save the
    adapter (`adapter_config.json`, `adapter_model.safetensors`) into `directory`."""
    import torch
    from peft import LoraConfig, get_peft_model

    if not texts:
        raise InvalidInput("cannot train an adapter on an empty set of memories")
    started = time.perf_counter()
    examples = encode_examples(loaded, texts, settings.max_tokens)
    pad_id = loaded.tokenizer.pad_token_id if loaded.tokenizer.pad_token_id is not None else 0
    torch.manual_seed(settings.seed)
    base = copy.deepcopy(loaded.model)
    loss_before = mean_loss(base, examples, pad_id)
    config = LoraConfig(r=settings.rank, lora_alpha=settings.alpha, lora_dropout=settings.dropout,
                        target_modules=list(settings.target_modules), task_type="CAUSAL_LM", bias="none")
    try:
        model = get_peft_model(base, config)
    except ValueError as exc:
        raise InvalidInput(f"LoRA target_modules {list(settings.target_modules)} do not fit model "
                           f"{loaded.model_id}: {exc}") from None
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate)
    order = torch.Generator().manual_seed(settings.seed)
    per_epoch = -(-len(examples) // settings.batch_size)
    total_steps, step = per_epoch * settings.epochs, 0
    for _ in range(settings.epochs):
        permutation = torch.randperm(len(examples), generator=order).tolist()
        for start in range(0, len(examples), settings.batch_size):
            ids, mask, labels = _batch([examples[i] for i in permutation[start:start + settings.batch_size]], pad_id)
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if progress:
                progress(step, total_steps)
    model.eval()
    loss_after = mean_loss(model, examples, pad_id)
    model.save_pretrained(str(directory))
    (directory / "README.md").unlink(missing_ok=True)  # peft's model card; the artifact is the weights
    _canonical_config(directory / "adapter_config.json")
    return TrainingReport(len(examples), sum(len(e) for e in examples), total_steps,
                          time.perf_counter() - started, loss_before, loss_after)
