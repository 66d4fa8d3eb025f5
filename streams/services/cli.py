"""`python -m streams.services` / `mos services`: start|stop|status [--only kafka,elasticsearch,neo4j] [--home DIR]`.

A second set of servers beside the usual one: another home, other ports, the same downloads —
`start --home /srv/mos-b --ports kafka=19092,kafka_controller=19093,elasticsearch=19200,neo4j=17687,neo4j_routing=17688 --cache ~/.mos/services/cache`.

`start` prints `MOS_*=...` lines on stdout (progress and log locations go to stderr), so
`eval "$(python -m streams.services start)"` points the current shell at the servers.
Every ServiceError becomes one message on stderr and exit status 1.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import typer

from streams.services.common import ServiceError
from streams.services.launcher import ALL, start, status, stop
from streams.services.ports import ServicePorts

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Local Kafka, Elasticsearch and Neo4j for MOS.")
Only = typer.Option(",".join(ALL), "--only", help="Comma-separated servers to act on.")
Home = typer.Option(None, "--home", envvar="MOS_SERVICES_HOME", help="Services home (default ~/.mos/services; /var/lib/mos/services for root).")
Ports = typer.Option(None, "--ports", help="NAME=PORT,... (kafka, kafka_controller, elasticsearch, "
                     "elasticsearch_transport, neo4j, neo4j_routing); default: the home's saved ports.")
Cache = typer.Option(None, "--cache", envvar="MOS_SERVICES_CACHE", help="Downloads and installs (default <home>/cache).")


def _names(only: str) -> list[str]:
    return [name.strip() for name in only.split(",") if name.strip()]


def _guard(action) -> None:
    try:
        action()
    except ServiceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)


@app.command("start")
def start_command(only: str = Only, home: Path | None = Home, ports: str | None = Ports,
                  cache: Path | None = Cache) -> None:
    """Start (or reuse) the servers and print their endpoints as MOS_* variables."""

    def run() -> None:
        endpoints = start(_names(only), home, ServicePorts.parse(ports) if ports else None, cache)
        for key, value in endpoints.as_env().items():
            typer.echo(f"{key}={value}")

    _guard(run)


@app.command("stop")
def stop_command(only: str = Only, home: Path | None = Home) -> None:
    """Stop the servers: SIGTERM, then SIGKILL after 30 s."""
    _guard(lambda: [typer.echo(f"{name}: {outcome}") for name, outcome in stop(_names(only), home).items()])


@app.command("status")
def status_command(home: Path | None = Home) -> None:
    """Print each server's state as JSON (running, healthy, pid, rss_mib, log)."""
    _guard(lambda: typer.echo(json.dumps(status(home), indent=2)))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    app()

