"""The ports one set of launched servers listens on (all on 127.0.0.1), in one typed place.

The defaults are the servers' usual ports. A second, dedicated set — a test that stops and
restarts its own broker while other runs use the shared one — takes `ServicePorts.free()`
and its own services home. The ports a home was started with are saved in it
(`run/ports.json`), so later `stop` / `status` calls on that home need not be told again.
"""

from __future__ import annotations

import json
import socket
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from streams.services.common import LOOPBACK, ServiceError


@dataclass(frozen=True)
class ServicePorts:
    kafka: int = 9092
    kafka_controller: int = 9093
    elasticsearch: int = 9200
    elasticsearch_transport: int | None = None  # None: Elasticsearch takes the first free of 9300-9399
    neo4j: int = 7687
    neo4j_routing: int = 7688

    @classmethod
    def free(cls) -> ServicePorts:
        """Ports nothing listens on right now (the kernel's choice; distinct from each other)."""
        sockets = []
        try:
            for _ in fields(cls):
                handle = socket.socket()
                handle.bind((LOOPBACK, 0))
                sockets.append(handle)
            return cls(*(handle.getsockname()[1] for handle in sockets))
        finally:
            for handle in sockets:
                handle.close()

    @classmethod
    def parse(cls, text: str) -> ServicePorts:
        """`kafka=19092,neo4j=17687` (the CLI's `--ports`); unnamed ports keep their default."""
        known = {field.name for field in fields(cls)}
        values: dict[str, int] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, _, value = item.partition("=")
            if name.strip() not in known or not value.strip().isdigit():
                raise ServiceError(f"bad port setting {item!r}: expected NAME=PORT, NAME one of {sorted(known)}")
            values[name.strip()] = int(value)
        return cls(**values)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> ServicePorts:
        """The saved ports, or the defaults for a home started before ports were saved."""
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError:
            return cls()
