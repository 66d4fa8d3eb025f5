"""Parametric memory: memories distilled into a LoRA adapter that lowers their loss."""

from __future__ import annotations

import pytest

from mos.domain.errors import InvalidInput
from model_runtime.lora import AdapterSet, LoraSettings, mean_loss, train_adapter
from model_runtime.lora.trainer import encode_examples

from .conftest import FACTS


def _parameters(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_adapter_lowers_the_loss_on_its_memories_versus_the_base_model(tmp_path, tiny_model):
    before = _parameters(tiny_model.model)
    report = train_adapter(tiny_model, FACTS, tmp_path, LoraSettings(epochs=3))
    assert report.loss_after < report.loss_before * 0.85
    examples = encode_examples(tiny_model, FACTS, 256)
    pad = tiny_model.tokenizer.pad_token_id
    adapters = AdapterSet(tiny_model)
    adapters.load("lora-test", tmp_path)
    with adapters.active("lora-test") as with_adapter:
        adapted = mean_loss(with_adapter, examples, pad)
    with adapters.active(None) as base:
        base_loss = mean_loss(base, examples, pad)
    assert adapted == pytest.approx(report.loss_after, rel=1e-5)
    assert base_loss == pytest.approx(report.loss_before, rel=1e-6)
    assert adapted < base_loss
    after = _parameters(tiny_model.model)
    assert all((before[name] == after[name]).all() for name in before), "the shared model must stay pristine"


def test_same_memories_and_seed_train_byte_identical_adapters(tmp_path, tiny_model):
    train_adapter(tiny_model, FACTS, tmp_path / "a", LoraSettings(epochs=1))
    train_adapter(tiny_model, FACTS, tmp_path / "b", LoraSettings(epochs=1))
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == ["adapter_config.json", "adapter_model.safetensors"]
    assert all((tmp_path / "a" / n).read_bytes() == (tmp_path / "b" / n).read_bytes() for n in names)


def test_empty_memory_set_is_rejected(tmp_path, tiny_model):
    with pytest.raises(InvalidInput, match="empty set of memories"):
        train_adapter(tiny_model, [], tmp_path)


@pytest.mark.parametrize("field, value", [("rank", 0), ("learning_rate", -1.0), ("dropout", 1.5), ("epochs", 0),
                                          ("target_modules", ())])
def test_impossible_hyper_parameters_are_rejected_naming_the_field(field, value):
    with pytest.raises(InvalidInput, match=field):
        LoraSettings(**{field: value})


TRAIN_IN_A_FRESH_PROCESS = """
import hashlib, sys
from pathlib import Path
from model_runtime.lora import LoraSettings, train_adapter
from model_runtime.models import load_causal_lm
out = Path(sys.argv[2])
train_adapter(load_causal_lm(sys.argv[1]), ["Alice lives in Lisbon.", "Bob runs marathons."], out, LoraSettings(epochs=1))
print(" ".join(hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())))
"""


def test_adapters_are_byte_identical_across_processes_and_hash_seeds(tmp_path, tiny_model_dir):
    """Replay happens in another process: nothing may depend on per-process state such as
    Python's string-hash seed (peft writes target_modules from a set)."""
    import os
    import subprocess
    import sys

    digests = []
    for seed in ("1", "2"):
        result = subprocess.run([sys.executable, "-c", TRAIN_IN_A_FRESH_PROCESS, str(tiny_model_dir),
                                 str(tmp_path / seed)], env={**os.environ, "PYTHONHASHSEED": seed},
                                capture_output=True, text=True, check=True)
        digests.append(result.stdout.split())
    assert len(digests[0]) == 2 and digests[0] == digests[1]
