"""`mos erase`: the right to erasure from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from mos.cli.app import DataDir, app, open_mos, out, run


@app.command()
def erase(user: str = typer.Option(..., "--user", "-u",
                                   help="The data subject; with --memory, the user asking (cube owner or author)."),
          memory: List[str] = typer.Option([], "--memory", "-m", help="Erase only these memories (and what "
                                           "was derived from them) instead of everything of --user."),
          reason: Optional[str] = typer.Option(None, "--reason", help="Recorded in the log; never the content."),
          yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
          data_dir: Optional[Path] = DataDir) -> None:
    """Erase memories for good: destroy their keys, append MemoryErased, purge read models
    and artifacts. Without --memory, everything the user wrote or owns."""
    what = f"memories {', '.join(memory)}" if memory else f"ALL memories of user {user}"
    if not yes and not typer.confirm(f"Erase {what}? This cannot be undone."):
        raise typer.Exit(1)

    def action():
        with open_mos(data_dir) as mos:
            if memory:
                erased: dict[str, str] = {}
                built, dropped = [], []
                for memory_id in memory:
                    report = mos.erase_memory(memory_id, user, reason)
                    erased.update(report.erased)
                    built += report.artifacts_built
                    dropped += report.artifacts_dropped
            else:
                report = mos.erase_user(user, reason)
                erased, built, dropped = report.erased, list(report.artifacts_built), list(report.artifacts_dropped)
        out.print_json(json.dumps({"erased": erased, "artifacts_built": built, "artifacts_dropped": dropped}))
    run(action)
