"""MemScheduler under load: throughput, and how often retrieved memories are KV-cached.

A simulated month of an app with 10 cubes x 500 memories: every simulated hour, queries
retrieve 5 memories per query from a Zipf-skewed popularity that drifts (each cube's hot set
moves every week). Accesses go through the SDK's batched access recorder into the log
(≥100k MemoryAccessed events), and the scheduler ticks hourly with its default policies.

Printed in one run:
- scheduler throughput: events folded + decided per second of scheduler time, next to the
  log's raw read-and-decode rate (the ceiling any consumer of this log can reach);
- replay: a fresh scheduler folding the whole log;
- hit rate: the share of retrieved memories that were promoted to activation memory (so
  served from the cube's KV cache) when retrieved, for: no scheduler (nothing cached), a
  static pin of each cube's 32 hottest memories of the first week (the best fixed choice
  up front, which the weekly drift then ages), and the MemScheduler.

    python bench/scheduler.py [--cubes 10] [--memories 500] [--days 28] [--queries-per-hour 120]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_output import machine_info, print_machine, print_table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mos import MOS  # noqa: E402
from mos.domain.events import MemoryAccessed  # noqa: E402
from mos.embedders.hashing import HashingEmbedder  # noqa: E402
from mos.scheduler import MemScheduler, SchedulerConfig  # noqa: E402

HOUR_MS = 3_600_000
START = 1_767_225_600_000
RETRIEVED_PER_QUERY = 5


def zipf_weights(n: int, s: float = 1.1) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** s
    return weights / weights.sum()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cubes", type=int, default=10)
    parser.add_argument("--memories", type=int, default=500, help="per cube")
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--queries-per-hour", type=int, default=120)
    parser.add_argument("--pinned", type=int, default=32, help="static baseline: memories pinned per cube")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    info = machine_info(("faust-streaming",))
    print_machine(info)
    rng = np.random.default_rng(args.seed)

    class Clock:
        now = START

        def __call__(self):
            return self.now

    clock = Clock()
    directory = Path(tempfile.mkdtemp(prefix="mos-bench-scheduler-"))
    mos = MOS(directory, embedder=HashingEmbedder(), clock=clock)
    mos.create_user("app")
    cubes, ids = [], {}
    for c in range(args.cubes):
        cube = mos.create_cube(f"cube-{c}", owner="app")
        cubes.append(cube)
        ids[cube] = mos.add_many([{"text": f"cube {c} memory {i}: fact number {i * 31 + c} about topic {i % 97}"}
                                  for i in range(args.memories)], "app", cube)
    scheduler = MemScheduler(mos.log, SchedulerConfig(), clock=clock)
    mos._scheduler = scheduler
    # The best static choice up front: each cube's hottest memories of the first week.
    pinned = {ids[cube][int(i)] for c, cube in enumerate(cubes)
              for i in np.roll(np.arange(args.memories), c * 11)[:args.pinned]}
    weights = zipf_weights(args.memories)
    retrieved = hits_scheduler = hits_pinned = 0
    scheduler_seconds, folded = 0.0, 0
    started = time.perf_counter()
    for hour in range(args.days * 24):
        clock.now = START + hour * HOUR_MS
        week = hour // (24 * 7)
        for cube_index in rng.integers(0, args.cubes, size=args.queries_per_hour):
            cube = cubes[int(cube_index)]
            order = np.roll(np.arange(args.memories), week * 37 + int(cube_index) * 11)  # hot set drifts weekly
            chosen = rng.choice(args.memories, size=RETRIEVED_PER_QUERY, replace=False, p=weights)
            memory_ids = [ids[cube][int(order[i])] for i in chosen]
            for memory_id in memory_ids:
                stats = scheduler.state.memories.get(memory_id)
                hits_scheduler += bool(stats and "activation" in stats.tiers)
                hits_pinned += memory_id in pinned
            retrieved += len(memory_ids)
            mos._access.record([(m, cube) for m in memory_ids], "app")
        mos.flush_access()
        tick = time.perf_counter()
        report = scheduler.run_once()
        scheduler_seconds += time.perf_counter() - tick
        folded += report.events_read
    workload_seconds = time.perf_counter() - started
    access_events = sum(1 for r in mos.log.read(0, limit=10_000_000) if isinstance(r.event, MemoryAccessed))

    read_started = time.perf_counter()
    total = sum(1 for _ in mos.log.read(0, limit=10_000_000))
    read_seconds = time.perf_counter() - read_started
    replay = MemScheduler(mos.log, SchedulerConfig(), clock=clock)
    replay_started = time.perf_counter()
    replay.catch_up()
    replay_seconds = time.perf_counter() - replay_started
    decisions = {}
    for r in mos.log.read(0, limit=10_000_000):
        if r.event.provenance.actor == "mos-scheduler":
            decisions[r.event.type_name] = decisions.get(r.event.type_name, 0) + 1
    same_state = replay.state.snapshot() == scheduler.state.snapshot()
    mos.close()

    print(f"\nworkload: {args.cubes} cubes x {args.memories} memories, {args.days} days, "
          f"{args.queries_per_hour} queries/h x {RETRIEVED_PER_QUERY} retrieved; {retrieved:,} accesses recorded as "
          f"{access_events:,} MemoryAccessed events (batched hourly); log {total:,} events; "
          f"simulated in {workload_seconds:.1f}s")
    print(f"scheduler decisions: {json.dumps(decisions, sort_keys=True)}")
    rows = [
        ("log read + Avro decode (ceiling)", f"{total / read_seconds:,.0f} ev/s", f"{total:,} events in {read_seconds:.2f}s"),
        ("scheduler, live ticks (fold + decide + append)", f"{folded / scheduler_seconds:,.0f} ev/s",
         f"{args.days * 24} ticks, {scheduler_seconds:.2f}s total, {scheduler_seconds / (args.days * 24) * 1000:.1f} ms/tick"),
        ("scheduler, replay of the whole log (fold)", f"{total / replay_seconds:,.0f} ev/s",
         f"{replay_seconds:.2f}s; same state as live: {same_state}"),
    ]
    print_table(["throughput", "rate", "detail"], rows)
    hit_rows = [
        ("no scheduler (plaintext only)", "0.0%", 0),
        (f"static pin: week 1's top {args.pinned} per cube", f"{100 * hits_pinned / retrieved:.1f}%", len(pinned)),
        ("MemScheduler (default policies)", f"{100 * hits_scheduler / retrieved:.1f}%",
         f"≤ {SchedulerConfig().activation.max_memories_per_cube} per cube"),
    ]
    print_table(["policy", "retrieved memories served from a KV cache", "memories cached"], hit_rows)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "retrieved": retrieved, "access_events": access_events,
                                         "events": total, "scheduler_events_per_s": folded / scheduler_seconds,
                                         "read_events_per_s": total / read_seconds,
                                         "replay_events_per_s": total / replay_seconds,
                                         "hit_rate_scheduler": hits_scheduler / retrieved,
                                         "hit_rate_pinned": hits_pinned / retrieved, "decisions": decisions,
                                         "replay_same_state": same_state}, indent=2))


if __name__ == "__main__":
    main()
