"""The REST API over the SDK: `create_app(mos, tokens)` and the `TokenStore` it authenticates with.

Names resolve lazily (PEP 562), so `mos.rest.cli` — and with it the `mos` command line —
can be imported without importing FastAPI.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mos.rest.app import create_app  # noqa: F401
    from mos.rest.auth import TokenGrant, TokenStore, Unauthenticated  # noqa: F401

_WHERE = {"create_app": "mos.rest.app", "TokenStore": "mos.rest.auth", "TokenGrant": "mos.rest.auth",
          "Unauthenticated": "mos.rest.auth"}
__all__ = list(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'mos.rest' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
