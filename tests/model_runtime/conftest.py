"""Tiny causal LMs built from a config and saved to disk, so every test goes through the
real loading path (`load_causal_lm` on a directory), on the CPU, in seconds."""

from __future__ import annotations

import pytest

from mos import MOS
from mos.embedders.hashing import HashingEmbedder
from model_runtime.lora import LoraSettings
from model_runtime.models import load_causal_lm
from model_runtime.runtime import RuntimeSettings
from model_runtime.tiny_model import build_tiny_model
from tests.conftest import _kafka_backend

FAST_LORA = RuntimeSettings(lora=LoraSettings(epochs=3, batch_size=4))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama", seed=0)


@pytest.fixture(scope="session")
def other_model_dir(tmp_path_factory):
    """Same architecture, other weights: artifacts of one must not load on the other."""
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama-seed1", seed=1)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    return load_causal_lm(tiny_model_dir)


@pytest.fixture(params=["embedded", "kafka"])
def mos_llm(request, tmp_path, tiny_model):
    """The SDK with a local model, on each backend."""
    embedder = HashingEmbedder()
    backend = "embedded" if request.param == "embedded" else _kafka_backend(tmp_path, embedder)
    with MOS(tmp_path / "data", embedder=embedder, backend=backend, model=tiny_model,
             runtime_settings=FAST_LORA) as instance:
        yield instance


@pytest.fixture
def embedded_llm(tmp_path, tiny_model):
    with MOS(tmp_path / "data", embedder=HashingEmbedder(), model=tiny_model, runtime_settings=FAST_LORA) as m:
        yield m


FACTS = [
    "Alice moved to Lisbon in May 2023.",
    "Alice works as a nurse at the city hospital.",
    "Alice's dog is called Pixel.",
    "Alice is learning to play the cello.",
    "Bob runs a marathon every spring.",
    "Bob's favourite food is ramen.",
]


def seed_memories(mos, user="alice"):
    mos.create_user(user)
    cube = mos.create_cube(f"{user}-notes", owner=user)
    return cube, mos.add_many([{"text": t} for t in FACTS], user, cube)
