"""The default embedder is the real all-MiniLM-L6-v2, loaded offline from its wheel."""

from __future__ import annotations

import numpy as np

from mos import MOS


def test_embeddings_are_384_d_unit_norm_and_semantic(minilm):
    vectors = minilm.embed(["I adopted a puppy", "We got a new dog", "The stock market fell"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_events_carry_the_embedding_so_replay_never_re_embeds(tmp_path, minilm):
    with MOS(tmp_path, embedder=minilm) as mos:
        mos.create_user("alice")
        cube = mos.create_cube("c", owner="alice")
        memory_id = mos.add("Our new puppy is called Biscuit", "alice", cube)
        created = mos.history(memory_id, "alice")[0]
        assert created.embedding_model == minilm.model_id and len(created.embedding) == 384
        assert np.allclose(created.embedding, minilm.embed(["Our new puppy is called Biscuit"])[0], atol=1e-6)
        calls = []
        original = minilm.embed
        minilm.embed = lambda texts: calls.append(texts) or original(texts)
        try:
            mos.replay()
        finally:
            minilm.embed = original
        assert calls == []


def test_dense_signal_finds_a_paraphrase_with_no_shared_words(tmp_path, minilm):
    with MOS(tmp_path, embedder=minilm) as mos:
        mos.create_user("alice")
        cube = mos.create_cube("c", owner="alice")
        target = mos.add("We adopted a beagle puppy last weekend", "alice", cube)
        mos.add_many([{"text": t} for t in ["The quarterly report is due Friday", "I repaired the bicycle chain",
                                            "Paris was rainy in November"]], "alice", cube)
        hits = mos.search("new family dog", "alice", top_k=1)
        assert hits[0].memory_id == target and "vector" in hits[0].signals and "bm25" not in hits[0].signals
