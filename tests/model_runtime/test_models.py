"""Loading local causal LMs: nothing downloaded, clear errors, a fingerprint per weights."""

from __future__ import annotations

import json

import pytest

from model_runtime.models import ModelLoadError, load_causal_lm, model_fingerprint


def test_loads_a_local_model_directory_with_its_tokenizer_and_context(tiny_model, tiny_model_dir):
    assert tiny_model.model_id == "tiny-llama"
    assert tiny_model.max_context == 1024
    assert tiny_model.tokenizer("hello")["input_ids"]
    assert tiny_model.fingerprint == model_fingerprint(tiny_model_dir)


def test_fingerprint_changes_with_the_weights(tiny_model, other_model_dir):
    assert model_fingerprint(other_model_dir) != tiny_model.fingerprint


def test_missing_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        load_causal_lm(tmp_path / "nowhere")


def test_directory_without_config_is_not_a_model(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_causal_lm(tmp_path)


def test_a_model_that_is_not_a_causal_lm_is_rejected(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["BertModel"], "model_type": "bert"}))
    with pytest.raises(ModelLoadError, match="not a causal LM"):
        load_causal_lm(tmp_path)


def test_a_causal_lm_config_without_weights_is_a_clear_error(tmp_path, tiny_model_dir):
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        (tmp_path / name).write_bytes((tiny_model_dir / name).read_bytes())
    with pytest.raises(ModelLoadError, match="cannot load"):
        load_causal_lm(tmp_path)
