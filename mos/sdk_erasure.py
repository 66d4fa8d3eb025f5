"""Right to erasure on an immutable log (a mixin of `mos.sdk.MOS`).

Memory content is sealed in the log with one data key per memory (streams.keys). Erasing
appends a `MemoryErased` per memory, destroys the keys, and purges what was built from the
content: search documents (physically: segment merges, zeroed pages), graph nodes, the
point-in-time snapshots, and KV caches / adapters (rebuilt without the memory). The log
keeps every event — ids, versions, provenance, the erasure itself — so the rest replays
intact and the audit trail still shows that, when and by whom something was erased.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from mos.domain import memory as memories
from mos.domain.commands import CommandContext
from mos.domain.erasure import erasure_index, memories_of_user, with_derived
from mos.domain.errors import AccessDenied, InvalidInput
from mos.domain.events import MemoryErased, memory_key
from mos.domain.validation import validate_id, validate_reason


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure did: the memories erased (with why each was in scope), and how many
    artifacts were rebuilt without them."""

    erased: dict[str, str]
    keys_destroyed: int
    # False if the search index still held deleted documents when the erasure returned
    # (Elasticsearch frees them on its own schedule; `MOS.purge()` tries again).
    purged: bool = True
    artifacts_built: tuple[str, ...] = ()
    artifacts_dropped: tuple[str, ...] = ()


class ErasureMethods:
    def erase_memory(self, memory_id: str, user_id: str, reason: str | None = None) -> ErasureReport:
        """Erase one memory and everything derived from it. Allowed to the owner of its cube
        and to the memory's author."""
        reason = validate_reason(reason)
        memory = self._memory(memory_id, user_id, "reader")
        cube = self._cube(memory.cube_id, user_id, "reader")
        if cube.role_of(user_id) != "owner" and memory.created_by != user_id:
            raise AccessDenied(f"only the owner of cube {memory.cube_id} or the memory's author may erase it")
        with self._lock:
            index = erasure_index(r.event for r in self.log.read(0))
            return self._erase(with_derived(index, [memory_id]), user_id, None, reason)

    def purge(self, wait_s: float = 120.0) -> bool:
        """Make the search index's deletions physical; True when no deleted document is left."""
        return self._backend.index.purge(wait_s=wait_s)

    def erase_user(self, user_id: str, reason: str | None = None) -> ErasureReport:
        """Erase everything of `user_id` (the data subject): the memories they wrote, in any
        cube, every memory in the cubes they own, and what was derived from those. The user
        and cube records (ids only) stay, so the log's history remains consistent."""
        reason = validate_reason(reason)
        self._require_user(validate_id(user_id, "user_id"))
        with self._lock:
            index = erasure_index(r.event for r in self.log.read(0))
            plan = with_derived(index, memories_of_user(index, user_id))
            return self._erase(plan, user_id, user_id, reason)

    def _erase(self, plan: dict[str, str], actor: str, subject_user: str | None,
               reason: str | None) -> ErasureReport:
        sealer = self._backend.sealer
        if sealer is None:
            raise InvalidInput("this backend writes memory content unsealed, so it cannot erase it; "
                               "open MOS with a key store (the default backends have one)")
        ctx = CommandContext(actor=actor, source_app=self.source_app, correlation_id=str(uuid.uuid4()),
                             clock=self._clock)
        events: list[MemoryErased] = []
        for memory_id, scope in plan.items():
            memory = memories.rebuild(self.log.read_stream(memory_key(memory_id)))
            if memory is None or memory.state is memories.MemoryState.ERASED:
                continue
            events.append(memories.erase(memory, ctx, "user" if subject_user and scope == "memory" else scope,
                                         subject_user, reason))
        if not events:
            return ErasureReport({}, 0)
        # The append is the decision; destroying the keys follows. Should this process die in
        # between, any reader of the MemoryErased events destroys the keys (ContentSealer.open).
        self.log.append(events)
        destroyed = sealer.destroy([e.memory_id for e in events])
        self.sync()
        purged = self._backend.index.purge(wait_s=120.0)
        self._point_in_time.forget_snapshots()
        built: tuple[str, ...] = ()
        dropped: tuple[str, ...] = ()
        if self._models.has_local_model:  # KV caches / adapters holding the memories: rebuilt without them
            runtime_report = self._models.runtime().catch_up()
            built, dropped = tuple(runtime_report.built), tuple(runtime_report.dropped)
        return ErasureReport({e.memory_id: e.scope for e in events}, destroyed, purged, built, dropped)
