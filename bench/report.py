"""Runs every bench script and writes bench/REPORT.md: each script's own figures, with the
baselines it measured in the same run, the command line, its wall time and the machine.

Every script already prints its figure beside a same-run baseline, so the report keeps
their output verbatim rather than re-deriving numbers: what the report says is exactly
what the script printed. A script that fails is reported as failed with its last lines;
the report is still written.

    python bench/report.py [--preset quick|standard|full] [--only locomo ttft ...] [--merge] [--out bench/REPORT.md]

Every run is also kept in bench/REPORT.json (output, command, exit code, wall time, start
time, preset, load average before and after: a shared machine's load changes figures).
`--merge` keeps the runs already in that file for the benches not run this time, so the
hours-long scale points can be run one at a time (or side by side) and the report still
shows every bench, each with the time and preset of its own run.

Presets choose sizes: `quick` checks that every script runs (minutes); `standard` is the
sizes the README quotes; `full` adds the issue's scale points (search at 1M memories,
replay of 1M events), which take hours on a 2-core machine. Scripts that need the real
servers (pipeline, es_index, load) start them through the project launcher. A script that
prints `plot: <path>` gets that image shown under its output.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
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
        Run("locomo", "locomo.py", ("--conversations", "26") if quick else ("--ablation", "--misses", "3"),
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
            if quick else ("--memories", "10000"),
            "Kafka produce, Faust projection and lag, hybrid search on ES + Neo4j (scale: search_scale)"),
        Run("search_scale", "search_scale.py",
            ("--sizes", "2000", "--queries", "50") if quick else ("--sizes", "10000", "100000"),
            "MOS hybrid search p50/p99 at 10k / 100k memories on ES + Neo4j vs ES kNN / BM25 alone"),
        Run("load", "load.py",
            ("--quick",) if quick else ("--seconds", "600", "--baseline-seconds", "60") if full else (),
            "bounded REST + producer write load with searches: events/s, search p50/p99 vs a no-write "
            "baseline, worker lag over time (PNG)"),
    ]
    if full:  # built once into a kept home (~1 h here); a rerun resumes it and only measures
        runs.append(Run("search_scale_1m", "search_scale.py",
                        ("--sizes", "1000000", "--home", "/var/tmp/mos-bench-search-scale-1m"),
                        "MOS hybrid search p50/p99 at 1M memories on ES + Neo4j vs ES kNN / BM25 alone"))
    return runs


def run_one(run: Run, timeout_s: float) -> dict:
    command = [sys.executable, str(BENCH / run.script), *run.args]
    started, started_utc, load_before = time.perf_counter(), _now(), os.getloadavg()
    try:
        done = subprocess.run(command, cwd=BENCH.parent, capture_output=True, text=True, timeout=timeout_s)
        code, output = done.returncode, done.stdout + (f"\n[stderr]\n{done.stderr[-4000:]}" if done.returncode else "")
    except subprocess.TimeoutExpired as exc:
        code, output = "timeout", (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) \
            else (exc.stdout or "")
    return {"command": " ".join(["python", f"bench/{run.script}", *run.args]), "code": code,
            "seconds": time.perf_counter() - started, "output": output, "what": run.what,
            "started": started_utc, "load_before": list(load_before), "load_after": list(os.getloadavg())}


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def figures(output: str, report_dir: Path) -> list[str]:
    """Markdown images for the `plot: <path>` lines a script printed. Each image is copied
    into `figures/` beside the report (scripts write theirs under the gitignored results/),
    so the report and its plots are committed together."""
    images = []
    for line in output.splitlines():
        if line.startswith("plot: "):
            source = (BENCH.parent / line[len("plot: "):].strip()).resolve()
            if source.exists():
                target = report_dir / "figures" / source.name
                target.parent.mkdir(exist_ok=True)
                if source != target.resolve():
                    shutil.copyfile(source, target)
                images.append(f"![{source.name}]({os.path.relpath(target, report_dir)})")
    return images


def render(names: list[str], results: dict[str, dict], info: dict, report_dir: Path = BENCH) -> str:
    presets = sorted({r.get("preset", "?") for r in results.values()})
    lines = [f"# MOS benchmark report ({', '.join(presets)})", "",
             f"Written by `bench/report.py` on {_now()}; each bench below says when and with which preset it "
             "ran (`--merge` runs benches one at a time), and the load average around it: other work shared "
             "this 2-core machine during some runs, and absolute figures move with it. Ratios to the "
             "baselines printed by the same script in the same run are the comparable figures.", "",
             f"Machine: {info['cpu']}, {info['cpu_count']} CPUs ({info['cpus_usable']} usable), "
             f"{info['platform']}, Python {info['python']}; "
             + ", ".join(f"{k} {v}" for k, v in info["packages"].items()), "",
             "| bench | what | result | preset | started | wall | load before → after |", "|---|---|---|---|---|---|---|"]
    for name in names:
        r = results[name]
        status = "ok" if r["code"] == 0 else f"**failed ({r['code']})**"
        load = f"{r['load_before'][0]:.1f} → {r['load_after'][0]:.1f}" if "load_before" in r else "?"
        lines.append(f"| [{name}](#{name}) | {r.get('what', '')} | {status} | {r.get('preset', '?')} | "
                     f"{r.get('started', '?')} | {r['seconds']:.0f} s | {load} |")
    for name in names:
        r = results[name]
        lines += ["", f"## {name}", "", f"`{r['command']}` — exit {r['code']}, {r['seconds']:.1f} s, "
                  f"preset {r.get('preset', '?')}, started {r.get('started', '?')}", "",
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
    parser.add_argument("--merge", action="store_true",
                        help="keep the runs of other benches already recorded in the report's JSON")
    args = parser.parse_args()

    runs = [r for r in plan(args.preset) if not args.only or r.name in args.only]
    info = machine_info(("mos-memory", "sentence-transformers", "transformers", "peft", "elasticsearch", "neo4j",
                         "aiokafka", "faust-streaming"))
    results = {}
    for run in runs:
        print(f"[report] {run.name}: python bench/{run.script} {' '.join(run.args)}", flush=True)
        results[run.name] = {**run_one(run, args.timeout), "preset": args.preset}
        print(f"[report] {run.name}: exit {results[run.name]['code']} in {results[run.name]['seconds']:.0f} s",
              flush=True)
    store = args.out.with_suffix(".json")
    with open(store.with_suffix(".lock"), "w") as lock:  # two --merge runs side by side
        fcntl.flock(lock, fcntl.LOCK_EX)
        kept = json.loads(store.read_text()) if args.merge and store.exists() else {}
        kept.update(results)
        order = [r.name for r in plan("full")]
        names = [n for n in order if n in kept] + sorted(n for n in kept if n not in order)
        store.write_text(json.dumps(kept, indent=1))
        args.out.write_text(render(names, kept, info, args.out.resolve().parent))
    print(f"wrote {args.out} and {store}")
    return 0 if all(r["code"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
