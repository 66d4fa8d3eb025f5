"""The error hierarchy of MOS: every failure the SDK raises is a `MosError`.

Callers catch the specific subclass they can handle; the CLI and REST layers map each
subclass to one clear line / status code.
"""


class MosError(Exception):
    """Base class of every error MOS raises on purpose."""


class InvalidInput(MosError, ValueError):
    """The request itself is malformed (empty text, bad metadata, …); nothing was written."""


class NotFound(MosError, LookupError):
    """A user, cube or memory id does not exist (or is not visible to the caller)."""


class AccessDenied(MosError, PermissionError):
    """The caller is known but lacks the role the operation needs."""


class Conflict(MosError):
    """Optimistic concurrency failure: the stream moved past the version the writer read."""


class Unavailable(MosError):
    """A server the operation needs stayed unreachable longer than the caller is made to wait."""


class InvalidTransition(MosError):
    """The lifecycle state machine forbids this command in the memory's current state."""


class AlreadyExists(Conflict):
    """A user or cube with that id already exists."""


class GenerationFailed(MosError):
    """The language model (local or behind an OpenAI-compatible endpoint) did not answer."""


class ArtifactError(MosError):
    """An activation / parametric memory artifact cannot be used."""


class ArtifactMismatch(ArtifactError, InvalidInput):
    """The artifact was built for another model (its model fingerprint differs)."""


class CorruptArtifact(ArtifactError):
    """An artifact's files do not match the content hash recorded in its manifest."""
