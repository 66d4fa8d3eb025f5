"""Bounded load on the real pipeline: REST clients and a direct producer writing while others
search, a Faust worker projecting into Elasticsearch and Neo4j, its consumer lag sampled.

    python bench/load.py [--seconds 60] [--events N] [--baseline-seconds 20] [--quick]

Loopback only (every endpoint must resolve to 127.0.0.0/8 or ::1), and it stops by itself:
writes end after `--seconds` or `--events` acknowledged-or-attempted events, whichever comes
first, every later phase has a deadline, and the worker and REST server it starts are torn
down on every exit (Ctrl-C and SIGTERM included; SIGKILL takes them down through
PR_SET_PDEATHSIG). Each run uses its own topics, index, graph namespace and consumer group
(`PipelineSettings.isolated`) and deletes them at the end, so the shared servers' other
users see nothing of it.

Figures, each beside a baseline measured in the same run:
1. sustained acknowledged events/s: REST adds, direct producer appends, total;
2. search p50/p99 under that write load, beside the same searchers with no writes after
   the drain (the baseline);
3. the worker's consumer lag over time (max, and the drain time: from the last write to
   lag 0), plotted to a PNG with the samples in JSON.
Servers: MOS_KAFKA_BOOTSTRAP / MOS_ES_URL / MOS_NEO4J_URI, else the project launcher.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path

from bench_output import latency_ms, machine_info, print_machine, print_table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from load_lag import plot, write_samples  # noqa: E402
from load_processes import NotLoopback, require_loopback, require_loopback_endpoints  # noqa: E402
from load_run import LoadRun, LoadShape  # noqa: E402

from mos.config import PipelineSettings  # noqa: E402

BENCH = Path(__file__).resolve().parent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the write load")
    parser.add_argument("--events", type=int, default=None, help="stop writing after this many events")
    parser.add_argument("--baseline-seconds", type=float, default=20.0, help="searches alone, after the drain")
    parser.add_argument("--rest-writers", type=int, default=2)
    parser.add_argument("--rest-batch", type=int, default=5, help="memories per REST add")
    parser.add_argument("--searchers", type=int, default=2)
    parser.add_argument("--producer-rate", type=float, default=50.0, help="events/s (0: as fast as acked)")
    parser.add_argument("--producer-batch", type=int, default=25, help="events per append (one transaction)")
    parser.add_argument("--sample-interval", type=float, default=0.5, help="seconds between lag samples")
    parser.add_argument("--drain-timeout", type=float, default=240.0)
    parser.add_argument("--host", default="127.0.0.1", help="REST server interface (loopback only)")
    parser.add_argument("--port", type=int, default=0, help="REST server port (0: a free one)")
    parser.add_argument("--out", type=Path, default=BENCH / "results", help="directory of load.json / load.png")
    parser.add_argument("--name", help="topic / index / namespace of the run (default mos-load-<random>)")
    parser.add_argument("--keep", action="store_true", help="keep the run's topics and read models")
    parser.add_argument("--quick", action="store_true", help="~1 minute: 15 s of load, 6 s of baseline")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.baseline_seconds, args.drain_timeout = 15.0, 6.0, 120.0
    if args.seconds <= 0 or args.baseline_seconds <= 0 or (args.events is not None and args.events <= 0):
        parser.error("--seconds, --baseline-seconds and --events must be positive")
    return args


def _terminate_as_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def summarise(run: LoadRun, drain: dict[str, float] | None, documents: int | None) -> dict:
    phases, tallies = run.phases, run.tallies
    load_s = phases["load_end"] - phases["load_start"]
    writes = {key: {"events": tallies[key].events, "events_per_s": tallies[key].events / load_s,
                    "requests": len(tallies[key].latencies), "failures": dict(tallies[key].failures),
                    "latency_ms": latency_ms(tallies[key].latencies, (50, 99)) if tallies[key].latencies else None}
              for key in ("rest", "producer")}
    writes["producer"]["fenced_and_retried"] = run.fences.fenced
    acked = writes["rest"]["events"] + writes["producer"]["events"]
    searches = {}
    for key, start, end in (("search_load", "load_start", "load_end"),
                            ("search_baseline", "baseline_start", "baseline_end")):
        if key in tallies and end in phases:
            tally, seconds = tallies[key], phases[end] - phases[start]
            searches[key] = {"requests": len(tally.latencies), "per_s": len(tally.latencies) / seconds,
                             "failures": dict(tally.failures),
                             "latency_ms": latency_ms(tally.latencies, (50, 99)) if tally.latencies else None}
    window = [s for s in run.sampler.samples  # the baseline's access-signal appends are not write load
              if phases["load_start"] <= s.t <= phases.get("drained", phases["load_end"])]
    lags = {}
    for key, attribute in (("read_models", "projection_lag"), ("worker_committed", "lag")):
        peak = max(window, key=lambda s: getattr(s, attribute), default=None)
        during = sorted(getattr(s, attribute) for s in window if s.t <= phases["load_end"])
        lags[key] = {"max": getattr(peak, attribute) if peak else None, "max_at": peak.t if peak else None,
                     "p50_under_load": during[len(during) // 2] if during else None,
                     "p99_under_load": during[min(len(during) - 1, int(len(during) * 0.99))] if during else None}
    return {"load_seconds": load_s, "writes_seconds": phases["writes_stopped"] - phases["load_start"],
            "writes": writes, "acked_events": acked, "acked_per_s": acked / load_s, "searches": searches,
            "drain_seconds": drain, "lag": lags, "documents": documents}


def print_summary(shape: LoadShape, result: dict) -> None:
    writes, searches = result["writes"], result["searches"]

    def failures(entry: dict) -> str:
        return ", ".join(f"{k} ×{v}" for k, v in sorted(entry["failures"].items())) or "0"

    def quantile(entry: dict, q: str):
        return entry["latency_ms"][q] if entry["latency_ms"] else float("nan")

    print(f"\nwrites issued for {result['writes_seconds']:.1f} s, last ack after {result['load_seconds']:.1f} s "
          f"(rates below are over the latter): {shape.rest_writers} REST writers × {shape.rest_batch} "
          f"memories/request, producer paced at {shape.producer_rate:g} events/s in appends of "
          f"{shape.producer_batch}, {shape.searchers} searchers")
    print_table(["acknowledged writes", "events", "events/s", "requests", "p50 ms", "p99 ms", "failures"],
                [["REST add (POST /v1/cubes/{id}/memories)", writes["rest"]["events"], writes["rest"]["events_per_s"],
                  writes["rest"]["requests"], quantile(writes["rest"], "p50"), quantile(writes["rest"], "p99"),
                  failures(writes["rest"])],
                 ["producer (KafkaEventLog.append)", writes["producer"]["events"],
                  writes["producer"]["events_per_s"], writes["producer"]["requests"],
                  quantile(writes["producer"], "p50"), quantile(writes["producer"], "p99"),
                  failures(writes["producer"])],
                 ["total", result["acked_events"], result["acked_per_s"], "", "", "", ""]], floatfmt=".1f")
    print(f"producer append attempts fenced by another writer, then retried (MOS writers share one "
          f"transactional id): {writes['producer']['fenced_and_retried']}")
    rows = [[label, quantile(searches[key], "p50"), quantile(searches[key], "p99"), searches[key]["requests"],
             searches[key]["per_s"], failures(searches[key])]
            for key, label in (("search_load", "under write load"),
                               ("search_baseline", "baseline: no writes, same run, after the drain"))
            if key in searches]
    if len(rows) == 2 and searches["search_baseline"]["latency_ms"] and searches["search_load"]["latency_ms"]:
        rows.append(["ratio load / baseline",
                     quantile(searches["search_load"], "p50") / quantile(searches["search_baseline"], "p50"),
                     quantile(searches["search_load"], "p99") / quantile(searches["search_baseline"], "p99"),
                     "", "", ""])
    print()
    print_table(["POST /v1/search (top 10)", "p50 ms", "p99 ms", "requests", "req/s", "failures"], rows,
                floatfmt=".1f")
    drain = result["drain_seconds"] or {}

    def seconds(key: str) -> str:
        return f"{drain[key]:.1f} s" if key in drain else "not reached"

    print(f"\nlag behind the log end in offsets (sampled every {shape.sample_interval_s:g} s; max over the load "
          f"and the drain):")
    print_table(["position", "p50 under load", "p99 under load", "max", "max at t (s)", "drain: last ack → lag 0"],
                [[label, result["lag"][key]["p50_under_load"], result["lag"][key]["p99_under_load"],
                  result["lag"][key]["max"], result["lag"][key]["max_at"], seconds(key)]
                 for key, label in (("read_models", "read models (min ES / Neo4j checkpoint)"),
                                    ("worker_committed", "worker consumer group (committed offset)"))],
                floatfmt=".1f")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    from streams.services import endpoints_for_tests

    info = machine_info(("aiokafka", "faust-streaming", "elasticsearch", "neo4j", "fastapi", "uvicorn", "httpx"))
    print_machine(info)
    try:
        require_loopback(args.host, "REST server host")
        endpoints = endpoints_for_tests()
        require_loopback_endpoints(endpoints.kafka_bootstrap, endpoints.es_url, endpoints.neo4j_uri)
    except NotLoopback as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    settings = PipelineSettings.isolated(endpoints, args.name or f"mos-load-{uuid.uuid4().hex[:8]}")
    shape = LoadShape(args.seconds, args.events, args.baseline_seconds, args.rest_writers, args.rest_batch,
                      args.searchers, args.producer_rate, args.producer_batch, args.sample_interval,
                      args.drain_timeout, args.host, args.port, args.keep)
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="mos-load-"))
    run = LoadRun(shape, settings, workdir)
    began, drain, documents, failure, codes = time.monotonic(), None, None, None, {}
    print(f"run {settings.events_topic}: REST on {run.base}, load average {os.getloadavg()[0]:.1f}", flush=True)
    try:
        run.start()
        print(f"ready after {time.monotonic() - began:.1f} s (worker and server up, setup projected)", flush=True)
        run.load()
        drain = run.drain()
        run.baseline()
        documents = run.documents()
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 — reported, torn down, exit 1
        failure = exc
    finally:
        codes = run.close()
        leftovers = [child.pid for child in run.children if child.alive()]
    if failure is not None:
        print(f"\nload run failed: {failure!r}", file=sys.stderr)
    result = summarise(run, drain, documents) if "load_end" in run.phases else {}
    if result:
        print_summary(shape, result)
        match = "matches" if documents == result["acked_events"] else "DOES NOT match"
        print(f"read model: {documents} documents in Elasticsearch; {match} the {result['acked_events']} "
              f"acknowledged memories")
    png, samples = args.out / "load.png", args.out / "load.json"
    write_samples(samples, run.sampler.samples, run.phases, {
        "machine": info, "run": settings.events_topic, "shape": asdict(shape), "result": result,
        "pids": {child.name: child.pid for child in run.children}, "exit_codes": codes, "leftover_pids": leftovers,
        "rest_base": run.base, "wall_seconds": time.monotonic() - began, "failure": repr(failure) if failure else None})
    if run.sampler.samples:
        acks = {name: run.tallies[key].ack_times for key, name in (("rest", "REST add"), ("producer", "producer"))
                if key in run.tallies}
        plot(png, run.sampler.samples, run.phases, acks, f"MOS load: {settings.events_topic}, "
             f"{os.cpu_count()} CPUs, worker lag vs acknowledged writes")
        print(f"plot: {png}")
    for child in run.children:  # kept beside the figures: what the worker and server logged
        shutil.copyfile(child.log_path, args.out / f"load-{child.name}.log")
    print(f"samples: {samples}; wall {time.monotonic() - began:.0f} s, load average {os.getloadavg()[0]:.1f}")
    shutil.rmtree(workdir, ignore_errors=True)
    ok = failure is None and not leftovers and result and documents == result["acked_events"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
