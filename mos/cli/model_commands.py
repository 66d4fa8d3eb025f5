"""`mos promote | demote | artifacts | chat | runtime`: activation and parametric memory.

Registered on the main app by `mos.cli.app`. Builds show one progress bar per artifact
(prefill tokens for KV caches, training steps for adapters).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from mos.domain.errors import InvalidInput
from mos.cli.app import DataDir, UserOpt, app, open_mos, out, replay_progress, run

runtime_app = typer.Typer(no_args_is_help=True, help="The model runtime (builds KV caches and LoRA adapters).")
app.add_typer(runtime_app, name="runtime")
TierOpt = typer.Option("activation", "--to", help="activation (KV cache) or parametric (LoRA adapter).")


def _quiet() -> None:
    from mos.cli.demo import quiet_transformers

    quiet_transformers()


def _require_model(mos, build: bool) -> None:
    """Checked before anything is appended: a promotion the CLI cannot build is refused whole."""
    if build and not mos._models.has_local_model:
        from mos.model_memory import NO_MODEL

        raise InvalidInput(NO_MODEL + "; or pass --no-build to only record the promotion")


def _build(mos) -> None:
    _quiet()
    with replay_progress() as progress:
        tasks: dict[str, int] = {}

        def update(label: str, done: int, total: int) -> None:
            if label not in tasks:
                tasks[label] = progress.add_task(label, total=total)
            progress.update(tasks[label], completed=done, total=total)

        report = mos.build_artifacts(update)
    out.print(f"read {report.events} events; built {len(report.built)} artifact(s) {report.built}; "
              f"dropped {len(report.dropped)} artifact(s) {report.dropped}")


def _change_tier(change: str, memory_ids: List[str], user: str, tier: str, reason: Optional[str], build: bool,
                 data_dir: Optional[Path]) -> None:
    def action():
        with open_mos(data_dir) as mos:
            _require_model(mos, build)
            getattr(mos, change)(memory_ids, user, tier, reason)
            out.print(f"{change}d {len(memory_ids)} memories {'to' if change == 'promote' else 'from'} {tier}")
            if build:
                _build(mos)
    run(action)


BuildOpt = typer.Option(True, "--build/--no-build", help="Build / drop the artifacts now (needs MOS_MODEL).")


@app.command()
def promote(memory_ids: List[str], user: str = UserOpt, to: str = TierOpt,
            reason: Optional[str] = typer.Option(None, "--reason"), build: bool = BuildOpt,
            data_dir: Optional[Path] = DataDir) -> None:
    """Promote memories to activation or parametric memory (then build the cube's artifact)."""
    _change_tier("promote", memory_ids, user, to, reason, build, data_dir)


@app.command()
def demote(memory_ids: List[str], user: str = UserOpt, to: str = typer.Option("activation", "--from"),
           reason: Optional[str] = typer.Option(None, "--reason"), build: bool = BuildOpt,
           data_dir: Optional[Path] = DataDir) -> None:
    """Take memories out of a tier (the cube's artifact is rebuilt or dropped)."""
    _change_tier("demote", memory_ids, user, to, reason, build, data_dir)


@app.command()
def artifacts(user: str = UserOpt, cube: List[str] = typer.Option([], "--cube", "-c"),
              as_json: bool = typer.Option(False, "--json"), data_dir: Optional[Path] = DataDir) -> None:
    """Live KV caches and adapters, with their lineage (source memories and events)."""
    from rich.table import Table

    def action():
        with open_mos(data_dir) as mos:
            live = mos.artifacts(user, cube or None)
        if as_json:
            out.print_json(json.dumps([a.__dict__ for a in live], default=list))
            return
        table = Table(title="artifacts")
        for column in ("artifact", "cube", "tier", "model", "tokens", "source memories", "built by event"):
            table.add_column(column, overflow="fold")
        for a in live:
            table.add_row(a.artifact_id, a.cube_id, a.tier, f"{a.model_id} ({a.model_fingerprint[:10]})",
                          str(a.token_count), "\n".join(a.source_memory_ids), a.built_by_event)
        out.print(table)
    run(action)


@app.command()
def chat(query: str, user: str = UserOpt, cube: List[str] = typer.Option([], "--cube", "-c"),
         top_k: int = typer.Option(5, "--top-k"), max_new_tokens: int = typer.Option(64, "--max-new-tokens"),
         as_json: bool = typer.Option(False, "--json"), data_dir: Optional[Path] = DataDir) -> None:
    """Answer with your memories (local model from MOS_MODEL, or MOS_CHAT_URL)."""
    def action():
        _quiet()
        with open_mos(data_dir) as mos:
            response = mos.chat(query, user, cube or None, top_k, max_new_tokens)
        used = {"answer": response.answer, "model": response.model, "kv_cache": response.kv_cache,
                "adapter": response.adapter, "cached_tokens": response.cached_tokens,
                "prompt_tokens": response.prompt_tokens, "memories": [h.memory_id for h in response.memories],
                "cached_memories": list(response.cached_memory_ids)}
        if as_json:
            out.print_json(json.dumps(used))
            return
        out.print(f"[bold]{response.answer}[/]")
        out.print(f"model {response.model}; {len(response.memories)} retrieved memories; KV cache "
                  f"{response.kv_cache or '-'} ({response.cached_tokens} tokens not prefilled); "
                  f"adapter {response.adapter or '-'}", highlight=False)
    run(action)


@runtime_app.command("run")
def runtime_run(follow: bool = typer.Option(False, "--follow", help="Keep consuming new events until killed."),
                interval: float = typer.Option(1.0, "--interval", help="Seconds between polls with --follow."),
                data_dir: Optional[Path] = DataDir) -> None:
    """Consume the log: build artifacts for changed promoted sets, drop stale ones (`--once` by default)."""
    def action():
        import time

        with open_mos(data_dir) as mos:
            while True:
                _build(mos)
                if not follow:
                    return
                time.sleep(interval)
    run(action)


@runtime_app.command("rebuild")
def runtime_rebuild(into: Optional[Path] = typer.Option(None, "--into", help="Rebuild into this directory "
                                                        "instead of replacing the live artifacts."),
                    data_dir: Optional[Path] = DataDir) -> None:
    """Rebuild every live artifact from the log and check it is byte-identical to the record."""
    def action():
        with open_mos(data_dir) as mos:
            results = mos.rebuild_artifacts(into)
        for r in results:
            verdict = "identical" if r.identical else "DIFFERENT"
            out.print(f"{r.artifact_id}: {verdict} (content {r.content_hash[:12]}, recorded "
                      f"{r.expected_content_hash[:12]})")
        if not all(r.identical for r in results):
            raise typer.Exit(1)
    run(action)


@runtime_app.command("tiny-model")
def runtime_tiny_model(directory: Path, preset: str = typer.Option("tiny", "--preset", help="tiny or small-100m"),
                       seed: int = typer.Option(0, "--seed")) -> None:
    """Write a small random-weight Llama model + tokenizer to DIRECTORY (for trying MOS_MODEL
    without downloading anything; its answers are noise)."""
    from model_runtime.tiny_model import PRESETS, build_tiny_model

    def action():
        from mos.domain.errors import InvalidInput

        if preset not in PRESETS:
            raise InvalidInput(f"preset must be one of {sorted(PRESETS)}, not {preset!r}")
        out.print(str(build_tiny_model(directory, preset, seed)))
    run(action)
