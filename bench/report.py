"""Runs every bench script and writes bench/REPORT.md: each script's own figures, with the
baselines it measured in the same run, the command line, its wall time and the machine.

Every script already prints its figure beside a same-run baseline, so the report keeps
their output verbatim rather than re-deriving numbers: what the report says is exactly
what the script printed. A script that fails is reported as failed with its last lines;
the report is still written.

    python bench/report.py [--preset quick|standard|full] [--only locomo ttft ...] [--out bench/REPORT.md]

Presets choose sizes: `quick` checks that every script runs (minutes); `standard` is the
sizes the README quotes; `full` adds the issue's scale points (search at 1M memories,
replay of 1M events), which take hours on a 2-core machine. Scripts that need the real
servers (pipeline, es_index, load) start them through the project launcher. A script that
prints `plot: <path>` gets that image shown under its output.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench_output import machine_info

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Run:
    name: str
    script: str
    args: tuple[str, ...]
    what: str


def plan(preset: str) -> list[Run]:
    quick, full = preset == "quick", preset == "full"
    runs = [
        Run("locomo", "locomo.py", ("--conversations", "26") if quick else ("--ablation",),
            "LoCoMo evidence recall@5/@10, MOS vs BM25 / dense / RRF, ablation"),
        Run("ingest_search", "ingest_search.py", ("--n", "1000" if quick else "10000"),
            "add_many throughput vs the embedder alone; search latency at 10k vs numpy exact"),
        Run("vector_engines", "vector_engines.py",
            ("--sizes", "10000") if quick else ("--sizes", "10000", "100000", *(("1000000",) if full else ())),
            "exact kNN engines at 10k / 100k (/ 1M) vectors"),
        Run("replay", "replay.py", ("--events", "5000" if quick else "1000000" if full else "100000"),
            "rebuilding every read model from offset 0 vs reading + decoding the log"),
        Run("scheduler", "scheduler.py", ("--days", "3") if quick else (),
            "MemScheduler throughput vs the log read ceiling; KV hit rate vs no scheduler / static pin"),
        Run("ttft", "ttft.py", ("--quick",) if quick else (),
            "time to first token with an injected KV cache vs full prefill, 512-4k tokens"),
        Run("es_index", "es_index.py", ("--docs", "2000" if quick else "1000000" if full else "100000"),
            "Elasticsearch projection rate vs ES's own bulk rate; BM25 / kNN latency"),
        Run("pipeline", "pipeline.py",
            ("--events", "2000", "--projection-events", "1000", "--memories", "2000", "--lag-seconds", "5")
            if quick else ("--memories", "1000000") if full else (),
            "Kafka produce, Faust projection and lag, hybrid search on ES + Neo4j"),
        Run("load", "load.py",
            ("--quick",) if quick else ("--seconds", "600", "--baseline-seconds", "60") if full else (),
            "bounded REST + producer write load with searches: events/s, search p50/p99 vs a no-write "
            "baseline, worker lag over time (PNG)"),
    ]
    return runs


def run_one(run: Run, timeout_s: float) -> dict:
    command = [sys.executable, str(BENCH / run.script), *run.args]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=BENCH.parent, capture_output=True, text=True, timeout=timeout_s)
        code, output = done.returncode, done.stdout + (f"\n[stderr]\n{done.stderr[-4000:]}" if done.returncode else "")
    except subprocess.TimeoutExpired as exc:
        code, output = "timeout", (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) \
            else (exc.stdout or "")
    return {"command": " ".join(["python", f"bench/{run.script}", *run.args]), "code": code,
            "seconds": time.perf_counter() - started, "output": output}


def figures(output: str, report_dir: Path) -> list[str]:
    """Markdown images for the `plot: <path>` lines a script printed (paths as the report sees them)."""
    images = []
    for line in output.splitlines():
        if line.startswith("plot: "):
            path = (BENCH.parent / line[len("plot: "):].strip()).resolve()
            images.append(f"![{path.name}]({os.path.relpath(path, report_dir)})")
    return images


def render(preset: str, runs: list[Run], results: dict[str, dict], info: dict, report_dir: Path = BENCH) -> str:
    lines = [f"# MOS benchmark report ({preset})", "",
             f"Written by `bench/report.py --preset {preset}` on "
             f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.", "",
             f"Machine: {info['cpu']}, {info['cpu_count']} CPUs ({info['cpus_usable']} usable), "
             f"{info['platform']}, Python {info['python']}; "
             + ", ".join(f"{k} {v}" for k, v in info["packages"].items()), "",
             "| bench | what | result | wall |", "|---|---|---|---|"]
    for run in runs:
        r = results[run.name]
        status = "ok" if r["code"] == 0 else f"**failed ({r['code']})**"
        lines.append(f"| [{run.name}](#{run.name}) | {run.what} | {status} | {r['seconds']:.0f} s |")
    for run in runs:
        r = results[run.name]
        lines += ["", f"## {run.name}", "", f"`{r['command']}` — exit {r['code']}, {r['seconds']:.1f} s", "",
                  "```", r["output"].rstrip(), "```"]
        images = figures(r["output"], report_dir)
        lines += ["", *images] if images else []
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=("quick", "standard", "full"), default="standard")
    parser.add_argument("--only", nargs="+", help="run only these benches (names as in the report)")
    parser.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per bench script")
    parser.add_argument("--out", type=Path, default=BENCH / "REPORT.md")
    args = parser.parse_args()

    runs = [r for r in plan(args.preset) if not args.only or r.name in args.only]
    info = machine_info(("mos-memory", "sentence-transformers", "transformers", "peft", "elasticsearch", "neo4j",
                         "aiokafka", "faust-streaming"))
    results = {}
    for run in runs:
        print(f"[report] {run.name}: python bench/{run.script} {' '.join(run.args)}", flush=True)
        results[run.name] = run_one(run, args.timeout)
        print(f"[report] {run.name}: exit {results[run.name]['code']} in {results[run.name]['seconds']:.0f} s",
              flush=True)
    args.out.write_text(render(args.preset, runs, results, info, args.out.resolve().parent))
    print(f"wrote {args.out}")
    return 0 if all(r["code"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
