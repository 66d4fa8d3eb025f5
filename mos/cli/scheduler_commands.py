"""`mos scheduler run`, `mos explain` and `mos audit`: why memories are where they are.

Registered on the main app by `mos.cli.app`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer

from mos.cli.app import DataDir, UserOpt, app, open_mos, out, run

scheduler_app = typer.Typer(no_args_is_help=True, help="The MemScheduler (promote, demote, merge, archive).")
app.add_typer(scheduler_app, name="scheduler")


@scheduler_app.command("run")
def scheduler_run(once: bool = typer.Option(True, "--once/--follow", help="One tick (cron style), or keep ticking."),
                  interval: float = typer.Option(60.0, "--interval", help="Seconds between ticks with --follow."),
                  config: Optional[Path] = typer.Option(None, "--config", help="Policy TOML file "
                                                        "(default: built-in policies; see mos/scheduler/config.py)."),
                  now: Optional[int] = typer.Option(None, "--now", help="Decide as of this epoch-ms time "
                                                    "(replays, simulations); default: the wall clock."),
                  build: bool = typer.Option(False, "--build/--no-build", help="Also build / drop the artifacts "
                                             "the decisions imply (needs MOS_MODEL)."),
                  data_dir: Optional[Path] = DataDir) -> None:
    """Fold the log, decide, and append each decision as an event with its reason."""
    def action():
        from mos.scheduler import load_config

        with open_mos(data_dir) as mos:
            mos._scheduler_config = load_config(config)  # validated before anything runs
            while True:
                report = mos.run_scheduler(now, build_artifacts=build)
                out.print(f"read {report.events_read} events; decided {json.dumps(report.decided, sort_keys=True)}; "
                          f"skipped {report.skipped}", highlight=False)
                for decision in report.decisions:
                    out.print(f"  {decision.kind:<8} {decision.tier or '':<10} {', '.join(decision.memory_ids)}  "
                              f"(policy {decision.reason['policy']})", highlight=False, markup=False)
                if once:
                    return
                time.sleep(interval)
    run(action)


@app.command()
def explain(memory_id: str, user: str = UserOpt, as_json: bool = typer.Option(False, "--json"),
            data_dir: Optional[Path] = DataDir) -> None:
    """Why a memory is in its current state and tiers, from the log."""
    def action():
        with open_mos(data_dir) as mos:
            explanation = mos.explain(memory_id, user)
        if as_json:
            out.print_json(json.dumps({"memory_id": explanation.memory_id, "state": explanation.state,
                                       "tiers": list(explanation.tiers), "lines": list(explanation.lines),
                                       "because": [e.event_id for e in explanation.because]}))
            return
        for line in explanation.lines:
            out.print(line, highlight=False, soft_wrap=True)
    run(action)


@app.command()
def audit(memory_id: str, user: str = UserOpt, graph: Optional[Path] = typer.Option(
              None, "--graph", help="Also write the lineage as an SVG picture to this file."),
          accesses: bool = typer.Option(False, "--accesses", help="Include access events."),
          as_json: bool = typer.Option(False, "--json"), data_dir: Optional[Path] = DataDir) -> None:
    """Full lineage of a memory: events, actors, merges, and the KV caches / adapters built from it."""
    from dataclasses import asdict

    from mos.audit import lines, render_svg

    def action():
        with open_mos(data_dir) as mos:
            found = mos.audit(memory_id, user, accesses)
        if graph is not None:
            graph.write_text(render_svg(found))
        if as_json:
            out.print_json(json.dumps({"root": found.root, "memories": found.memories, "artifacts": found.artifacts,
                                       "edges": found.edges, "steps": [asdict(s) for s in found.steps]}))
            return
        for line in lines(found):
            out.print(line, highlight=False, markup=False, soft_wrap=True)
        if graph is not None:
            out.print(f"lineage picture: {graph}")
    run(action)
