"""Input validation, done before anything is embedded or appended.

Limits are documented in the README; they keep one event well under Kafka's default 1 MB
message size (text + 384 floats + metadata).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable, Mapping

from mos.domain.errors import InvalidInput

MAX_TEXT_CHARS = 16_000
MAX_TAGS = 32
MAX_TAG_CHARS = 64
MAX_METADATA_BYTES = 32_000
MAX_BATCH_ITEMS = 100_000
MAX_METADATA_DEPTH = 32
MAX_PAGE = 10_000
MAX_OFFSET = 1_000_000_000
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$")


def validate_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID_PATTERN.match(value):
        raise InvalidInput(
            f"{what} must be 1-128 characters of letters, digits and . _ @ : - "
            f"(starting with a letter or digit), got {value!r}"
        )
    return value


def require_utf8(value: str, what: str) -> str:
    """Strings reach Avro, SQLite and HTTP as UTF-8; a lone surrogate (e.g. from a JSON
    `"\\udc00"` escape) cannot be encoded, so it is refused here, before anything is written."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"{what} is not valid Unicode text (it contains an unpaired surrogate)") from None
    return value


def validate_text(text: Any) -> str:
    if not isinstance(text, str):
        raise InvalidInput(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InvalidInput("text must not be empty or whitespace")
    if len(text) > MAX_TEXT_CHARS:
        raise InvalidInput(f"text is {len(text)} characters; the limit is {MAX_TEXT_CHARS}")
    if "\x00" in text:
        raise InvalidInput("text must not contain NUL characters")
    return require_utf8(text, "text")


def validate_tags(tags: Iterable[Any] | None) -> tuple[str, ...]:
    if tags is None:
        return ()
    if isinstance(tags, str) or not isinstance(tags, Iterable):
        raise InvalidInput("tags must be a list of strings")
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise InvalidInput(f"each tag must be a non-empty string, got {tag!r}")
        if len(tag) > MAX_TAG_CHARS:
            raise InvalidInput(f"tag {tag[:20]!r}… is longer than {MAX_TAG_CHARS} characters")
        if "\x00" in tag:
            raise InvalidInput("tags must not contain NUL characters")
        require_utf8(tag, "a tag")
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags per memory, got {len(cleaned)}")
    return tuple(cleaned)


def canonical_metadata_json(metadata: Mapping[str, Any] | None) -> str:
    """Metadata as canonical JSON (sorted keys): a JSON object of finite values only."""
    if metadata is None:
        return "{}"
    if not isinstance(metadata, Mapping):
        raise InvalidInput(f"metadata must be a JSON object (dict), got {type(metadata).__name__}")
    try:
        encoded = json.dumps(metadata, sort_keys=True, ensure_ascii=False, allow_nan=False,
                             separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"metadata is not JSON-serialisable: {exc}") from None
    if not all(isinstance(k, str) for k in metadata):
        raise InvalidInput("metadata keys must be strings")
    if _depth(metadata) > MAX_METADATA_DEPTH:
        raise InvalidInput(f"metadata is nested more than {MAX_METADATA_DEPTH} levels deep")
    require_utf8(encoded, "metadata")
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise InvalidInput(f"metadata is over {MAX_METADATA_BYTES} bytes as JSON")
    return encoded


def _depth(value: Any) -> int:
    """Nesting depth, iteratively (a recursive walk would itself overflow on hostile input)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_METADATA_DEPTH:
            return level
        children = node.values() if isinstance(node, Mapping) else node if isinstance(node, list) else ()
        stack.extend((child, level + 1) for child in children if isinstance(child, (Mapping, list)))
    return deepest


def validate_reason(reason: Any) -> str | None:
    if reason is None:
        return None
    if not isinstance(reason, str) or len(reason) > 2000 or "\x00" in reason:
        raise InvalidInput("reason must be a string of at most 2000 characters, without NUL")
    return require_utf8(reason, "reason")


def validate_page(limit: Any, offset: Any) -> tuple[int, int]:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be an integer between 1 and {MAX_PAGE}, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(f"offset must be an integer between 0 and {MAX_OFFSET}, got {offset!r}")
    return limit, offset


def validate_embedding(vector: Iterable[float], dimension: int) -> tuple[float, ...]:
    values = tuple(float(v) for v in vector)
    if len(values) != dimension or not all(math.isfinite(v) for v in values):
        raise InvalidInput(f"embedding must be {dimension} finite floats")
    return values
