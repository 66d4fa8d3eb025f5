"""Local Kafka, Elasticsearch and Neo4j servers for development and tests, without Docker.

Each server is fetched once from Maven Central with `mvn` into a cache, then run on
127.0.0.1 as a background process that outlives the caller:

    from streams.services import start, stop, status
    endpoints = start()                  # or start(["kafka"]); idempotent, reuses live servers
    endpoints.kafka_bootstrap            # "127.0.0.1:9092"
    status()["neo4j"]["healthy"]
    stop()                               # SIGTERM, SIGKILL after a grace period

From a shell: `python -m streams.services start|stop|status [--only kafka,neo4j]`.
Tests call `endpoints_for_tests()`, which prefers `MOS_*` variables, then Docker, then `start`.
Users with Docker can run the same servers from `docker-compose.yml` instead.
"""

from streams.services.common import ServiceError, ServicesHome
from streams.services.for_tests import DedicatedServers, dedicated_servers, endpoints_for_tests
from streams.services.launcher import ALL, ServiceEndpoints, start, status, stop
from streams.services.ports import ServicePorts

__all__ = ["ALL", "DedicatedServers", "ServiceEndpoints", "ServiceError", "ServicePorts", "ServicesHome",
           "dedicated_servers", "endpoints_for_tests", "start", "status", "stop"]
