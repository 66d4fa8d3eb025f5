"""Bearer tokens → user ids: who is calling the REST API.

The store keeps only the SHA-256 digest of each token, so a memory dump or a stray log line
of the store never reveals a usable token. A presented token is hashed and compared with
every stored digest in constant time (`hmac.compare_digest`, no early exit), so response
timing does not tell an attacker how close a guess came or which entry matched.

A token that is unknown, expired or absent is the same `Unauthenticated` error: the caller
learns nothing about which tokens exist.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from mos.domain.errors import InvalidInput
from mos.domain.validation import validate_id

TOKENS_ENV = "MOS_API_TOKENS"


class Unauthenticated(Exception):
    """No valid bearer token: the REST layer answers 401 with `WWW-Authenticate: Bearer`."""


@dataclass(frozen=True)
class TokenGrant:
    """One accepted token, by its digest: it acts as `user_id` until `expires_at` (never if None)."""

    digest: bytes
    user_id: str
    expires_at: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


def digest_of(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class TokenStore:
    """Maps bearer tokens to user ids, with optional expiry.

    Build it with `from_file`, `from_env`, `from_pairs` or directly from `TokenGrant`s. Two
    entries for the same token are refused at load time rather than resolved silently.
    """

    def __init__(self, grants: Iterable[TokenGrant], clock: Callable[[], datetime] = _utc_now):
        self._grants = tuple(grants)
        if len({g.digest for g in self._grants}) != len(self._grants):
            raise InvalidInput("the same token is listed more than once")
        self._clock = clock

    def __len__(self) -> int:
        return len(self._grants)

    def user_for(self, token: str | None) -> str:
        """The user id the token acts as; Unauthenticated if it is missing, unknown or expired."""
        if not token:
            raise Unauthenticated("missing bearer token")
        presented = digest_of(token)
        match: TokenGrant | None = None
        for grant in self._grants:  # every entry is compared, whether or not one already matched
            if hmac.compare_digest(grant.digest, presented):
                match = grant
        if match is None or match.expired(self._clock()):
            raise Unauthenticated("unknown or expired bearer token")
        return match.user_id

    # --- loading ---------------------------------------------------------------------------

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str, datetime | None]],
                   clock: Callable[[], datetime] = _utc_now) -> "TokenStore":
        """`(token, user_id, expires_at)` triples; tokens are hashed here and not kept."""
        grants = []
        for token, user_id, expires_at in pairs:
            if not isinstance(token, str) or not token.strip() or token != token.strip():
                raise InvalidInput("a token must be a non-empty string without surrounding whitespace")
            if expires_at is not None and expires_at.tzinfo is None:
                raise InvalidInput(f"expiry of {user_id!r}'s token must carry a timezone (e.g. ...Z)")
            grants.append(TokenGrant(digest_of(token), validate_id(user_id, "user"), expires_at))
        return cls(grants, clock)

    @classmethod
    def from_file(cls, path: str | Path, clock: Callable[[], datetime] = _utc_now) -> "TokenStore":
        """`{"tokens": [{"token": "...", "user": "alice", "expires_at": "2027-01-01T00:00:00Z" | null}]}`."""
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read token file {path}: {exc}") from None
        entries = document.get("tokens") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise InvalidInput(f"token file {path} must be an object with a 'tokens' list")
        return cls.from_pairs((_entry(e, position) for position, e in enumerate(entries)), clock)

    @classmethod
    def from_env(cls, environ: Mapping[str, str], clock: Callable[[], datetime] = _utc_now) -> "TokenStore":
        """`MOS_API_TOKENS="tok1=alice,tok2=bob"`: tokens that never expire. Empty if unset."""
        spec = environ.get(TOKENS_ENV, "")
        pairs = []
        for item in filter(None, (part.strip() for part in spec.split(","))):
            token, sep, user_id = item.rpartition("=")
            if not sep:
                raise InvalidInput(f"{TOKENS_ENV} entries must look like token=user")
            pairs.append((token, user_id, None))
        return cls.from_pairs(pairs, clock)


def _entry(entry: Any, position: int) -> tuple[str, str, datetime | None]:
    if not isinstance(entry, dict) or set(entry) - {"token", "user", "expires_at"}:
        raise InvalidInput(f"token entry {position}: expected {{token, user, expires_at?}}")
    expires = entry.get("expires_at")
    if expires is not None:
        try:
            expires = datetime.fromisoformat(expires)
        except (TypeError, ValueError):
            raise InvalidInput(f"token entry {position}: expires_at must be an ISO 8601 time or null") from None
    return entry.get("token"), entry.get("user"), expires
