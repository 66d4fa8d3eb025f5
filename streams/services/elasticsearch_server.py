"""Elasticsearch 8.19 (the integ-test zip from Maven Central) as one node on 127.0.0.1:9200.

Security is off and the node listens on loopback only: a local development server, never
one to expose. Elasticsearch refuses to run as root, so when the launcher is root it runs
the node as the system user `mos-es` (created on first use) and hands it the install,
data, log and temp directories. The zip carries no JDK: the launcher's Java is used.
"""

from __future__ import annotations

import json
import logging
import os
import pwd
import stat
import subprocess
import urllib.request
from pathlib import Path

from streams.services import maven
from streams.services.common import LOOPBACK, Server, ServiceError, ServicesHome, failure, java_home, memory_size
from streams.services.ports import ServicePorts
from streams.services.processes import read_pid

log = logging.getLogger(__name__)

ES_USER = "mos-es"


def heap() -> str:
    """Elasticsearch's JVM heap: 512m fits the tests; an index of a million 384-d HNSW
    vectors merges its graphs on heap, so bench/search_scale.py runs its own server with
    `MOS_ES_HEAP=2g`. Read when a server is launched, never at import."""
    return memory_size("MOS_ES_HEAP", "512m")


class ElasticsearchServer(Server):
    name = "elasticsearch"
    version = "8.19.21"
    port = 9200
    ready_timeout_s = 150.0
    artifact = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"

    def __init__(self, ports: ServicePorts = ServicePorts()):
        self.port, self.transport_port = ports.elasticsearch, ports.elasticsearch_transport

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def install(self, home: ServicesHome, fetch_lock) -> None:
        if not self.install_dir(home).is_dir():
            with fetch_lock:
                maven.fetch_zip(home, self.artifact, self.install_dir(home))

    def launch(self, home: ServicesHome) -> int:
        own_dirs = self._prepare_dirs(home)
        es_pidfile = own_dirs["run"] / "elasticsearch.pid"
        es_pidfile.unlink(missing_ok=True)
        heap_size = heap()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "ES_JAVA_HOME": str(java_home()),
            "ES_JAVA_OPTS": f"-Xms{heap_size} -Xmx{heap_size}",
            "ES_TMPDIR": str(own_dirs["tmp"]),
        }
        argv = [
            str(self.install_dir(home) / "bin" / "elasticsearch"), "-d", "-p", str(es_pidfile),
            "-Ecluster.name=mos", "-Enode.name=mos-es", "-Ediscovery.type=single-node",
            f"-Enetwork.host={LOOPBACK}", f"-Ehttp.port={self.port}", "-Expack.security.enabled=false",
            f"-Epath.data={home.data(self.name)}", f"-Epath.logs={own_dirs['logs']}",
            "-Ecluster.routing.allocation.disk.threshold_enabled=false",
        ]
        if self.transport_port is not None:
            argv.append(f"-Etransport.port={self.transport_port}")
        if os.geteuid() == 0:
            argv = ["runuser", "-u", ES_USER, "--", "env", *(f"{k}={v}" for k, v in env.items()), *argv]
        logfile = home.log(self.name)
        with logfile.open("ab") as out:
            out.write(f"\n=== launcher: {' '.join(argv)}\n(node log: {own_dirs['logs'] / 'mos.log'})\n".encode())
            out.flush()
            # `-d` returns once the node has started (or failed), leaving the node daemonised.
            try:
                done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=True, timeout=self.ready_timeout_s, check=False)
            except subprocess.TimeoutExpired:
                raise failure(f"elasticsearch did not start within {self.ready_timeout_s:.0f} s", logfile) from None
        pid = read_pid(es_pidfile)
        if done.returncode != 0 or pid is None:
            raise failure(f"elasticsearch exited with status {done.returncode} "
                          f"(node log {own_dirs['logs'] / 'mos.log'})", logfile)
        return pid

    def cmdline_markers(self, home: ServicesHome) -> tuple[str, ...]:
        return ("org.elasticsearch.bootstrap.Elasticsearch", str(self.install_dir(home)))

    def is_healthy(self, timeout_s: float = 5.0) -> bool:
        """`GET /_cluster/health` answers green or yellow (`GET /` has no handler in this build)."""
        url = f"{self.endpoint}/_cluster/health?timeout={int(timeout_s)}s"
        try:
            with urllib.request.urlopen(url, timeout=timeout_s + 1) as response:
                return json.load(response).get("status") in ("green", "yellow")
        except (OSError, ValueError):
            return False

    def _prepare_dirs(self, home: ServicesHome) -> dict[str, Path]:
        """Create the node's writable directories; as root, give them (and the install) to ES_USER."""
        own = {"run": home.run / self.name, "logs": home.root / "logs" / self.name}
        own["tmp"] = own["run"] / "tmp"
        for path in (home.data(self.name), own["tmp"], own["logs"]):
            path.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            _ensure_user()
            _ensure_traversable(home.root)
            for path in (self.install_dir(home), home.data(self.name), own["run"], own["logs"]):
                if path.stat().st_uid != _uid():
                    subprocess.run(["chown", "-R", f"{ES_USER}:", str(path)], check=True)
        return own


def _uid() -> int:
    return pwd.getpwnam(ES_USER).pw_uid


def _ensure_user() -> None:
    try:
        pwd.getpwnam(ES_USER)
    except KeyError:
        shell = "/usr/sbin/nologin" if Path("/usr/sbin/nologin").exists() else "/bin/false"
        subprocess.run(["useradd", "-r", "-m", "-s", shell, ES_USER], check=True)
        log.info("created system user %s to run Elasticsearch (it refuses to run as root)", ES_USER)


def _ensure_traversable(path: Path) -> None:
    """ES_USER must reach the home through its ancestors; fail clearly rather than loosen
    the permissions of someone's directories (e.g. a 0700 /root)."""
    for directory in (path, *path.parents):
        if not directory.stat().st_mode & stat.S_IXOTH:
            raise ServiceError(f"{ES_USER} cannot reach {path}: {directory} is closed to other users; "
                               f"set MOS_SERVICES_HOME to a directory outside it")
