"""Apache Kafka 3.9 as one KRaft node (broker + controller) on 127.0.0.1:9092 (controller 9093;
both configurable through `ServicePorts`).

Topics are never auto-created (`auto.create.topics.enable=false`): MOS creates each topic
with its partition count before use, because an auto-created 1-partition topic next to a
multi-partition changelog crash-loops Faust agents.
"""

from __future__ import annotations

import asyncio
import re
import subprocess

from streams.services.common import (
    LOOPBACK,
    Server,
    ServiceError,
    ServicesHome,
    java_binary,
    port_accepts,
)
from streams.services.ports import ServicePorts
from streams.services.processes import spawn

_LOG4J_SERVER = """log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
"""

# The storage tool prints the cluster id on stdout; its own logging must go to stderr or
# it ends up inside the captured id.
_LOG4J_TOOLS = """log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
"""

_CLUSTER_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")


class KafkaServer(Server):
    name = "kafka"
    version = "3.9.2"
    port = 9092
    ready_timeout_s = 90.0
    artifacts = (f"org.apache.kafka:kafka_2.13:{version}", "org.slf4j:slf4j-reload4j:1.7.36")

    def __init__(self, ports: ServicePorts = ServicePorts()):
        self.port, self.controller_port = ports.kafka, ports.kafka_controller

    @property
    def endpoint(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def launch(self, home: ServicesHome) -> int:
        config = self._write_config(home)
        if not (home.data(self.name) / "meta.properties").exists():
            self._format_storage(home, config)
        argv = [
            java_binary(), "-Xms256m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{home.run / 'kafka-log4j.properties'}",
            "-cp", f"{self.install_dir(home) / 'lib'}/*", "kafka.Kafka", str(config),
        ]
        return spawn(argv, home.log(self.name))

    def cmdline_markers(self, home: ServicesHome) -> tuple[str, ...]:
        return ("kafka.Kafka", str(home.run / "kafka.properties"))

    def is_healthy(self, timeout_s: float = 5.0) -> bool:
        """A metadata request through the admin client: the broker is up and serving."""
        try:
            from aiokafka.admin import AIOKafkaAdminClient
        except ImportError as exc:
            raise ServiceError("the Kafka health check needs aiokafka: pip install aiokafka") from exc

        async def list_topics() -> None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.endpoint, request_timeout_ms=int(timeout_s * 1000))
            try:
                await asyncio.wait_for(admin.start(), timeout_s)
                await asyncio.wait_for(admin.list_topics(), timeout_s)
            finally:
                await admin.close()

        if not port_accepts(self.port):
            return False
        try:
            asyncio.run(list_topics())
            return True
        except Exception:  # noqa: BLE001 — any failure means "not ready yet"; the caller times out with the log
            return False

    def _write_config(self, home: ServicesHome) -> str:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{LOOPBACK}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{LOOPBACK}:{self.port},CONTROLLER://{LOOPBACK}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(home.data(self.name)),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "default.replication.factor": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
        }
        home.data(self.name).mkdir(parents=True, exist_ok=True)
        (home.run / "kafka-log4j.properties").write_text(_LOG4J_SERVER)
        (home.run / "kafka-tools-log4j.properties").write_text(_LOG4J_TOOLS)
        config = home.run / "kafka.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        return str(config)

    def _format_storage(self, home: ServicesHome, config: str) -> None:
        cluster_id = self._storage_tool(home, "random-uuid").strip().splitlines()[-1].strip()
        if not _CLUSTER_ID.match(cluster_id):
            raise ServiceError(f"kafka StorageTool random-uuid printed {cluster_id!r}, not a cluster id")
        self._storage_tool(home, "format", "-t", cluster_id, "-c", config, "--ignore-formatted")

    def _storage_tool(self, home: ServicesHome, *args: str) -> str:
        argv = [
            java_binary(), "-Xmx256m", f"-Dlog4j.configuration=file:{home.run / 'kafka-tools-log4j.properties'}",
            "-cp", f"{self.install_dir(home) / 'lib'}/*", "kafka.tools.StorageTool", *args,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        with home.log(self.name).open("a") as log:
            log.write(f"=== launcher: StorageTool {' '.join(args)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            raise ServiceError(f"kafka StorageTool {args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout
