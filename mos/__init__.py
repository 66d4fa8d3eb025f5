"""MOS — an event-sourced Memory Operating System for LLM apps.

    from mos import MOS
    mos = MOS(data_dir="./memories")
    mos.create_user("alice")
    cube = mos.create_cube("notes", owner="alice")
    mos.add("Alice moved to Lisbon in May 2023.", user_id="alice", cube_id=cube)
    hits = mos.search("where does Alice live?", user_id="alice")
"""

from mos.domain.errors import (
    AccessDenied,
    AlreadyExists,
    Conflict,
    InvalidInput,
    InvalidTransition,
    MosError,
    NotFound,
)
from mos.sdk import MOS, ReplayReport
from mos.types import Hit, MemoryItem

__all__ = [
    "MOS",
    "Hit",
    "MemoryItem",
    "ReplayReport",
    "MosError",
    "InvalidInput",
    "NotFound",
    "AccessDenied",
    "Conflict",
    "AlreadyExists",
    "InvalidTransition",
]
