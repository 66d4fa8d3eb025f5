"""LoRA hyper-parameters for distilling memories, with defaults that fit small CPU budgets.

Defaults: rank 8, alpha 16 (scale 2), no dropout (so a rebuild from the log is bit-identical),
adapters on the four attention projections (q/k/v/o, as named in Llama, Qwen2 and Mistral),
AdamW at 5e-3 for 5 epochs over the memories in batches of 4, each memory truncated to 256
tokens, causal-LM loss on every token of the memory text (plus EOS). A cube's promoted set
is small (tens of memories), so the learning rate is higher than for dataset fine-tuning:
the goal is to memorise these texts in a few dozen steps. All of it goes in the manifest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from mos.domain.errors import InvalidInput


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    learning_rate: float = 5e-3
    epochs: int = 5
    batch_size: int = 4
    max_tokens: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        problems = [name for name, ok in (
            ("rank", self.rank >= 1), ("alpha", self.alpha > 0), ("dropout", 0.0 <= self.dropout < 1.0),
            ("target_modules", bool(self.target_modules)), ("learning_rate", 0 < self.learning_rate < 1),
            ("epochs", self.epochs >= 1), ("batch_size", self.batch_size >= 1), ("max_tokens", self.max_tokens >= 8),
        ) if not ok]
        if problems:
            raise InvalidInput(f"invalid LoRA settings: {', '.join(problems)} out of range")

    def as_dict(self) -> dict:
        values = asdict(self)
        values["target_modules"] = list(self.target_modules)
        return values
