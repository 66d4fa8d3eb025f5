"""`mos serve`: the REST API on uvicorn, over one MOS opened for the life of the server.

Register with `app.command("serve")(serve_command)`. FastAPI and uvicorn are imported only
when the command runs, so the rest of the CLI does not pay for them.

One server process owns one MOS handle; uvicorn's worker threadpool runs the synchronous
SDK calls. More processes on the same data directory are possible (the SDK reads its own
and others' writes), but each is a separate `mos serve`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from mos.domain.errors import InvalidInput, MosError

if TYPE_CHECKING:
    from mos.rest.auth import TokenStore
    from mos.sdk import MOS

log = logging.getLogger(__name__)


def load_tokens(tokens_file: Optional[Path]) -> "TokenStore":
    """The token file if given, else `MOS_API_TOKENS`; refuses to start with no token at all."""
    from mos.rest.auth import TOKENS_ENV, TokenStore

    store = TokenStore.from_file(tokens_file) if tokens_file else TokenStore.from_env(os.environ)
    if not len(store):
        raise InvalidInput(f"no API tokens: pass --tokens-file or set {TOKENS_ENV}=token=user,...")
    return store


def open_mos_for_api(data_dir: Optional[Path]) -> "MOS":
    """Like the CLI's `open_mos`, but every event the API writes is attributed to `mos-rest`."""
    from mos.config import MosSettings
    from mos.embedders.registry import embedder_for
    from mos.sdk import MOS

    settings = MosSettings.from_env()
    directory = Path(data_dir).expanduser() if data_dir else settings.data_dir
    directory.mkdir(parents=True, exist_ok=True)
    return MOS(directory, embedder=embedder_for(directory, settings.embedder), backend=settings.backend,
               source_app="mos-rest")


def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8080, "--port", min=1, max=65535, help="TCP port."),
    tokens_file: Optional[Path] = typer.Option(None, "--tokens-file", envvar="MOS_API_TOKENS_FILE",
                                               help='JSON: {"tokens": [{"token", "user", "expires_at"}]}; '
                                                    "default: MOS_API_TOKENS=token=user,..."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", envvar="MOS_DATA_DIR",
                                            help="Data directory (default ~/.mos)."),
    max_body_bytes: int = typer.Option(1_000_000, "--max-body-bytes", min=0,
                                       help="Larger request bodies get 413."),
) -> None:
    """Serve the REST API (OpenAPI schema at /openapi.json, docs at /docs)."""
    import uvicorn

    from mos.rest.app import create_app

    try:
        tokens = load_tokens(tokens_file)
        mos = open_mos_for_api(data_dir)
    except MosError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1)
    log.info("serving the MOS REST API on %s:%d with %d tokens", host, port, len(tokens))
    # The app closes the MOS on shutdown: after a SIGTERM uvicorn re-raises the signal once it
    # has shut down, so code after `uvicorn.run` would never run.
    uvicorn.run(create_app(mos, tokens, max_body_bytes, close_on_shutdown=True), host=host, port=port,
                log_level="info")


def serve(host: str = "127.0.0.1", port: int = 8080, tokens_file: Optional[Path] = None,
          data_dir: Optional[Path] = None, max_body_bytes: int = 1_000_000) -> None:
    """`serve_command` for Python callers (plain defaults instead of Typer options)."""
    serve_command(host, port, tokens_file, data_dir, max_body_bytes)
