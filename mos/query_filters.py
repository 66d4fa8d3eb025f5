"""Parsing of the `filters` argument of `MOS.search` / `get_all` into a SearchFilter.

Accepted keys: `state` (one of active/archived/merged, or a list of them; default active),
`tags` (list: every tag must be present), `metadata` (dict: each key must equal the value).
Unknown keys are an error rather than silently ignored, so a typo never widens a query.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from mos.domain.errors import InvalidInput
from mos.domain.memory import MemoryState
from mos.domain.validation import canonical_metadata_json, validate_tags
from projections.ports import SearchFilter

_STATES = {s.value for s in MemoryState}
_METADATA_KEY = re.compile(r'^[^"\\\x00-\x1f]{1,128}$')  # keys become JSON paths / field names


def parse_filters(cube_ids: tuple[str, ...], filters: Mapping[str, Any] | None) -> SearchFilter:
    filters = dict(filters or {})
    unknown = set(filters) - {"state", "tags", "metadata"}
    if unknown:
        raise InvalidInput(f"unknown filter keys {sorted(unknown)}; use state, tags, metadata")
    states = filters.get("state", ["active"])
    states = [states] if isinstance(states, str) else list(states)
    if not states or any(s not in _STATES for s in states):
        raise InvalidInput(f"state filter must be among {sorted(_STATES)}, got {states!r}")
    metadata = filters.get("metadata") or {}
    canonical_metadata_json(metadata)
    for key in metadata:
        if not _METADATA_KEY.match(key):
            raise InvalidInput(f"metadata filter keys must be 1-128 characters without quotes, backslashes or "
                               f"control characters, got {key!r}")
    return SearchFilter(cube_ids=cube_ids, states=tuple(dict.fromkeys(states)),
                        tags_all=validate_tags(filters.get("tags")), metadata_equals=dict(metadata))
