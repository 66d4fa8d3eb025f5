"""Where artifacts live: one directory per artifact id, holding payload files + manifest.json.

Writes are atomic: a build fills a hidden staging directory, fsyncs it, and renames it into
place, so a reader (or a crash) never sees a half-written artifact. Reads verify every file
against the manifest's hashes before anything is handed to a model.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator, Protocol

from mos.domain.errors import CorruptArtifact, NotFound
from model_runtime.manifest import MANIFEST_FILE, ArtifactManifest, sha256_file

WritePayload = Callable[[Path], int]  # fills a staging directory; returns the token count


class ArtifactStore(Protocol):
    def exists(self, artifact_id: str) -> bool: ...

    def write(self, manifest: ArtifactManifest, write_payload: WritePayload) -> ArtifactManifest:
        """Write payload + manifest atomically; returns the manifest with file hashes filled in."""

    def open(self, artifact_id: str) -> tuple[ArtifactManifest, Path]:
        """Verified manifest and the artifact's directory (read-only by convention)."""

    def remove(self, artifact_id: str) -> None: ...

    def ids(self) -> list[str]: ...


class DirectoryArtifactStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, artifact_id: str) -> Path:
        if not artifact_id or "/" in artifact_id or artifact_id.startswith("."):
            raise NotFound(f"invalid artifact id {artifact_id!r}")
        return self.root / artifact_id

    def exists(self, artifact_id: str) -> bool:
        return (self._path(artifact_id) / MANIFEST_FILE).is_file()

    def write(self, manifest: ArtifactManifest, write_payload: WritePayload) -> ArtifactManifest:
        final = self._path(manifest.artifact_id)
        staging = self.root / f".staging-{manifest.artifact_id}-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
        try:
            token_count = write_payload(staging)
            files = {p.name: sha256_file(p) for p in sorted(staging.iterdir()) if p.is_file()}
            complete = replace(manifest, files=files, token_count=token_count)
            (staging / MANIFEST_FILE).write_text(complete.to_json())
            _fsync_tree(staging)
            if final.exists():  # an identical artifact (same id = same inputs) is already there
                shutil.rmtree(staging)
                return self.open(manifest.artifact_id)[0]
            os.rename(staging, final)
            _fsync_dir(self.root)
            return complete
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def open(self, artifact_id: str) -> tuple[ArtifactManifest, Path]:
        path = self._path(artifact_id)
        manifest_file = path / MANIFEST_FILE
        if not manifest_file.is_file():
            raise NotFound(f"artifact {artifact_id} is not in the store at {self.root}")
        try:
            manifest = ArtifactManifest.from_json(manifest_file.read_text())
        except (ValueError, TypeError, KeyError) as exc:
            raise CorruptArtifact(f"artifact {artifact_id}: unreadable manifest ({exc})") from None
        present = {p.name for p in path.iterdir() if p.is_file() and p.name != MANIFEST_FILE}
        if present != set(manifest.files):
            raise CorruptArtifact(f"artifact {artifact_id}: files {sorted(present)} differ from the manifest's "
                                  f"{sorted(manifest.files)}")
        for name, expected in manifest.files.items():
            if sha256_file(path / name) != expected:
                raise CorruptArtifact(f"artifact {artifact_id}: {name} does not match its recorded SHA-256 "
                                      "(corrupted or modified on disk); rebuild it from the log")
        return manifest, path

    def remove(self, artifact_id: str) -> None:
        shutil.rmtree(self._path(artifact_id), ignore_errors=True)

    def ids(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def clear_staging(self) -> None:
        """Remove staging directories left by a crashed build (never visible as artifacts)."""
        for leftover in self.root.glob(".staging-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def __iter__(self) -> Iterator[str]:
        return iter(self.ids())


def _fsync_tree(directory: Path) -> None:
    for path in directory.iterdir():
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
