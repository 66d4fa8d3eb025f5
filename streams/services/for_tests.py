"""Where tests find real servers: environment first, then Docker, then the launcher.

Per server, in order:
1. `MOS_KAFKA_BOOTSTRAP` / `MOS_ES_URL` / `MOS_NEO4J_URI` — servers someone already runs
   (CI services, `docker compose up`, a remote box);
2. a Docker engine that answers, through testcontainers (only if it is installed);
3. `start()` — the Maven-fetched servers on 127.0.0.1, reused across test runs.

A test that stops or restarts a server must not touch those shared ones (other runs use
them): `dedicated_servers()` launches private ones — own home, free ports, the shared cache
of downloads — and stops them when the test is done.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from streams.services.common import ServicesHome
from streams.services.launcher import ALL, ServiceEndpoints, start, stop
from streams.services.ports import ServicePorts

_FIELDS = {"kafka": ("kafka_bootstrap", "MOS_KAFKA_BOOTSTRAP"),
           "elasticsearch": ("es_url", "MOS_ES_URL"),
           "neo4j": ("neo4j_uri", "MOS_NEO4J_URI")}

# Containers must outlive the call; testcontainers' reaper (Ryuk) removes them when the
# test process exits.
_containers: list = []
# Endpoints provisioned by this process (container or launcher), so that a fixture calling
# once per test starts at most one container per server and skips repeated health checks.
_provisioned: dict[str, str] = {}


def endpoints_for_tests(names: Iterable[str] = ALL, home: Path | str | None = None) -> ServiceEndpoints:
    """Endpoints for `names`, provisioning only the servers no variable points at.

    A server is provisioned at most once per process; later calls return the same endpoint.
    """
    wanted = [names] if isinstance(names, str) else list(names)
    given = {name: os.environ[_FIELDS[name][1]] for name in wanted if os.environ.get(_FIELDS[name][1])}
    missing = [name for name in wanted if name not in given and name not in _provisioned]
    if missing:
        provided = _from_docker(missing)
        if provided is None:
            endpoints = start(missing, home)
            provided = {name: getattr(endpoints, _FIELDS[name][0]) for name in missing}
        _provisioned.update(provided)
    chosen = {**{name: _provisioned[name] for name in wanted if name not in given}, **given}
    return replace(ServiceEndpoints(), **{_FIELDS[name][0]: value for name, value in chosen.items()})


@dataclass(frozen=True)
class DedicatedServers:
    """Private servers of one test: `stop(name)` / `start(name)` restart one of them on the
    same ports and data (what an outage test needs)."""

    home: Path
    names: tuple[str, ...]
    endpoints: ServiceEndpoints

    def stop(self, name: str) -> str:
        return stop([name], self.home)[name]

    def start(self, name: str) -> None:
        start([name], self.home)

    def log(self, name: str) -> Path:
        return ServicesHome.resolve(self.home).log(name)


@contextmanager
def dedicated_servers(names: Iterable[str], shared_home: Path | str | None = None) -> Iterator[DedicatedServers]:
    """Start `names` in a fresh home on free ports, reusing the downloads of `shared_home`
    (default: the usual home); everything is stopped and deleted on exit, logs excepted
    when the block failed (they are what one reads next)."""
    wanted = tuple([names] if isinstance(names, str) else names)
    # Elasticsearch runs as another user, who must reach the home: /tmp, not a 0700 pytest dir.
    home = Path(tempfile.mkdtemp(prefix="mos-services-"))
    home.chmod(0o755)
    failed = False
    try:
        endpoints = start(wanted, home, ServicePorts.free(), ServicesHome.resolve(shared_home).cache)
        yield DedicatedServers(home, wanted, endpoints)
    except BaseException:
        failed = True
        raise
    finally:
        stop(wanted, home)
        if not failed:
            shutil.rmtree(home, ignore_errors=True)


def _from_docker(names: list[str]) -> dict[str, str] | None:
    """Start `names` in containers, or None when testcontainers or a Docker engine is absent.

    This branch cannot run on the machine the launcher was written on (no Docker engine:
    testcontainers raises DockerException there), so only the detection is exercised; the
    images mirror docker-compose.yml.
    """
    try:
        from docker.errors import DockerException
        from testcontainers.core.docker_client import DockerClient
    except ImportError:
        return None
    try:
        DockerClient().client.ping()
    except DockerException:
        return None
    return {name: _CONTAINERS[name]() for name in names}


def _kafka_container() -> str:
    from testcontainers.community.kafka import KafkaContainer

    # testcontainers' KafkaContainer drives the Confluent image; cp-kafka 7.9 is Kafka 3.9.
    container = KafkaContainer("confluentinc/cp-kafka:7.9.0").with_kraft()
    container.with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false").start(timeout=120)
    _containers.append(container)
    return container.get_bootstrap_server()


def _elasticsearch_container() -> str:
    from testcontainers.community.elasticsearch import ElasticSearchContainer

    container = ElasticSearchContainer("docker.elastic.co/elasticsearch/elasticsearch:8.19.21", mem_limit="2G")
    container.with_env("discovery.type", "single-node").with_env("ES_JAVA_OPTS", "-Xms512m -Xmx512m").start()
    _containers.append(container)
    return f"http://{container.get_container_host_ip()}:{container.get_exposed_port(9200)}"


def _neo4j_container() -> str:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    container = DockerContainer("neo4j:5.26-community").with_env("NEO4J_AUTH", "none").with_exposed_ports(7687)
    container.waiting_for(LogMessageWaitStrategy("Started.")).start()
    _containers.append(container)
    return f"bolt://{container.get_container_host_ip()}:{container.get_exposed_port(7687)}"


_CONTAINERS = {"kafka": _kafka_container, "elasticsearch": _elasticsearch_container, "neo4j": _neo4j_container}
