"""What every launched server shares: the home layout, the error type, the server contract.

Layout under the services home (default `$MOS_SERVICES_HOME` or `~/.mos/services`):

    cache/m2/                 Maven local repository (downloads happen once)
    cache/<server>-<version>/ the installed server (jars in `lib/`, or the unpacked zip)
    data/<server>/            the server's data; survives stop/start
    logs/<server>.log         the server's console output (the first place to look)
    run/<server>.pid          pid of the running server, written by the launcher
    run/ports.json            the ports this home's servers were started on
    run/<server>.*            generated configuration

The cache may live outside the home (`cache` argument, `$MOS_SERVICES_CACHE`): a second,
dedicated set of servers (other home, other ports) then reuses the first one's downloads.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mos.domain.errors import MosError

LOOPBACK = "127.0.0.1"


class ServiceError(MosError):
    """A server could not be fetched, started, checked or stopped; the message names its log."""


@dataclass(frozen=True)
class ServicesHome:
    """Paths of one services home; creating the object touches nothing on disk."""

    root: Path
    cache_root: Path | None = None  # None: `<root>/cache`

    @classmethod
    def resolve(cls, home: Path | str | None = None, cache: Path | str | None = None) -> ServicesHome:
        """`home` if given, else `$MOS_SERVICES_HOME`, else `~/.mos/services` — or, for root,
        `/var/lib/mos/services`: Elasticsearch runs as an unprivileged user that must be able
        to reach its files, and root's home is usually closed to other users. `cache` (else
        `$MOS_SERVICES_CACHE`, else `<home>/cache`) holds the downloads and installs."""
        chosen = home or os.environ.get("MOS_SERVICES_HOME") or default_home()
        chosen_cache = cache or os.environ.get("MOS_SERVICES_CACHE")
        return cls(Path(chosen).expanduser().resolve(),
                   Path(chosen_cache).expanduser().resolve() if chosen_cache else None)

    @property
    def cache(self) -> Path:
        return self.cache_root or self.root / "cache"

    @property
    def maven_repo(self) -> Path:
        return self.cache / "m2"

    @property
    def run(self) -> Path:
        return self.root / "run"

    def data(self, name: str) -> Path:
        return self.root / "data" / name

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def pidfile(self, name: str) -> Path:
        return self.run / f"{name}.pid"

    def make_dirs(self) -> None:
        for path in (self.maven_repo, self.run, self.root / "data", self.root / "logs"):
            path.mkdir(parents=True, exist_ok=True)


def default_home() -> Path:
    return Path("/var/lib/mos/services") if os.geteuid() == 0 else Path.home() / ".mos" / "services"


class Server(ABC):
    """One server the launcher can install, launch and health-check.

    `launch` returns the pid of the server JVM itself (not of a wrapper script), so that
    `stop` signals the process that holds the port and the data directory. The class
    attribute `port` is the default; an instance built with `ports` (see `ServicePorts`)
    listens where those say.
    """

    name: str
    version: str
    port: int
    ready_timeout_s: float = 120.0
    artifacts: tuple[str, ...] = ()  # Maven coordinates (group:artifact:version[:type])

    @property
    @abstractmethod
    def endpoint(self) -> str:
        """What a client connects to, e.g. `127.0.0.1:9092`."""

    def install_dir(self, home: ServicesHome) -> Path:
        return home.cache / f"{self.name}-{self.version}"

    def install(self, home: ServicesHome, fetch_lock) -> None:
        """Make `install_dir` complete; a no-op when it already is (the warm path).

        The default fetches the jars of `artifacts` with their runtime dependencies; servers
        shipped another way (Elasticsearch's zip) override it."""
        from streams.services import maven  # maven imports this module

        if not self.install_dir(home).is_dir():
            with fetch_lock:
                maven.fetch_jars(home, self.artifacts, self.install_dir(home))

    @abstractmethod
    def launch(self, home: ServicesHome) -> int:
        """Start the server in the background and return its JVM pid; does not wait for health."""

    @abstractmethod
    def is_healthy(self, timeout_s: float = 5.0) -> bool:
        """One real request to the server (not just a TCP connect); never raises."""

    def cmdline_markers(self, home: ServicesHome) -> tuple[str, ...]:
        """Strings found in the server's /proc cmdline: guards against a recycled pid."""
        return (str(self.install_dir(home)),)


def memory_size(variable: str, default: str) -> str:
    """A JVM memory size from the environment variable `variable` ("512m", "2g"), checked:
    a typo must stop the launch with its name, not start a server with a surprise size."""
    value = os.environ.get(variable, default)
    if not value[:-1].isdigit() or value[-1] not in "mg":
        raise ValueError(f"{variable} must look like 512m or 2g, not {value!r}")
    return value


def port_accepts(port: int, host: str = LOOPBACK, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def java_home() -> Path:
    """`$JAVA_HOME`, else the home of the `java` on PATH (symlinks resolved)."""
    if os.environ.get("JAVA_HOME"):
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    if java is None:
        raise ServiceError("no `java` on PATH and JAVA_HOME unset: install Java 17 or newer")
    return Path(os.path.realpath(java)).parent.parent


def java_binary() -> str:
    return str(java_home() / "bin" / "java")


def log_tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log written)"
    return "\n".join(text[-lines:])


def failure(message: str, log: Path) -> ServiceError:
    """A ServiceError that names the log file and quotes its last lines."""
    return ServiceError(f"{message}; see {log}. Last lines:\n{log_tail(log)}")


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.5) -> bool:
    """Poll `condition` until it holds (True) or `timeout_s` passes (False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
