"""Neo4j 5.26 LTS Community on bolt://127.0.0.1:7687 (server-side routing on 7688; both
configurable through `ServicePorts`), started from its Maven jars.

No neo4j scripts are needed: `org.neo4j.server.CommunityEntryPoint` runs in console mode
with settings on the command line. Authentication and the HTTP connector are off, usage
reporting (on by default) is off, and the bolt quiet period is 0, which cuts a SIGTERM
stop from ~13 s to ~2 s. The Neo4j home (with the store under `data/`) is `data/neo4j`.
"""

from __future__ import annotations

from streams.services.common import (
    LOOPBACK,
    Server,
    ServiceError,
    ServicesHome,
    java_binary,
    memory_size,
    port_accepts,
)
from streams.services.ports import ServicePorts
from streams.services.processes import spawn


def pagecache() -> str:
    """Neo4j's page cache: 256m fits the tests; a graph of a million memories is a ~570 MB
    store, and a search walks ~250 random nodes of it, so bench/search_scale.py runs its own
    server with `MOS_NEO4J_PAGECACHE=1g` (size it to the store, as Neo4j advises). Read when
    a server is launched, never at import."""
    return memory_size("MOS_NEO4J_PAGECACHE", "256m")


class Neo4jServer(Server):
    name = "neo4j"
    version = "5.26.30"
    port = 7687
    ready_timeout_s = 150.0
    artifacts = (f"org.neo4j:neo4j:{version}",)

    def __init__(self, ports: ServicePorts = ServicePorts()):
        self.port, self.routing_port = ports.neo4j, ports.neo4j_routing

    @property
    def endpoint(self) -> str:
        return f"bolt://{LOOPBACK}:{self.port}"

    def launch(self, home: ServicesHome) -> int:
        neo4j_home = home.data(self.name)
        neo4j_home.mkdir(parents=True, exist_ok=True)
        settings = {
            "server.default_listen_address": LOOPBACK,
            "server.bolt.listen_address": f"{LOOPBACK}:{self.port}",
            "server.routing.listen_address": f"{LOOPBACK}:{self.routing_port}",
            "server.http.enabled": "false",
            "server.https.enabled": "false",
            "dbms.security.auth_enabled": "false",
            "dbms.usage_report.enabled": "false",
            "internal.dbms.bolt.netty_server_shutdown_quiet_period": "0",
            "server.memory.pagecache.size": pagecache(),
            "server.directories.logs": str(home.root / "logs" / self.name),
        }
        argv = [
            java_binary(), "-Xms512m", "-Xmx1g", "-XX:+UseG1GC", "-Dfile.encoding=UTF-8",
            "-cp", f"{self.install_dir(home) / 'lib'}/*", "org.neo4j.server.CommunityEntryPoint",
            f"--home-dir={neo4j_home}", "--console-mode",
        ]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        return spawn(argv, home.log(self.name), cwd=neo4j_home)

    def cmdline_markers(self, home: ServicesHome) -> tuple[str, ...]:
        return ("org.neo4j.server.CommunityEntryPoint", f"--home-dir={home.data(self.name)}")

    def is_healthy(self, timeout_s: float = 5.0) -> bool:
        """The driver completes a bolt handshake and routing check (`verify_connectivity`).

        On its own this is not enough: a second server that failed with "Address already in
        use" looks healthy because the first one answers, so the launcher also requires the
        pid it started to be alive.
        """
        try:
            from neo4j import GraphDatabase
        except ImportError as exc:
            raise ServiceError("the Neo4j health check needs the driver: pip install neo4j") from exc
        if not port_accepts(self.port):
            return False
        try:
            with GraphDatabase.driver(self.endpoint, auth=None, connection_timeout=timeout_s) as driver:
                driver.verify_connectivity()
            return True
        except Exception:  # noqa: BLE001 — any driver failure means "not ready yet"
            return False
