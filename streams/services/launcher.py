"""start / stop / status of the local Kafka, Elasticsearch and Neo4j servers.

`start` is idempotent: a server whose pid file names a live process that answers its
health check is reused as is. Servers are handled in parallel threads; Maven downloads
are serialised (one local repository), so the first server fetched starts booting while
the next one downloads. A file lock under `run/` keeps two processes from launching the
same home at once.

Each home runs one set of servers on the ports it was first started with (`ServicePorts`,
saved in the home): a dedicated set for a test that stops its own servers is simply another
home with other ports, sharing the cache of downloads (`cache`).
"""

from __future__ import annotations

import fcntl
import logging
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streams.services.common import (
    Server,
    ServiceError,
    ServicesHome,
    failure,
    port_accepts,
)
from streams.services.elasticsearch_server import ElasticsearchServer
from streams.services.kafka_server import KafkaServer
from streams.services.neo4j_server import Neo4jServer
from streams.services.ports import ServicePorts
from streams.services.processes import exit_code, is_alive, read_pid, rss_mib, terminate, write_pid

log = logging.getLogger(__name__)



def servers_for(ports: ServicePorts) -> dict[str, Server]:
    return {s.name: s for s in (KafkaServer(ports), ElasticsearchServer(ports), Neo4jServer(ports))}


SERVERS: dict[str, Server] = servers_for(ServicePorts())
ALL: tuple[str, ...] = tuple(SERVERS)


@dataclass(frozen=True)
class ServiceEndpoints:
    """Where clients connect (the defaults are the default ports' loopback addresses)."""

    kafka_bootstrap: str = "127.0.0.1:9092"
    es_url: str = "http://127.0.0.1:9200"
    neo4j_uri: str = "bolt://127.0.0.1:7687"

    @classmethod
    def of(cls, ports: ServicePorts) -> ServiceEndpoints:
        servers = servers_for(ports)
        return cls(*(servers[name].endpoint for name in ALL))

    def as_env(self) -> dict[str, str]:
        """The `MOS_*` variables that point MOS (and `endpoints_for_tests`) at these servers."""
        return {"MOS_KAFKA_BOOTSTRAP": self.kafka_bootstrap, "MOS_ES_URL": self.es_url,
                "MOS_NEO4J_URI": self.neo4j_uri}


def start(names: Iterable[str] = ALL, home: Path | str | None = None, ports: ServicePorts | None = None,
          cache: Path | str | None = None) -> ServiceEndpoints:
    """Start (or reuse) each named server and return once every one answers a real request.

    `ports`: where this home's servers listen (default: the ports saved in the home, else
    the standard ones); a home whose servers are running on other ports refuses to change.
    `cache`: where downloads and installs live (default: the home's own `cache/`).
    Raises ServiceError naming the log file of each server that failed; servers that did
    start are left running.
    """
    services_home = _resolve(home, cache)
    services_home.make_dirs()
    if services_home.cache_root is not None:
        _cache_file(services_home).write_text(str(services_home.cache_root))
    with _home_lock(services_home):
        chosen = _ports_of(services_home, ports)
        servers = _select(names, chosen)
        fetch_lock = threading.Lock()
        _for_each(servers, lambda server: _start_one(server, services_home, fetch_lock))
    return ServiceEndpoints.of(chosen)


def stop(names: Iterable[str] = ALL, home: Path | str | None = None, grace_s: float = 30.0) -> dict[str, str]:
    """SIGTERM each named server, SIGKILL after `grace_s`; returns name -> what happened."""
    services_home = _resolve(home)
    services_home.make_dirs()
    with _home_lock(services_home):
        servers = _select(names, ServicePorts.load(_ports_file(services_home)))
        return dict(zip([s.name for s in servers], _for_each(
            servers, lambda server: _stop_one(server, services_home, grace_s))))


def status(home: Path | str | None = None) -> dict[str, dict]:
    """name -> {running, healthy, pid, version, endpoint, rss_mib, log} for every server."""
    services_home = _resolve(home)
    home_servers = servers_for(ServicePorts.load(_ports_file(services_home)))

    def describe(server: Server) -> dict:
        pid = read_pid(services_home.pidfile(server.name))
        running = is_alive(pid, server.cmdline_markers(services_home))
        return {
            "running": running,
            "healthy": running and server.is_healthy(timeout_s=3.0),
            "pid": pid if running else None,
            "version": server.version,
            "endpoint": server.endpoint,
            "rss_mib": rss_mib(pid) if running else None,
            "log": str(services_home.log(server.name)),
        }

    return dict(zip(home_servers, _for_each(list(home_servers.values()), describe)))


def _resolve(home: Path | str | None, cache: Path | str | None = None) -> ServicesHome:
    """The home, with the cache it was started with when none is given (the Elasticsearch
    liveness check looks for the install directory, which lives in the cache)."""
    resolved = ServicesHome.resolve(home, cache)
    if resolved.cache_root is None and _cache_file(resolved).is_file():
        resolved = ServicesHome(resolved.root, Path(_cache_file(resolved).read_text().strip()))
    return resolved


def _cache_file(home: ServicesHome) -> Path:
    return home.run / "cache.path"


def _ports_file(home: ServicesHome) -> Path:
    return home.run / "ports.json"


def _ports_of(home: ServicesHome, requested: ServicePorts | None) -> ServicePorts:
    """The ports to start on: `requested` (saved for later calls), else the saved ones. A
    server of this home that runs already keeps its ports: asking for others is an error."""
    saved = ServicePorts.load(_ports_file(home))
    if requested is None or requested == saved:
        return saved
    running = [server.name for server in _select(ALL, saved)
               if is_alive(read_pid(home.pidfile(server.name)), server.cmdline_markers(home))]
    if running:
        raise ServiceError(f"{', '.join(running)} of {home.root} already run on {saved}; stop them "
                           f"before starting on {requested}")
    requested.save(_ports_file(home))
    return requested


def _start_one(server: Server, home: ServicesHome, fetch_lock) -> None:
    began = time.monotonic()
    markers, logfile, pidfile = server.cmdline_markers(home), home.log(server.name), home.pidfile(server.name)
    pid = read_pid(pidfile)
    if is_alive(pid, markers):
        _await_health(server, pid, markers, logfile)
        log.info("%s already running (pid %s): reused after %.1f s; log %s",
                 server.name, pid, time.monotonic() - began, logfile)
        return
    pidfile.unlink(missing_ok=True)
    if port_accepts(server.port):
        raise ServiceError(
            f"port {server.port} is held by a process this launcher did not start from "
            f"{home.root}; stop it, or set the MOS_* endpoint variables to use it instead"
        )
    server.install(home, fetch_lock)
    installed = time.monotonic()
    for attempt in range(1, _LAUNCH_ATTEMPTS + 1):
        log.info("starting %s %s (attempt %d); log %s", server.name, server.version, attempt, logfile)
        pid = server.launch(home)
        write_pid(pidfile, pid)
        try:
            _await_health(server, pid, markers, logfile)
            break
        except _ExitedEarly as exited:
            if attempt == _LAUNCH_ATTEMPTS:
                raise
            log.warning("%s exited while booting; launching it again. %s", server.name, exited)
            pidfile.unlink(missing_ok=True)
    log.info("%s %s ready at %s (pid %s) in %.1f s (install %.1f s, boot %.1f s); log %s",
             server.name, server.version, server.endpoint, pid, time.monotonic() - began,
             installed - began, time.monotonic() - installed, logfile)


_LAUNCH_ATTEMPTS = 2


class _ExitedEarly(ServiceError):
    """A server died while booting.

    A fresh launch gets one more try: a predecessor killed a moment earlier can still hold
    the data directory's lock or port, and a JVM can die of a transient resource shortage.
    """


def _await_health(server: Server, pid: int, markers: tuple[str, ...], logfile: Path) -> None:
    deadline = time.monotonic() + server.ready_timeout_s
    while True:
        if not is_alive(pid, markers):
            code = exit_code(pid)
            raise _ExitedEarly(str(failure(
                f"{server.name} (pid {pid}) exited"
                f"{'' if code is None else f' with code {code}'} before it became healthy", logfile)))
        if server.is_healthy():
            return
        if time.monotonic() >= deadline:
            raise failure(f"{server.name} (pid {pid}) still not healthy after "
                          f"{server.ready_timeout_s:.0f} s; it is left running", logfile)
        time.sleep(0.5)


def _stop_one(server: Server, home: ServicesHome, grace_s: float) -> str:
    pidfile = home.pidfile(server.name)
    pid = read_pid(pidfile)
    if not is_alive(pid, server.cmdline_markers(home)):
        pidfile.unlink(missing_ok=True)
        return "not running"
    began = time.monotonic()
    killed = terminate(pid, server.cmdline_markers(home), grace_s)
    pidfile.unlink(missing_ok=True)
    outcome = "killed after SIGTERM timed out" if killed else "stopped"
    log.info("%s (pid %s) %s in %.1f s", server.name, pid, outcome, time.monotonic() - began)
    return outcome


def _for_each(servers: list[Server], action) -> list:
    """Run `action` on every server in parallel; raise one ServiceError listing all failures."""
    with ThreadPoolExecutor(max_workers=len(servers) or 1) as pool:
        futures = [pool.submit(action, server) for server in servers]
    results, errors = [], []
    for server, future in zip(servers, futures):
        try:
            results.append(future.result())
        except ServiceError as exc:
            errors.append(f"[{server.name}] {exc}")
        except (OSError, subprocess.SubprocessError) as exc:
            errors.append(f"[{server.name}] {type(exc).__name__}: {exc}")
    if errors:
        raise ServiceError("\n\n".join(errors))
    return results


def _select(names: Iterable[str], ports: ServicePorts) -> list[Server]:
    wanted = [names] if isinstance(names, str) else list(names)
    unknown = sorted(set(wanted) - set(SERVERS))
    if unknown:
        raise ServiceError(f"unknown service(s) {unknown}; known: {', '.join(SERVERS)}")
    servers = servers_for(ports)
    return [servers[name] for name in servers if name in wanted]


@contextmanager
def _home_lock(home: ServicesHome) -> Iterator[None]:
    with (home.run / "launcher.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
