"""The KeyStore port: where the data keys that seal memory content live.

The log is immutable and copied everywhere (brokers, replicas, backups, caches); the keys
are not. Erasing a memory destroys its key, which erases its content from every copy of
the log at once. A key store must therefore really forget: a destroyed key must not
survive in a journal, a WAL or a backup of the store itself. The embedded adapter is a
SQLite file beside the data; a deployment with a KMS (Vault transit, AWS KMS, …)
implements these four methods over it.
"""

from __future__ import annotations

from typing import Iterable, Protocol


class KeyStore(Protocol):
    def get(self, key_id: str) -> bytes | None:
        """The key, or None if it was destroyed; KeyError if this store never had it (a
        consumer pointed at another store than the producer's must fail, not see erasures)."""
        ...

    def create_many(self, key_ids: Iterable[str]) -> dict[str, bytes]:
        """Keys for `key_ids`, created (durably, before returning) where missing; None is
        never returned, but a destroyed key id is refused with KeyError: its memory is gone."""
        ...

    def destroy(self, key_ids: Iterable[str]) -> int:
        """Destroy keys for good; returns how many existed. Idempotent."""
        ...

    def close(self) -> None:
        ...
