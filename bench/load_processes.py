"""The processes bench/load.py drives: a Faust worker and a `mos serve` REST server, both on
loopback only, both torn down whatever happens to the load generator.

A load generator that can be pointed at another host is a denial-of-service tool, so every
endpoint it touches (the REST server it starts, Kafka, Elasticsearch, Neo4j) must resolve
to loopback addresses only; anything else is refused before a process starts.

Children are started in their own session (a Ctrl-C in the terminal reaches only the load
generator, which then stops them in order) and with PR_SET_PDEATHSIG = SIGKILL, so that even
a load generator killed with SIGKILL (a report.py timeout) takes its worker and server with
it. SIGKILL, not SIGTERM: nobody is left to wait out Faust's graceful shutdown, which was seen
to stall for over 30 s once its topics were gone; the worker's state is safe either way.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

REPO = Path(__file__).resolve().parents[1]
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


class NotLoopback(ValueError):
    """An endpoint that does not resolve to loopback addresses only."""


def require_loopback(host: str, what: str) -> str:
    """`host` if every address it resolves to is a loopback address; NotLoopback otherwise."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise NotLoopback(f"{what}: cannot resolve {host!r} ({exc})") from None
    outside = sorted(a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback)
    if not addresses or outside:
        raise NotLoopback(f"{what}: {host!r} resolves to non-loopback {outside}; the load generator "
                          "only runs against servers on this machine")
    return host


def require_loopback_endpoints(kafka_bootstrap: str, es_url: str, neo4j_uri: str) -> None:
    for server in kafka_bootstrap.split(","):
        require_loopback(urlsplit(f"//{server.strip()}").hostname or "", "Kafka bootstrap")
    require_loopback(urlsplit(es_url).hostname or "", "Elasticsearch URL")
    require_loopback(urlsplit(neo4j_uri).hostname or "", "Neo4j URI")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Child:
    """A started subprocess, its log file, and how to stop it."""

    name: str
    process: subprocess.Popen
    log_path: Path
    _log: object = field(repr=False, default=None)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 25) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace_s: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after `grace_s` (Faust's graceful shutdown can stall);
        returns the exit code. The child is always reaped."""
        if self.alive():
            self.process.terminate()
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._log is not None:
            self._log.close()
        return self.process.returncode


def _spawn(name: str, command: list[str], env: dict[str, str], workdir: Path) -> Child:
    log_path = workdir / f"{name}.log"
    log_file = open(log_path, "ab")
    # cwd: the Faust worker writes its `<app id>-data` directory there.
    process = subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log_file,
                               stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
    return Child(name, process, log_path, log_file)


def pipeline_env(settings, workdir: Path, keystore: Path) -> dict[str, str]:
    """The MOS_* variables that put a process on this run's topics, index and graph namespace,
    with the key store every writer and the worker share (sealed content must be readable)."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "MOS_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "MOS_ES_URL": settings.es_url,
            "MOS_NEO4J_URI": settings.neo4j_uri, "MOS_TOPIC": settings.events_topic,
            "MOS_ES_INDEX": settings.es_index, "MOS_NEO4J_NAMESPACE": settings.neo4j_namespace,
            "MOS_FAUST_APP_ID": settings.faust_app_id,
            "MOS_EMBEDDING_DIMENSION": str(settings.embedding_dimension), "MOS_KEYSTORE": str(keystore)}


def start_worker(settings, workdir: Path, keystore: Path) -> Child:
    """The Faust projection worker. Its scheduler timer is off: it appends decisions of its
    own, which are not the load under test."""
    env = {**pipeline_env(settings, workdir, keystore), "MOS_DATA_DIR": str(workdir / "worker-data"),
           "MOS_SCHEDULER_INTERVAL_SECONDS": "0"}
    return _spawn("worker", [sys.executable, "-m", "streams.faust_app", "worker", "-l", "warn", "--without-web"],
                  env, workdir)


def start_server(settings, workdir: Path, keystore: Path, host: str, port: int, token: str, user: str) -> Child:
    """`mos serve` on the Kafka backend with the hashing embedder (the load is on the pipeline,
    not on an embedding model), one bearer token."""
    require_loopback(host, "REST server host")
    env = {**pipeline_env(settings, workdir, keystore), "MOS_BACKEND": "kafka", "MOS_EMBEDDER": "hashing",
           "MOS_API_TOKENS": f"{token}={user}"}
    env.pop("MOS_API_TOKENS_FILE", None)
    return _spawn("server", [sys.executable, "-m", "mos", "serve", "--host", host, "--port", str(port),
                             "--data-dir", str(workdir / "server-data")], env, workdir)


def wait_http(child: Child, url: str, timeout_s: float) -> float:
    """Seconds until `url` answers; RuntimeError (with the log tail) if the child exits first."""
    began = time.monotonic()
    while True:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited ({child.process.returncode}) before serving:\n{child.tail()}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.monotonic() - began
        except httpx.TransportError:
            pass
        if time.monotonic() - began > timeout_s:
            raise RuntimeError(f"{child.name} did not answer {url} in {timeout_s:.0f} s:\n{child.tail()}")
        time.sleep(0.2)
