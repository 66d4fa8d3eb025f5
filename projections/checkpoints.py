"""The checkpoint guard shared by every read-model adapter (no imports from the SDK)."""

from __future__ import annotations


class CheckpointMoved(Exception):
    """Another runner advanced the read model since this one read its checkpoint."""


def require_checkpoint(tx, expected: int | None) -> None:
    """For SQL adapters: inside the write transaction, fail unless the checkpoint is `expected`.

    Two processes projecting into one read model would otherwise both apply the same batch;
    with this check the second one's transaction does nothing and it re-reads the checkpoint.
    """
    if expected is None:
        return
    row = tx.execute("SELECT next_offset FROM checkpoint WHERE id = 0").fetchone()
    if (row[0] if row else 0) != expected:
        raise CheckpointMoved(f"checkpoint is {row[0] if row else 0}, expected {expected}")
