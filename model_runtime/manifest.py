"""The manifest that travels with every artifact: what it is, which model it is for, and
exactly which memories (and which of their content events) it encodes.

The manifest holds no timestamps or paths, so rebuilding an artifact from the log yields a
byte-identical manifest, and `manifest_hash` can be recorded in the ArtifactBuilt event.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

MANIFEST_FILE = "manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class SourceMemory:
    """One memory as it went into an artifact: its id, the version read, and the event that
    gave it that text."""

    memory_id: str
    version: int
    content_event_id: str


@dataclass(frozen=True)
class ArtifactManifest:
    artifact_id: str
    kind: str
    tier: str
    cube_id: str
    model_id: str
    model_fingerprint: str
    token_count: int
    context_hash: str
    sources: tuple[SourceMemory, ...]
    settings: Mapping[str, Any]
    files: Mapping[str, str] = field(default_factory=dict)  # file name -> SHA-256
    format: int = FORMAT_VERSION

    @property
    def content_hash(self) -> str:
        """Hash of the payload files (not of the manifest): equal bytes, equal hash."""
        return sha256_text("\n".join(f"{name} {digest}" for name, digest in sorted(self.files.items())))

    @property
    def source_memory_ids(self) -> tuple[str, ...]:
        return tuple(s.memory_id for s in self.sources)

    @property
    def source_event_ids(self) -> tuple[str, ...]:
        return tuple(s.content_event_id for s in self.sources)

    def to_json(self) -> str:
        body = asdict(self)
        body["sources"] = [asdict(s) for s in self.sources]
        return json.dumps(body, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    @property
    def manifest_hash(self) -> str:
        return sha256_text(self.to_json())

    @classmethod
    def from_json(cls, text: str) -> "ArtifactManifest":
        body = json.loads(text)
        body["sources"] = tuple(SourceMemory(**s) for s in body["sources"])
        return cls(**body)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def artifact_id_for(kind: str, cube_id: str, model_fingerprint: str, sources: tuple[SourceMemory, ...],
                    settings: Mapping[str, Any]) -> str:
    """Deterministic: the same promoted content on the same model with the same settings is
    the same artifact, so a runtime that crashed after writing it finds and reuses it."""
    key = json.dumps([kind, cube_id, model_fingerprint, [asdict(s) for s in sources], dict(settings)],
                     sort_keys=True)
    prefix = {"kv_cache": "kv", "lora_adapter": "lora"}.get(kind, kind)
    return f"{prefix}-{sha256_text(key)[:24]}"
