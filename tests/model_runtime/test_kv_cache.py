"""Activation memory: a memory block prefilled once, stored, injected at query time."""

from __future__ import annotations

import pytest

from mos.domain.errors import ArtifactMismatch, CorruptArtifact, InvalidInput
from model_runtime.artifact_store import DirectoryArtifactStore
from model_runtime.context import render_memory_block, render_question
from model_runtime.generation import LocalGenerator
from model_runtime.kv_cache import KvCacheSettings, build_kv_cache, load_kv_cache
from model_runtime.manifest import ArtifactManifest
from model_runtime.models import load_causal_lm

from .conftest import FACTS


def _manifest(loaded, artifact_id="kv-test", fingerprint=None):
    return ArtifactManifest(artifact_id, "kv_cache", "activation", "cube-1", loaded.model_id,
                            fingerprint or loaded.fingerprint, 0, "context-hash", (), {})


def _store_block(tmp_path, loaded, text, settings=KvCacheSettings(chunk_tokens=16)):
    store = DirectoryArtifactStore(tmp_path / "artifacts")
    manifest = store.write(_manifest(loaded), lambda staging: build_kv_cache(loaded, text, staging, settings))
    return store, manifest


def test_greedy_generation_with_injected_cache_equals_full_prefill(tmp_path, tiny_model):
    block = render_memory_block(FACTS * 4)
    store, manifest = _store_block(tmp_path, tiny_model, block)
    prefix = load_kv_cache(*store.open(manifest.artifact_id), tiny_model)
    generator = LocalGenerator(tiny_model)
    for question in ("Where does Alice live?", "What is the name of Alice's dog?"):
        text = render_question(question, ["Bob's favourite food is ramen."])
        injected = generator.generate(text, prefix=prefix, max_new_tokens=24)
        full = generator.generate(text, prefix_ids=prefix.token_ids, max_new_tokens=24)
        assert injected.new_token_ids == full.new_token_ids
        assert len(set(injected.new_token_ids)) >= 5, "degenerate output would make the equality vacuous"
        assert injected.cached_tokens == manifest.token_count and full.cached_tokens == 0
        assert injected.prompt_tokens == full.prompt_tokens
    again = generator.generate(render_question("Where does Alice live?", []), prefix=prefix, max_new_tokens=24)
    reference = generator.generate(render_question("Where does Alice live?", []), prefix_ids=prefix.token_ids,
                                   max_new_tokens=24)
    assert again.new_token_ids == reference.new_token_ids  # the cache was cropped back after each use


def test_manifest_records_token_count_and_file_hashes(tmp_path, tiny_model):
    _, manifest = _store_block(tmp_path, tiny_model, render_memory_block(FACTS))
    assert manifest.token_count == len(tiny_model.tokenizer(render_memory_block(FACTS))["input_ids"]) + 1  # + BOS
    assert set(manifest.files) == {"kv.safetensors"} and len(manifest.content_hash) == 64


def test_cache_built_for_another_model_is_refused(tmp_path, tiny_model, other_model_dir):
    store, manifest = _store_block(tmp_path, tiny_model, render_memory_block(FACTS))
    with pytest.raises(ArtifactMismatch, match="built for model"):
        load_kv_cache(*store.open(manifest.artifact_id), load_causal_lm(other_model_dir))


def test_block_longer_than_the_context_is_rejected_and_nothing_is_written(tmp_path, tiny_model):
    store = DirectoryArtifactStore(tmp_path / "artifacts")
    long_block = render_memory_block(["Alice remembers a very long story about her holidays. " * 20] * 20)
    with pytest.raises(InvalidInput, match="longer than the model's context"):
        store.write(_manifest(tiny_model), lambda staging: build_kv_cache(tiny_model, long_block, staging))
    assert store.ids() == [] and list((tmp_path / "artifacts").iterdir()) == []


def test_corrupted_cache_file_is_detected_before_use(tmp_path, tiny_model):
    store, manifest = _store_block(tmp_path, tiny_model, render_memory_block(FACTS))
    payload = tmp_path / "artifacts" / manifest.artifact_id / "kv.safetensors"
    data = bytearray(payload.read_bytes())
    data[-5] ^= 0xFF
    payload.write_bytes(bytes(data))
    with pytest.raises(CorruptArtifact, match="does not match its recorded SHA-256"):
        store.open(manifest.artifact_id)


def test_a_build_that_fails_half_way_leaves_no_visible_artifact(tmp_path, tiny_model):
    store = DirectoryArtifactStore(tmp_path / "artifacts")

    def crash(staging):
        (staging / "kv.safetensors").write_bytes(b"half a file")
        raise RuntimeError("power cut")

    with pytest.raises(RuntimeError):
        store.write(_manifest(tiny_model), crash)
    assert store.ids() == [] and not store.exists("kv-test")
    assert list((tmp_path / "artifacts").iterdir()) == []


def test_question_that_overflows_the_context_after_the_cache_is_rejected(tmp_path, tiny_model):
    store, manifest = _store_block(tmp_path, tiny_model, render_memory_block(FACTS))
    prefix = load_kv_cache(*store.open(manifest.artifact_id), tiny_model)
    with pytest.raises(InvalidInput, match="exceeds the model's context"):
        LocalGenerator(tiny_model).generate("why " * 2000, prefix=prefix, max_new_tokens=8)
