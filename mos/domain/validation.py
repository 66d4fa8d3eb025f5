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
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$")


def validate_id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID_PATTERN.match(value):
        raise InvalidInput(
            f"{what} must be 1-128 characters of letters, digits and . _ @ : - "
            f"(starting with a letter or digit), got {value!r}"
        )
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
    return text


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
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise InvalidInput(f"metadata is over {MAX_METADATA_BYTES} bytes as JSON")
    return encoded


def validate_embedding(vector: Iterable[float], dimension: int) -> tuple[float, ...]:
    values = tuple(float(v) for v in vector)
    if len(values) != dimension or not all(math.isfinite(v) for v in values):
        raise InvalidInput(f"embedding must be {dimension} finite floats")
    return values
