"""`MOS.chat`: retrieved memories in the prompt, the cube's KV cache and adapter in the model,
and a response that says which of them it used."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mos import MOS
from mos.domain.errors import ArtifactMismatch, InvalidInput
from mos.embedders.hashing import HashingEmbedder
from mos.llm.openai_compatible import OpenAICompatibleChat
from model_runtime.context import render_question
from model_runtime.models import load_causal_lm

from .conftest import seed_memories


def test_chat_injects_the_cubes_kv_cache_and_adapter_and_reports_them(embedded_llm):
    _, ids = seed_memories(embedded_llm)
    embedded_llm.promote(ids[:3], "alice", "activation")
    embedded_llm.promote(ids[3:5], "alice", "parametric")
    embedded_llm.build_artifacts()
    kv, lora = sorted(embedded_llm.artifacts("alice"), key=lambda a: a.tier)
    response = embedded_llm.chat("Where does Alice live?", "alice", top_k=3, max_new_tokens=12)
    assert response.kv_cache == kv.artifact_id and response.adapter == lora.artifact_id
    assert set(response.artifacts) == {kv.artifact_id, lora.artifact_id}
    assert response.cached_memory_ids == kv.source_memory_ids
    assert response.cached_tokens == kv.token_count and response.prompt_tokens > kv.token_count
    assert len(response.memories) == 3 and response.model == "tiny-llama"


def test_chat_with_cache_answers_like_full_prefill_of_the_same_prompt(embedded_llm):
    _, ids = seed_memories(embedded_llm)
    embedded_llm.promote(ids[:4], "alice", "activation")
    embedded_llm.build_artifacts()
    with_cache = embedded_llm.chat("What is Alice's dog called?", "alice", top_k=2, max_new_tokens=16)
    generator = embedded_llm._models.generator()
    prefix = embedded_llm._models._prefix(embedded_llm.artifacts("alice")[0])
    retrieved = [h.text for h in with_cache.memories if h.memory_id not in with_cache.cached_memory_ids]
    full = generator.generate(render_question("What is Alice's dog called?", retrieved), prefix_ids=prefix.token_ids,
                              max_new_tokens=16)
    assert with_cache.answer == full.text.strip()


def test_chat_without_artifacts_uses_plaintext_memories_only(embedded_llm):
    seed_memories(embedded_llm)
    response = embedded_llm.chat("Where does Alice live?", "alice", top_k=2, max_new_tokens=8)
    assert response.artifacts == () and response.cached_tokens == 0 and len(response.memories) == 2


def test_chat_without_any_model_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("MOS_MODEL", raising=False)
    monkeypatch.delenv("MOS_CHAT_URL", raising=False)
    with MOS(tmp_path / "data", embedder=HashingEmbedder()) as plain:
        seed_memories(plain)
        with pytest.raises(InvalidInput, match="no language model configured"):
            plain.chat("Where does Alice live?", "alice")


def test_artifacts_of_another_model_are_refused_at_chat(embedded_llm, tmp_path, other_model_dir):
    _, ids = seed_memories(embedded_llm)
    embedded_llm.promote(ids[:2], "alice", "activation")
    embedded_llm.build_artifacts()
    with MOS(tmp_path / "data", embedder=HashingEmbedder(), model=load_causal_lm(other_model_dir)) as other:
        with pytest.raises(ArtifactMismatch, match="built for model"):
            other.chat("Where does Alice live?", "alice")
        assert other.chat("Where does Alice live?", "alice", use_artifacts=False, max_new_tokens=4).artifacts == ()


class _OpenAIStub(BaseHTTPRequestHandler):
    requests: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append((self.path, body))
        payload = json.dumps({"model": body["model"], "usage": {"prompt_tokens": 42, "completion_tokens": 3},
                              "choices": [{"message": {"role": "assistant", "content": " Lisbon. "},
                                           "finish_reason": "stop"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def test_plaintext_chat_through_an_openai_compatible_endpoint(tmp_path, monkeypatch):
    monkeypatch.delenv("MOS_MODEL", raising=False)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OpenAIStub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = OpenAICompatibleChat(f"http://127.0.0.1:{server.server_port}", "served-model")
        with MOS(tmp_path / "data", embedder=HashingEmbedder(), chat_client=client) as remote:
            seed_memories(remote)
            response = remote.chat("Where does Alice live?", "alice", top_k=2, max_new_tokens=20)
    finally:
        server.shutdown()
    path, body = _OpenAIStub.requests[-1]
    assert path == "/v1/chat/completions" and body["max_tokens"] == 20 and body["model"] == "served-model"
    system = body["messages"][0]["content"]
    assert all(hit.text in system for hit in response.memories) and body["messages"][1]["content"] == \
        "Where does Alice live?"
    assert response.answer == "Lisbon." and response.model == "served-model" and response.prompt_tokens == 42
    assert response.artifacts == () and len(response.memories) == 2
