"""Field types for request bodies: what JSON the API lets through to the SDK.

JSON can spell things no MOS event can hold, and the SDK does not refuse them itself, so
the API refuses them here with a 422 instead of failing later with a 500:

- lone surrogates (`"\\ud800"`): valid JSON escapes, but not encodable as UTF-8; the SDK
  accepts them in tags, metadata, cube names and reasons and then fails to Avro-encode
  the event (`UnicodeEncodeError`);
- metadata nested deeper than `MAX_METADATA_DEPTH`: the SDK stores it, but no response
  containing it could then be serialised, so every list or search that met it would fail.

The SDK stays the judge of everything else (text length, tag count, metadata size, ids).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, Field

from mos.domain.validation import MAX_TAG_CHARS

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@:-]{0,127}$"
# Text the SDK accepts: no NUL anywhere, and at least one character that is not white space.
CONTENT_PATTERN = r"^[^\x00]*[^\s\x00][^\x00]*$"
NOT_BLANK = r"\S"  # unanchored, as JSON Schema patterns are: at least one non-space character
MAX_METADATA_DEPTH = 32


def _encodable(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("strings must be valid Unicode (no lone surrogate escapes)") from None


def unicode_text(value: str) -> str:
    _encodable(value)
    return value


def json_document(value: Any) -> Any:
    """Every string (keys too) encodable, and no deeper than MAX_METADATA_DEPTH; iterative,
    so a hostile document cannot exhaust the stack here."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, str):
            _encodable(node)
        elif isinstance(node, (dict, list)):
            if depth > MAX_METADATA_DEPTH:
                raise ValueError(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
            if isinstance(node, dict):
                for key, item in node.items():
                    _encodable(key)
                    pending.append((item, depth + 1))
            else:
                pending.extend((item, depth + 1) for item in node)
    return value


Text = Annotated[str, AfterValidator(unicode_text)]
Content = Annotated[str, Field(min_length=1, pattern=CONTENT_PATTERN), AfterValidator(unicode_text)]
Tag = Annotated[str, Field(min_length=1, max_length=MAX_TAG_CHARS, pattern=NOT_BLANK), AfterValidator(unicode_text)]
Id = Annotated[str, Field(pattern=ID_PATTERN, max_length=128)]
MetadataIn = Annotated[dict[str, Any], AfterValidator(json_document)]
