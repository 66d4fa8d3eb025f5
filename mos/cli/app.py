"""The `mos` command line: a thin shell over the SDK.

Every MosError becomes one line on stderr and exit status 1; usage errors exit 2 (Typer).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable, List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mos.config import MosSettings
from mos.domain.commands import short_id
from mos.domain.errors import InvalidInput, MosError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="MOS: event-sourced memory for LLM apps.")
user_app = typer.Typer(no_args_is_help=True, help="Users.")
cube_app = typer.Typer(no_args_is_help=True, help="MemCubes.")
app.add_typer(user_app, name="user")
app.add_typer(cube_app, name="cube")


def _services_app() -> typer.Typer:
    from streams.services.cli import app as services_app

    return services_app


app.add_typer(_services_app(), name="services", help="Local Kafka, Elasticsearch and Neo4j (no Docker needed).")
out = Console()
err = Console(stderr=True)

DataDir = typer.Option(None, "--data-dir", envvar="MOS_DATA_DIR", help="Data directory (default ~/.mos).")
UserOpt = typer.Option(..., "--user", "-u", help="Acting user id.")


def open_mos(data_dir: Optional[Path]):
    from mos.embedders.registry import embedder_for
    from mos.sdk import MOS

    settings = MosSettings.from_env()
    directory = Path(data_dir).expanduser() if data_dir else settings.data_dir
    directory.mkdir(parents=True, exist_ok=True)
    return MOS(directory, embedder=embedder_for(directory, settings.embedder), backend=settings.backend,
               source_app="mos-cli")


def run(action: Callable[[], None]) -> None:
    try:
        action()
    except MosError as exc:
        err.print(f"[bold red]error:[/] {type(exc).__name__}: {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def replay_progress() -> Progress:
    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=err)


@user_app.command("create")
def user_create(user_id: str, data_dir: Optional[Path] = DataDir) -> None:
    """Register a user."""
    def action():
        with open_mos(data_dir) as mos:
            out.print(mos.create_user(user_id))
    run(action)


@cube_app.command("create")
def cube_create(name: str, owner: str = typer.Option(..., "--owner"), data_dir: Optional[Path] = DataDir) -> None:
    """Create a MemCube owned by --owner; prints its id."""
    def action():
        with open_mos(data_dir) as mos:
            out.print(mos.create_cube(name, owner=owner))
    run(action)


@cube_app.command("share")
def cube_share(cube_id: str, with_user: str = typer.Option(..., "--with"), role: str = "reader",
               user: str = UserOpt, data_dir: Optional[Path] = DataDir) -> None:
    """Share a cube you own with another user (role: reader, writer)."""
    def action():
        with open_mos(data_dir) as mos:
            mos.share_cube(cube_id, user, with_user, role)
            out.print(f"shared {cube_id} with {with_user} as {role}")
    run(action)


@app.command()
def add(text: str, user: str = UserOpt, cube: str = typer.Option(..., "--cube", "-c"),
        tag: List[str] = typer.Option([], "--tag", "-t"), metadata: str = typer.Option("{}", "--metadata"),
        data_dir: Optional[Path] = DataDir) -> None:
    """Add one memory; prints its id."""
    def action():
        try:
            meta = json.loads(metadata)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"--metadata is not valid JSON: {exc}") from None
        with open_mos(data_dir) as mos:
            out.print(mos.add(text, user_id=user, cube_id=cube, metadata=meta, tags=tag))
    run(action)


@app.command()
def search(query: str, user: str = UserOpt, cube: List[str] = typer.Option([], "--cube", "-c"),
           top_k: int = typer.Option(10, "--top-k", "-k"), as_json: bool = typer.Option(False, "--json"),
           data_dir: Optional[Path] = DataDir) -> None:
    """Hybrid search over the cubes you can see (or --cube ones)."""
    def action():
        with open_mos(data_dir) as mos:
            hits = mos.search(query, user_id=user, cube_ids=cube or None, top_k=top_k)
        if as_json:
            out.print_json(json.dumps([hit_dict(h) for h in hits]))
        else:
            out.print(hits_table(query, hits))
    run(action)


@app.command()
def get(memory_id: str, user: str = UserOpt, data_dir: Optional[Path] = DataDir) -> None:
    """Show one memory with its state and provenance."""
    def action():
        with open_mos(data_dir) as mos:
            item = mos.get(memory_id, user)
        out.print_json(json.dumps({k: v for k, v in item.__dict__.items()}, default=list))
    run(action)


@app.command()
def history(memory_id: str, user: str = UserOpt, as_json: bool = typer.Option(False, "--json"),
            data_dir: Optional[Path] = DataDir) -> None:
    """Every event of a memory, oldest first."""
    def action():
        with open_mos(data_dir) as mos:
            events = mos.history(memory_id, user)
        if as_json:
            out.print_json(json.dumps([{"type": e.type_name, **event_record(e)} for e in events]))
            return
        table = Table(title=f"history of {memory_id}")
        for column in ("v", "event", "at (UTC ms)", "actor", "app", "event id", "details"):
            table.add_column(column, no_wrap=column in ("event", "event id"))
        for event in events:
            table.add_row(str(event.version), event.type_name, str(event.occurred_at), event.provenance.actor,
                          event.provenance.source_app, short_id(event.event_id), event_details(event))
        out.print(table)
    run(action)


@app.command()
def replay(data_dir: Optional[Path] = DataDir) -> None:
    """Throw the read models away and rebuild them from the event log."""
    def action():
        with open_mos(data_dir) as mos, replay_progress() as progress:
            task = progress.add_task("replaying", total=mos.log.head())
            report = mos.replay(lambda done, total: progress.update(task, completed=done, total=total))
        out.print(f"replayed {report.events} events into search and graph in {report.seconds:.2f}s")
    run(action)


@app.command()
def project(data_dir: Optional[Path] = DataDir, batch_size: int = typer.Option(500, "--batch-size"),
            follow: bool = typer.Option(False, "--follow", help="Keep applying new events until killed.")) -> None:
    """Run the projection runners (catch up, or follow the log)."""
    def action():
        import time

        with open_mos(data_dir) as mos:
            for runner in mos._backend.runners:
                runner.batch_size = batch_size
            while True:
                applied = mos.sync()
                if not follow:
                    out.print(f"applied {applied} events")
                    return
                if not applied:
                    time.sleep(0.2)
    run(action)


@app.command()
def demo(data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Where to put the demo data "
                                                 "(default: a fresh temporary directory).")) -> None:
    """Ingest a bundled sample conversation and show hybrid searches with provenance."""
    from mos.cli.demo import run_demo

    run(lambda: run_demo(data_dir, out))


def hit_dict(hit) -> dict:
    return {"memory_id": hit.memory_id, "score": round(hit.score, 4), "text": hit.text, "cube_id": hit.cube_id,
            "state": hit.state, "tags": list(hit.tags), "metadata": hit.metadata, "signals": hit.signals,
            "expanded_from": list(hit.expanded_from), "provenance": hit.provenance}


def hits_table(query: str, hits) -> Table:
    table = Table(title=f"search: {query}", show_lines=False)
    for column in ("#", "score", "text", "found by", "provenance"):
        table.add_column(column, overflow="fold")
    for rank, hit in enumerate(hits, start=1):
        signals = ", ".join(f"{name}#{r}" for name, r in sorted(hit.signals.items()))
        prov = f"{hit.provenance['created_by']} via {hit.provenance['source_app']}, v{hit.provenance['version']}"
        table.add_row(str(rank), f"{hit.score:.3f}", hit.text, signals, prov)
    return table


def event_record(event) -> dict:
    from streams.avro_codec import event_to_record

    record = event_to_record(event)
    if record.get("sealed") is not None:
        record["sealed"] = "<content erased: its key was destroyed>"
    record["embedding"] = f"<{len(record.get('embedding', []))} floats>" if "embedding" in record else None
    return {k: v for k, v in record.items() if v is not None}


def event_details(event) -> str:
    skip = {"event_id", "stream_key", "version", "occurred_at", "provenance", "embedding", "memory_id", "cube_id"}
    from mos.types import event_fields

    fields = event_fields(event, skip)
    return json.dumps(fields, default=list, ensure_ascii=False)[:160]


def main() -> None:
    app(prog_name="mos")


if __name__ == "__main__":
    sys.exit(main())


from mos.cli import model_commands  # noqa: E402,F401  (registers promote, artifacts, chat, runtime)
from mos.cli import scheduler_commands  # noqa: E402,F401  (registers scheduler, explain)
from mos.cli import erase_command  # noqa: E402,F401  (registers erase)
from mos.cli.mcp_command import mcp_command  # noqa: E402

app.command("mcp")(mcp_command)
from mos.rest.cli import serve_command  # noqa: E402

app.command("serve")(serve_command)
