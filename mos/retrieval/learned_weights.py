"""The shipped fusion weights: a small, versioned artifact rebuilt by bench/train_fusion.py.

A logistic regression over `features.FEATURES` (seven weights), trained on the LoCoMo dev
conversations only; the file records its version, what it was trained on and its
leave-one-conversation-out recall, so a number quoted for it can be traced to how it was made.
Read lazily and once (no I/O at import).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from mos.retrieval.features import FEATURES

ARTIFACT = Path(__file__).with_name("fusion_weights.json")

# Used only when the artifact is absent: equal weight on the own-match signals, half on context.
FALLBACK = {"bm25": 1.0, "vector": 1.0, "context_bm25": 0.5, "context_vector": 0.5, "speaker": 0.5,
            "window_bm25": 0.5, "window_vector": 0.5}


@lru_cache(maxsize=1)
def shipped_weights() -> dict[str, float]:
    """feature -> weight from the artifact (FALLBACK if there is none)."""
    if not ARTIFACT.exists():
        return dict(FALLBACK)
    weights = json.loads(ARTIFACT.read_text())["weights"]
    if set(weights) != set(FEATURES):
        raise ValueError(f"{ARTIFACT} has weights for {sorted(weights)}, expected {sorted(FEATURES)}")
    return {name: float(weights[name]) for name in FEATURES}
