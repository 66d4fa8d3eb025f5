"""Replay: how long rebuilding every read model from offset 0 takes, beside the log's own read rate.

A log of N events is written on the embedded backend: memories created over several cubes,
then a share of them updated and archived (so replay meets more than one event type). Content is sealed as always (one AES-GCM key per memory);
embeddings come from the hashing embedder, because replay never re-embeds — the vectors are
in the events — so the embedding model is not part of what is measured.

Printed in one run:
- the ceiling: reading and decoding (Avro + opening the sealed content) the whole log, which
  any consumer of this log pays before it can project anything;
- MOS `replay()`: dropping the search index (FTS5 + sqlite-vec) and the graph, and
  rebuilding both from offset 0; its events/s and the ratio to the ceiling.

    python bench/replay.py [--events 1000000] [--cubes 10] [--batch 20000] [--home DIR] [--json out.json]

`--home DIR` keeps the data directory: a later run on the same DIR finds the log already
written (at least `--events` events) and only measures, so replay changes can be compared
on one log without writing it again (writing 1M events took 20 min on 2026-12-02, 2 min on
2026-12-04's machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from bench_output import machine_info, print_machine, print_table
from ingest_search import TEMPLATES, sentences


def build_log(mos, events: int, cubes: int, batch: int) -> dict:
    """Appends about `events` events: ~90% MemoryCreated, then updates and archives of a tenth.

    Users and cubes go through the SDK; memory events are made by the domain's own commands
    (`memories.create / update / archive`, so they are exactly what the SDK appends) and
    appended to the log in batches of `batch`, sealed as always, without projecting them
    one call at a time: what is timed afterwards is the replay, and writing 1M events
    through per-call SDK commands would take longer than the replay itself.
    """
    from mos.domain import memory as memories
    from mos.domain.commands import CommandContext, random_id

    mos.create_user("bench")
    cube_ids = [mos.create_cube(f"replay-{i}", owner="bench") for i in range(cubes)]
    creations = int(events * 0.9)
    texts = sentences(TEMPLATES, creations, seed=11)
    ctx, model = CommandContext(actor="bench", source_app="bench"), mos.embedder.model_id
    to_change = max(events - creations - mos.log.head(), 0)
    created: list = []  # only the first `to_change`: a million 384-float tuples would not fit in RAM
    written = 0
    started = time.perf_counter()
    for at in range(0, creations, batch):
        chunk = texts[at:at + batch]
        cube = cube_ids[(at // batch) % cubes]
        vectors = mos.embedder.embed(chunk)
        made = [memories.create(ctx, random_id(), cube, memories.MemoryContentValues(
            text, (), json.dumps({"n": at + i}), tuple(vector.tolist()), model))
            for i, (text, vector) in enumerate(zip(chunk, vectors))]
        mos.log.append(made)
        created += made[:max(to_change - len(created), 0)]
        written += len(made)
        print(f"  written {written:>9,} memories  {time.perf_counter() - started:7.1f} s", flush=True)
    changes = []
    for position, event in enumerate(created):
        memory = memories.evolve(None, event)
        if position % 2:
            changes.append(memories.archive(memory, ctx, reason="bench"))
        else:
            edited = texts[position] + " (edited)"
            changes.append(memories.update(memory, ctx, memories.MemoryContentValues(
                edited, (), event.metadata_json, event.embedding, model)))
    for at in range(0, len(changes), batch):
        mos.log.append(changes[at:at + batch])
    print(f"  written {len(changes):>9,} updates and archives  {time.perf_counter() - started:7.1f} s", flush=True)
    return {"write_s": time.perf_counter() - started, "memories": written}


def read_ceiling(log) -> tuple[int, float]:
    started = time.perf_counter()
    count = sum(1 for _ in log.read(0))
    return count, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--cubes", type=int, default=10)
    parser.add_argument("--batch", type=int, default=20_000, help="events per append")
    parser.add_argument("--home", type=Path, help="keep (or reuse) the data directory here")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    from mos import MOS
    from mos.embedders.hashing import HashingEmbedder

    info = machine_info(("mos-memory", "sqlite-vec", "sqlean.py", "fastavro"))
    print_machine(info)
    with tempfile.TemporaryDirectory(prefix="mos-replay-") as scratch:
        tmp = args.home or scratch
        mos = MOS(tmp, embedder=HashingEmbedder(), record_access=False)
        try:
            if mos.log.head() >= args.events:
                print(f"reusing the log of {mos.log.head():,} events in {tmp}")
                written = {"reused": str(tmp)}
            else:
                if mos.log.head():
                    raise SystemExit(f"{tmp} holds a log of {mos.log.head():,} events, fewer than --events")
                print(f"writing ~{args.events:,} events ({args.cubes} cubes, appends of {args.batch:,})")
                written = build_log(mos, args.events, args.cubes, args.batch)
            head = mos.log.head()
            count, read_s = read_ceiling(mos.log)
            report = mos.replay()
            snapshot_sizes = {p.name: p.stat().st_size for p in Path(tmp).glob("*.db")}
        finally:
            mos.close()
    ceiling = count / read_s
    rate = report.events / report.seconds
    rows = [["read + decode the log (ceiling)", count, read_s, ceiling, 1.0],
            ["MOS replay (search index + graph)", report.events, report.seconds, rate, rate / ceiling]]
    print()
    print_table(["what", "events", "seconds", "events/s", "× ceiling"], rows, floatfmt=".2f")
    print(f"\nreplay of {report.events:,} events: {report.seconds / 60:.2f} min (goal ≤ 5 min for 1M)")
    results = {"machine": info, "events": head, "write": written, "files_bytes": snapshot_sizes,
               "ceiling": {"events": count, "seconds": read_s, "events_per_s": ceiling},
               "replay": {"events": report.events, "seconds": report.seconds, "events_per_s": rate,
                          "vs_ceiling": rate / ceiling}}
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
