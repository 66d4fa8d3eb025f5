"""Time to first token with an injected KV cache, beside a full prefill of the same tokens.

A memory block of N tokens (LoCoMo dialogue turns rendered by `render_memory_block`) is
prefilled once by `build_kv_cache`, stored atomically in a `DirectoryArtifactStore`, and
loaded back into a `PrefixCache`. Then `LocalGenerator.generate` answers the same question
on top of the injected cache (only the question is prefilled) and with `prefix_ids` (the very
same token sequence, prefilled in full). Both are timed around the whole `generate()` call
(tokenizing the question, the copy torch makes of the cache when it appends to it, the crop
back to the prefix). Beside them, in the same interleaved rounds: a cold start (open + load
+ generate() on the fresh cache), a bare model forward of the question over the cache (no
generate()), and the question alone with no memory at all, the floor no cache can go under.
The model is the `small-100m` preset: Llama-style with GQA, random weights (the tokens are
noise; the shapes, hence the costs, are real).

Also measured in the same run: the artifact's bytes per 1k tokens, the time to open it
(SHA-256 check of the files) and to load it (safetensors -> DynamicCache), and the time of
`train_adapter` (LoRA, 1 epoch) per 1k memory tokens.

    python bench/ttft.py [--lengths 512 1024 2048 4096] [--repeats 5] [--full-repeats 3] [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_output import machine_info, print_machine, print_table

REPO = Path(__file__).resolve().parents[1]

QUESTION = "What did Caroline do last weekend?"
PRESET = "small-100m"
THREADS = 2
MB = 1_000_000


def default_data_dir() -> Path:
    beside_repo = REPO.parent / "shared/data/locomo-dev"
    return beside_repo if beside_repo.exists() else Path("../shared/data/locomo-dev")


def load_turns(data_dir: Path) -> tuple[list[str], str]:
    """Every dialogue turn as `speaker: text`, conversations and sessions in order; falls back
    to the demo conversation bundled with MOS when the LoCoMo subset is not there."""
    turns: list[str] = []
    files = sorted(data_dir.glob("*.json"), key=lambda p: int(p.stem) if p.stem.isdigit() else p.stem)
    for path in files:
        raw = json.loads(path.read_text())
        sessions = sorted(int(m[1]) for key in raw if (m := re.fullmatch(r"session_(\d+)", key)))
        for n in sessions:
            turns.extend(f"{turn['speaker']}: {turn['text']}" for turn in raw[f"session_{n}"])
    if turns:
        return turns, f"LoCoMo dev ({len(files)} conversations, {data_dir})"
    demo = json.loads((REPO / "mos/demo/sample_conversation.json").read_text())
    turns = [f"{speaker}: {text}" for session in demo["sessions"] for speaker, text in session["turns"]]
    return turns, "mos/demo/sample_conversation.json"


def block_of_at_least(loaded, turns: list[str], tokens: int) -> tuple[str, int, int]:
    """The shortest memory block (first k turns) holding >= `tokens` tokens, BOS included."""
    from model_runtime.context import render_memory_block
    from model_runtime.kv_cache.builder import tokenize_block

    def count(k: int) -> int:
        return len(tokenize_block(loaded, render_memory_block(turns[:k])))

    high = 1  # doubling, then bisection: never tokenizes (much) more than needed
    while count(high) < tokens:
        if high >= len(turns):
            raise SystemExit(f"the corpus holds only {count(len(turns))} tokens, fewer than {tokens}")
        high = min(2 * high, len(turns))
    low = high // 2 + 1 if high > 1 else 1
    while low < high:
        mid = (low + high) // 2
        low, high = (mid + 1, high) if count(mid) < tokens else (low, mid)
    return render_memory_block(turns[:low]), low, count(low)


def timed(fn, repeats: int) -> tuple[list[float], list[float], list]:
    """Wall seconds, process CPU seconds (all threads) and results of `repeats` calls."""
    walls, cpus, results = [], [], []
    for _ in range(repeats):
        cpu, wall = time.process_time(), time.perf_counter()
        results.append(fn())
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return walls, cpus, results


def busy_cpu_seconds() -> float:
    """CPU seconds all processes have spent busy since boot (Linux /proc/stat), or nan."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def ms(values) -> str:
    return " ".join(f"{v * 1000:.1f}" for v in values)


def median(values) -> float:
    return statistics.median(values)


def measure_length(loaded, generator, store, turns, target: int, repeats: int, full_repeats: int) -> dict:
    import torch

    from model_runtime.context import render_question
    from model_runtime.kv_cache import KvCacheSettings, build_kv_cache, load_kv_cache
    from model_runtime.kv_cache.builder import KV_FILE
    from model_runtime.manifest import ArtifactManifest, sha256_text

    block, memories, _ = block_of_at_least(loaded, turns, target)
    settings = KvCacheSettings()
    manifest = ArtifactManifest(f"kv-bench-{target}", "kv_cache", "activation", "bench", loaded.model_id,
                                loaded.fingerprint, 0, sha256_text(block), (), settings.as_dict())
    started = time.perf_counter()
    written = store.write(manifest, lambda staging: build_kv_cache(loaded, block, staging, settings))
    build_s = time.perf_counter() - started
    tokens = written.token_count
    file_bytes = (store.root / written.artifact_id / KV_FILE).stat().st_size

    question = render_question(QUESTION, [])
    q_ids = generator.encode(question, with_bos=False)

    prefix = load_kv_cache(*store.open(written.artifact_id), loaded)
    assert prefix.cache.get_seq_length() == tokens == len(prefix.token_ids)

    # Same tokens, two paths: greedy outputs must be identical (8 new tokens).
    injected = generator.generate(question, prefix=prefix, max_new_tokens=8)
    full = generator.generate(question, prefix_ids=prefix.token_ids, max_new_tokens=8)
    assert injected.new_token_ids == full.new_token_ids, (target, injected.new_token_ids, full.new_token_ids)
    assert injected.prompt_tokens == full.prompt_tokens == tokens + len(q_ids)
    assert injected.cached_tokens == tokens and full.cached_tokens == 0
    assert prefix.cache.get_seq_length() == tokens, "reset() did not crop the cache back to the prefix"

    # The random-weight model's greedy tokens may all be one token, which would make the
    # equality above vacuous: also compare the next-token logits of both paths directly.
    with torch.inference_mode():
        full_logits = loaded.model(torch.tensor([prefix.token_ids + q_ids]), logits_to_keep=1).logits[0, -1]
        cached_logits = loaded.model(torch.tensor([q_ids]), past_key_values=prefix.cache, use_cache=True,
                                     logits_to_keep=1).logits[0, -1]
    prefix.reset()
    logits_diff = float((full_logits - cached_logits).abs().max())
    same_top5 = full_logits.topk(5).indices.tolist() == cached_logits.topk(5).indices.tolist()
    assert same_top5 and logits_diff < 1e-3, (target, logits_diff)

    def cached():
        """The cache is already in memory (the runtime keeps it between questions)."""
        return generator.generate(question, prefix=prefix, max_new_tokens=1).new_token_ids, None

    def prefilled():
        return generator.generate(question, prefix_ids=prefix.token_ids, max_new_tokens=1).new_token_ids, None

    def cold():
        """From the artifact on disk: open() re-hashes every file against the manifest,
        load_kv_cache() maps kv.safetensors and builds a DynamicCache from its tensors (which
        copies them), then generate() on that fresh cache. The file was just written, so it
        is read from the page cache; a cold disk would add to this."""
        began = time.perf_counter()
        verified = store.open(written.artifact_id)
        opened_at = time.perf_counter()
        fresh = load_kv_cache(*verified, loaded)
        loaded_at = time.perf_counter()
        out = generator.generate(question, prefix=fresh, max_new_tokens=1).new_token_ids
        return out, (opened_at - began, loaded_at - opened_at, time.perf_counter() - loaded_at)

    def bare_forward():
        """The floor of the cached path: one forward of the question ids over the cache (no
        generate()), then the same crop."""
        with torch.inference_mode():
            out = loaded.model(torch.tensor([q_ids], dtype=torch.long), past_key_values=prefix.cache, use_cache=True)
            token = int(out.logits[0, -1].argmax())
        prefix.reset()
        return (token,), None

    def question_alone():
        """No memory at all: BOS + the question, the least any prompt with this question costs."""
        return generator.generate(question, max_new_tokens=1).new_token_ids, None

    # One warm-up per path, then rounds that interleave the paths, so a burst of load from
    # other processes on this shared machine lands on all of them rather than on one.
    paths = {"full": prefilled, "cached": cached, "cold": cold, "floor": bare_forward, "alone": question_alone}
    for fn in paths.values():
        fn()
    walls = {name: [] for name in paths}
    cpus = {name: [] for name in paths}
    parts = []
    first = injected.new_token_ids[:1]
    rounds = max(repeats, full_repeats)
    # A path with fewer repeats than there are rounds runs in rounds spread over the whole
    # span (e.g. 0, 2, 4 for 3 of 5), not in the first ones only.
    spread = lambda count: {round(i * (rounds - 1) / max(count - 1, 1)) for i in range(count)}
    plan = {name: spread(full_repeats if name == "full" else repeats) for name in paths}
    for round_ in range(rounds):
        for name, fn in paths.items():
            if round_ in plan[name]:
                wall, cpu, [(out, part)] = timed(fn, 1)
                walls[name] += wall
                cpus[name] += cpu
                if name == "cold":
                    parts.append(part)
                if name != "alone":
                    assert out == first, f"{name}: first token {out} != {first}"
    open_s, load_s, first_s = (list(column) for column in zip(*parts))

    row = {
        "target": target, "tokens": tokens, "memories": memories, "question_tokens": len(q_ids),
        "build_s": build_s, "file_bytes": file_bytes, "mb_per_1k_tokens": file_bytes / tokens * 1000 / MB,
        "same_8_tokens": True, "new_token_ids": list(injected.new_token_ids),
        "logits_max_abs_diff": logits_diff, "same_top5": same_top5,
        "full_s": walls["full"], "cached_s": walls["cached"], "cold_s": walls["cold"], "floor_s": walls["floor"],
        "question_alone_s": walls["alone"], "open_verify_s": open_s, "load_s": load_s, "first_on_fresh_s": first_s,
        # process CPU seconds / wall seconds over every timed call: ~THREADS when nothing competes
        "cpu_per_wall": sum(sum(c) for c in cpus.values()) / sum(sum(w) for w in walls.values()),
    }
    for key, values in (("", row["cached_s"]), ("_cold", row["cold_s"])):
        row[f"reduction{key}_pct"] = 100.0 * (1.0 - median(values) / median(row["full_s"]))
        row[f"reduction{key}_min_pct"] = 100.0 * (1.0 - min(values) / min(row["full_s"]))
    return row


def print_details(row: dict) -> None:
    print(f"\n[{row['target']}] block of {row['memories']} memories = {row['tokens']} tokens "
          f"(+{row['question_tokens']} question tokens); build (chunked prefill + save + hash + fsync) "
          f"{row['build_s']:.2f} s; kv.safetensors {row['file_bytes'] / MB:.1f} MB")
    print(f"  greedy 8 new tokens, injected cache == full prefill: {row['same_8_tokens']} "
          f"{row['new_token_ids']} ({len(set(row['new_token_ids']))} distinct); next-token logits max |diff| "
          f"{row['logits_max_abs_diff']:.2e}, same top-5: {row['same_top5']}")
    print(f"  generate() wall ms - full prefill: {ms(row['full_s'])}; injected cache: {ms(row['cached_s'])}")
    print(f"  cold start ms: {ms(row['cold_s'])} = store.open (SHA-256 check) {ms(row['open_verify_s'])} + "
          f"load_kv_cache {ms(row['load_s'])} + generate() {ms(row['first_on_fresh_s'])}")
    print(f"  bare forward of the question over the cache ms: {ms(row['floor_s'])}; question alone (no memory) "
          f"generate() ms: {ms(row['question_alone_s'])}; cpu/wall {row['cpu_per_wall']:.2f}")


def lora_run(loaded, texts: list[str], directory: Path) -> dict:
    from model_runtime.lora import LoraSettings, train_adapter

    settings = LoraSettings(epochs=1)
    stamps: list[float] = []
    started = time.perf_counter()
    report = train_adapter(loaded, texts, directory, settings, progress=lambda done, total: stamps.append(
        time.perf_counter()))
    processed = report.tokens * settings.epochs
    # The optimiser steps alone, from the progress timestamps (the first step's time is unknown,
    # so the mean of the others stands in for it); the rest is the model copy, the two loss
    # evaluations and the save.
    steps_s = (stamps[-1] - stamps[0]) * len(stamps) / (len(stamps) - 1) if len(stamps) > 1 else float("nan")
    ended = time.perf_counter()
    return {"before_steps_s": stamps[0] - started, "after_steps_s": ended - stamps[-1], "memories": report.examples, "tokens": report.tokens, "epochs": settings.epochs, "steps": report.steps,
            "rank": settings.rank, "batch_size": settings.batch_size, "seconds": report.seconds,
            "s_per_1k_tokens": report.seconds / processed * 1000, "steps_s": steps_s,
            "steps_s_per_1k_tokens": steps_s / processed * 1000,
            "loss_before": report.loss_before, "loss_after": report.loss_after}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096],
                        help="memory block sizes in tokens")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats of the cached, cold-start, bare-forward and no-memory paths")
    parser.add_argument("--full-repeats", type=int, default=3, help="timed repeats of the full prefill")
    parser.add_argument("--lora-memories", type=int, default=40, help="memory texts the adapter is trained on")
    parser.add_argument("--quick", action="store_true", help="smoke run: 512 tokens only, 1 repeat")
    parser.add_argument("--data", type=Path, default=default_data_dir(), help="LoCoMo dev directory")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.lengths, args.repeats, args.full_repeats = [512], 1, 1
    started, busy_before, own_before = time.perf_counter(), busy_cpu_seconds(), own_cpu_seconds()

    import torch

    torch.set_num_threads(THREADS)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # the weight save/load bars would interleave with the figures
    from model_runtime.artifact_store import DirectoryArtifactStore
    from model_runtime.generation import LocalGenerator
    from model_runtime.models import load_causal_lm
    from model_runtime.tiny_model import PRESETS, build_tiny_model

    info = machine_info(("transformers", "peft", "safetensors", "tokenizers"))
    print_machine(info)
    load_before = os.getloadavg()
    print(f"torch threads {torch.get_num_threads()} (interop {torch.get_num_interop_threads()}) | "
          f"load average at start {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")
    turns, source = load_turns(args.data)
    print(f"texts: {len(turns)} dialogue turns from {source}")

    with tempfile.TemporaryDirectory(prefix="mos-ttft-") as tmp:
        root = Path(tmp)
        model_dir = build_tiny_model(root / "model", preset=PRESET, seed=0, corpus=turns)
        loaded = load_causal_lm(model_dir)
        spec = PRESETS[PRESET]
        params = sum(p.numel() for p in loaded.model.parameters())
        head_dim = spec.hidden_size // spec.heads
        kv_bytes_per_token = spec.layers * 2 * spec.kv_heads * head_dim * 4
        print(f"model: {PRESET}, {params / 1e6:.1f}M parameters, {spec.layers} layers, hidden {spec.hidden_size}, "
              f"{spec.heads} heads / {spec.kv_heads} kv heads (head_dim {head_dim}), vocab {len(loaded.tokenizer)}, "
              f"fp32, random weights, attention {loaded.model.config._attn_implementation}")
        print(f"question: {QUESTION!r} (render_question, no retrieved memories); repeats: "
              f"{args.repeats} (cached, cold start, bare forward, no memory), full prefill {args.full_repeats}; one "
              "warm-up call per path first, then the paths interleaved round by round")

        store = DirectoryArtifactStore(root / "artifacts")
        generator = LocalGenerator(loaded)
        rows = []
        for target in args.lengths:
            row = measure_length(loaded, generator, store, turns, target, args.repeats, args.full_repeats)
            print_details(row)
            rows.append(row)

        lora = lora_run(loaded, turns[:args.lora_memories], root / "adapter")
    load_after = os.getloadavg()

    print()
    print_table(
        ["context", "tokens", "full prefill ms", "cached ms", "reduction", "(on min)", "bare fwd ms",
         "question alone ms", "open+verify ms", "load ms", "cold start ms", "cold reduction", "MB/1k tok",
         "cpu/wall"],
        [[f"{r['target']}", r["tokens"], f"{median(r['full_s']) * 1000:.1f}", f"{median(r['cached_s']) * 1000:.1f}",
          f"{r['reduction_pct']:.2f}%", f"{r['reduction_min_pct']:.2f}%", f"{median(r['floor_s']) * 1000:.1f}",
          f"{median(r['question_alone_s']) * 1000:.1f}", f"{median(r['open_verify_s']) * 1000:.1f}",
          f"{median(r['load_s']) * 1000:.1f}", f"{median(r['cold_s']) * 1000:.1f}",
          f"{r['reduction_cold_pct']:.2f}%", f"{r['mb_per_1k_tokens']:.2f}", f"{r['cpu_per_wall']:.2f}"]
         for r in rows])
    print("(medians; TTFT = wall time of LocalGenerator.generate(..., max_new_tokens=1); full prefill = the same "
          "token sequence via prefix_ids; cached = a cache already in memory; cold start = open + load + "
          "generate() on the fresh cache; (on min) = the reduction computed on the fastest repeats; bare fwd = model "
          "forward of the question over the cache, no generate(); MB = 10^6 bytes of kv.safetensors; cpu/wall = "
          f"process CPU time / wall time of the timed calls, ~{THREADS} when no other process competes)")
    print(f"KV cache size: {median([r['mb_per_1k_tokens'] for r in rows]):.2f} MB per 1k tokens "
          f"(expected {kv_bytes_per_token * 1000 / MB:.2f} MB: {spec.layers} layers x K,V x {spec.kv_heads} kv heads "
          f"x {head_dim} x 4 bytes, plus 8 bytes of token id)")
    print(f"LoRA (rank {lora['rank']}, 1 epoch, batch {lora['batch_size']}) on {lora['memories']} memories = "
          f"{lora['tokens']} tokens, {lora['steps']} steps: train_adapter {lora['seconds']:.2f} s = "
          f"{lora['s_per_1k_tokens']:.2f} s per 1k memory tokens (optimiser steps alone ~{lora['steps_s']:.2f} s = "
          f"{lora['steps_s_per_1k_tokens']:.2f} s per 1k); loss {lora['loss_before']:.3f} -> {lora['loss_after']:.3f}")
    print(f"  of the wall time: {lora['before_steps_s']:.2f} s up to the end of step 1 (model copy, loss before, "
          f"step 1), {lora['after_steps_s']:.2f} s after the last step (loss after, save); LoraSettings() default "
          f"is 5 epochs, so a runtime build trains ~5x these steps")
    goal = [r for r in rows if r["target"] == 2048]
    if goal:
        verdict = "met" if goal[0]["reduction_pct"] >= 95.0 else "NOT met"
        print(f"goal >= 95% TTFT reduction at 2k tokens: {goal[0]['reduction_pct']:.2f}% on medians ({verdict}); "
              f"{goal[0]['reduction_min_pct']:.2f}% on the fastest repeats; {goal[0]['reduction_cold_pct']:.2f}% "
              "from a cold start")
    total_s = time.perf_counter() - started
    others = (busy_cpu_seconds() - busy_before) - (own_cpu_seconds() - own_before)
    print(f"load average at end {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}; total run {total_s:.0f} s; "
          f"other processes used {others:.0f} CPU-seconds meanwhile ({others / total_s:.2f} of the "
          f"{os.cpu_count()} cores on average: they compete with the {THREADS} torch threads)")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "threads": THREADS, "preset": PRESET, "params": params,
                                         "question": QUESTION, "load_average": [load_before, load_after],
                                         "other_processes_cpu_s": others, "total_s": total_s,
                                         "lengths": rows, "lora": lora}, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
