"""A seeded stream of MOS commands for the fault suite, and a producer thread that appends it.

Each command is the list of events one SDK call would append as one transaction: users and
a shared cube first, then batches of new memories, updates, archives, restores and merges
of memories this workload created. The mix exercises every search write (upsert, replace,
patch) and most graph writes (memberships, roles, mentions, session chains, merges), so a
read model that drops or repeats an event differs from a clean replay.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from mos.domain import cube as cubes
from mos.domain import memory as memories
from mos.domain.commands import CommandContext
from mos.domain.events import Event
from mos.embedders.hashing import HashingEmbedder

log = logging.getLogger(__name__)


@dataclass
class Workload:
    """`commands(n)` yields commands holding exactly `n` events in all; new memories come in
    batches of 1 to `max_batch` (bigger batches: fewer, larger transactions)."""

    name: str
    seed: int = 0
    dimension: int = 16
    max_batch: int = 20
    created: list[str] = field(default_factory=list)

    def commands(self, events: int) -> Iterator[list[Event]]:
        rng, embedder = random.Random(self.seed), HashingEmbedder(self.dimension)
        owner, reader, cube_id = f"{self.name}-alice", f"{self.name}-bob", f"{self.name}-cube"
        ctx = CommandContext(actor=owner, source_app="reliability")
        created = cubes.create_cube(ctx, cube_id, "reliability", owner)
        opening = [[cubes.create_user(ctx, owner)], [cubes.create_user(ctx, reader)], [created],
                   [cubes.share_cube(cubes.rebuild_cube([created]), ctx, reader, "reader")]]
        live: dict[str, memories.Memory] = {}
        remaining, serial = events, 0

        def content(text: str) -> memories.MemoryContentValues:
            vector = embedder.embed([text])[0]
            return memories.MemoryContentValues(text, (f"t{serial % 3}",), "{}", tuple(vector.tolist()),
                                                embedder.model_id)

        def text() -> str:
            return f"{self.name} note {serial} about Topic{serial % 17} in City{serial % 11}"

        for command in opening[:remaining]:
            remaining -= 1
            yield command
        while remaining > 0:
            active = [m for m in live.values() if m.state is memories.MemoryState.ACTIVE]
            archived = [m for m in live.values() if m.state is memories.MemoryState.ARCHIVED]
            roll = rng.random()
            if roll < 0.12 and active:
                command = [memories.update(rng.choice(active), ctx, content(text()))]
            elif roll < 0.18 and active:
                command = [memories.archive(rng.choice(active), ctx, "reliability")]
            elif roll < 0.21 and archived:
                command = [memories.restore(rng.choice(archived), ctx, "reliability")]
            elif roll < 0.24 and len(active) >= 2 and remaining >= 3:
                target = str(uuid.UUID(int=rng.getrandbits(128)))
                command = memories.merge(rng.sample(active, 2), ctx, target, content(text()))
            else:
                command = []
                for _ in range(min(remaining, rng.randint(1, self.max_batch))):
                    serial += 1
                    memory_id = str(uuid.UUID(int=rng.getrandbits(128)))
                    command.append(memories.create(ctx, memory_id, cube_id, content(text())))
            serial += 1
            for event in command:
                memory = memories.evolve(live.get(event.stream_key), event)
                live[event.stream_key] = memory
                if event.type_name == "MemoryCreated":
                    self.created.append(memory.memory_id)
            remaining -= len(command)
            yield command


@dataclass(frozen=True)
class Acked:
    """An append the log acknowledged: its events' ids and the offsets it returned."""

    event_ids: tuple[str, ...]
    offsets: tuple[int, ...]


class Producer(threading.Thread):
    """Appends commands one transaction each; records every acknowledged append and every
    failure (an append that raised is not acknowledged: the caller would see the error).

    `gate`: when given, the producer appends only while the gate holds permits — one permit
    per `segment` events — so a test decides which part of the stream falls in which phase.
    `pause_s`: a pause after each append, to stretch the stream over a fault."""

    def __init__(self, event_log, commands: Iterator[list[Event]], name: str = "producer",
                 segment: int | None = None, pause_s: float = 0.0):
        super().__init__(name=name, daemon=True)
        self.log, self.commands, self.segment, self.pause_s = event_log, commands, segment, pause_s
        self.slowest_append_s = 0.0
        self.gate = threading.Semaphore(0) if segment else None
        self.acked: list[Acked] = []
        self.failures: list[BaseException] = []
        self.appending = threading.Event()
        self.seconds = 0.0

    def run(self) -> None:
        began, in_segment = time.monotonic(), 0
        for command in self.commands:
            if self.gate is not None and in_segment == 0:
                self.appending.clear()
                self.gate.acquire()
                in_segment = self.segment
            self.appending.set()
            called = time.monotonic()
            try:
                recorded = self.log.append(command)
            except Exception as exc:  # noqa: BLE001 — recorded and asserted on by the test
                log.warning("append failed: %r", exc)
                self.failures.append(exc)
                continue
            finally:
                self.slowest_append_s = max(self.slowest_append_s, time.monotonic() - called)
            self.acked.append(Acked(tuple(e.event_id for e in command), tuple(r.offset for r in recorded)))
            in_segment = max(0, in_segment - len(command))
            if self.pause_s:
                time.sleep(self.pause_s)
        self.seconds = time.monotonic() - began
        self.appending.clear()

    @property
    def events(self) -> int:
        return sum(len(a.event_ids) for a in self.acked)

    @property
    def end_offset(self) -> int:
        return max((a.offsets[-1] for a in self.acked), default=-1) + 1
