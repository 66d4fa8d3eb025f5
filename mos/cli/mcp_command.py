"""`mos mcp --user U [--cube C]`: serve MOS to an agent framework over MCP (stdio).

A plain function, registered on the main app with `app.command("mcp")(mcp_command)`. It
imports nothing from `mos.cli.app`, so it can be registered from anywhere in that module,
and it imports the `mcp` package only when run, so the rest of the CLI works without it.
Nothing is printed to stdout: once the server runs, stdout belongs to the protocol.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Optional

import typer

from mos.domain.errors import MosError

MISSING_MCP = "the MCP server needs the mcp package: pip install 'mos-memory[mcp]'"


def mcp_command(
    user: str = typer.Option(..., "--user", "-u", help="The user every tool acts as (created if missing)."),
    cube: Optional[str] = typer.Option(None, "--cube", "-c", help="Default cube for new memories "
                                       "(default: the user's only writable cube, or a new one named 'default')."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", envvar="MOS_DATA_DIR",
                                            help="Data directory (default ~/.mos)."),
) -> None:
    """Serve MOS over MCP on stdin/stdout (tools: add_memory, search_memories, get_memory,
    memory_history, list_cubes), acting as --user."""
    if importlib.util.find_spec("mcp") is None:
        typer.echo(f"error: {MISSING_MCP}", err=True)
        raise typer.Exit(1)
    from mos.mcp_server import serve_stdio

    try:
        serve_stdio(user, cube, data_dir)
    except MosError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1)
