"""The ChatCompleter port: the plaintext generation path that `MOS.chat` calls.

Kept to the few fields every OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp
server) agrees on, so that any of them — or a local model — can sit behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

ROLES: frozenset[str] = frozenset({"system", "user", "assistant"})
"""The roles a `ChatMessage` may carry; tool / function roles are deliberately out of scope."""


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a conversation; `role` is one of `ROLES`."""

    role: str
    content: str


@dataclass(frozen=True)
class Completion:
    """What the model answered.

    `model` is the model the server says it used (it may differ from the one requested,
    e.g. an alias resolved to a snapshot). Token counts are None when the server does not
    report usage; `finish_reason` is the server's own word ("stop", "length", …) or None.
    """

    text: str
    model: str
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None


class ChatCompleter(Protocol):
    """Generates one assistant reply to a conversation.

    Implementations raise `mos.domain.errors.InvalidInput` for arguments they reject
    before doing any work, and `GenerationFailed` when the model could not answer.
    `model_id` names the model, so what produced an answer can be recorded.
    """

    model_id: str

    def complete(
        self, messages: Sequence[ChatMessage], max_tokens: int, temperature: float = 0.0
    ) -> Completion: ...
