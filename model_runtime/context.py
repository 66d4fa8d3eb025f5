"""How memories become model input: one stable text block per promoted set.

The block's bytes depend only on the memories' texts and order, so the KV cache of a block
can be reused for every prompt that starts with it, and a rebuild reproduces it exactly.
"""

from __future__ import annotations

from typing import Sequence

MEMORY_HEADER = "Memories:\n"


def render_memory_block(texts: Sequence[str]) -> str:
    """`Memories:` then one `- text` line per memory, then a blank line."""
    return MEMORY_HEADER + "".join(f"- {' '.join(text.split())}\n" for text in texts) + "\n"


def render_question(question: str, retrieved: Sequence[str]) -> str:
    """The per-query part of a prompt, appended after any cached memory block."""
    recalled = "".join(f"- {' '.join(text.split())}\n" for text in retrieved)
    return (f"Relevant memories:\n{recalled}\n" if recalled else "") + f"Question: {question.strip()}\nAnswer:"
