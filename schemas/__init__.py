"""Avro schemas of every MOS event: the contract between producers, projections and auditors.

`<EventName>.avsc` is the current (reader) schema of each event. `history/` keeps every
older writer schema that was ever released, so events written years ago still decode.
"""

from importlib import resources
from pathlib import Path


def schema_directory() -> Path:
    """Directory holding the current `.avsc` files (works for editable and wheel installs)."""
    return Path(str(resources.files(__name__)))
