"""The launcher provides real Kafka, Elasticsearch and Neo4j servers that answer real requests.

The first run downloads the servers (~1-2 min); later runs reuse the running servers.
Launcher-specific checks are skipped when MOS_* variables point at servers run elsewhere.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import pytest

from streams.services import ALL, ServiceEndpoints, endpoints_for_tests, start, status

pytestmark = pytest.mark.services

_ENV = ("MOS_KAFKA_BOOTSTRAP", "MOS_ES_URL", "MOS_NEO4J_URI")
launcher_only = pytest.mark.skipif(any(os.environ.get(v) for v in _ENV),
                                   reason="MOS_* variables point at servers the launcher does not manage")


@pytest.fixture(scope="module")
def launched() -> ServiceEndpoints:
    return start()


@launcher_only
def test_status_reports_every_launched_server_running_and_healthy(launched):
    report = status()

    assert set(report) == set(ALL)
    for name, state in report.items():
        assert state["running"] and state["healthy"], (name, state)
        assert state["pid"] > 0 and Path(state["log"]).is_file()
    assert report["kafka"]["endpoint"] == launched.kafka_bootstrap
    assert report["elasticsearch"]["endpoint"] == launched.es_url
    assert report["neo4j"]["endpoint"] == launched.neo4j_uri


@launcher_only
def test_start_again_reuses_the_running_servers(launched):
    pids = {name: state["pid"] for name, state in status().items()}

    began = time.monotonic()
    assert start() == launched
    elapsed = time.monotonic() - began

    assert {name: state["pid"] for name, state in status().items()} == pids
    assert elapsed < 15, f"reusing running servers took {elapsed:.1f} s"


def test_endpoints_for_tests_prefers_the_environment(monkeypatch):
    monkeypatch.setenv("MOS_KAFKA_BOOTSTRAP", "kafka.example:19092")
    monkeypatch.setenv("MOS_ES_URL", "http://es.example:19200")
    monkeypatch.setenv("MOS_NEO4J_URI", "bolt://neo4j.example:17687")

    assert endpoints_for_tests() == ServiceEndpoints(
        "kafka.example:19092", "http://es.example:19200", "bolt://neo4j.example:17687")


def test_kafka_round_trips_a_message_through_an_explicitly_created_topic(service_endpoints):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    topic = f"mos-launcher-test-{uuid.uuid4().hex[:8]}"
    bootstrap = service_endpoints.kafka_bootstrap

    async def round_trip() -> bytes:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)])
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
            await producer.start()
            try:
                await producer.send_and_wait(topic, b"memory-created", key=b"cube-1")
            finally:
                await producer.stop()
            consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                        group_id=f"{topic}-reader")
            await consumer.start()
            try:
                record = await asyncio.wait_for(consumer.getone(), 30)
            finally:
                await consumer.stop()
            return record.value
        finally:
            await admin.delete_topics([topic])
            await admin.close()

    assert asyncio.run(round_trip()) == b"memory-created"


def test_elasticsearch_finds_an_indexed_document_with_bm25(service_endpoints):
    from elasticsearch import Elasticsearch

    index = f"mos-launcher-test-{uuid.uuid4().hex[:8]}"
    with Elasticsearch(service_endpoints.es_url, request_timeout=30) as es:
        es.indices.create(index=index, mappings={"properties": {"text": {"type": "text"}}})
        try:
            es.index(index=index, id="m1", document={"text": "Alice adopted a grey cat named Miso"})
            es.index(index=index, id="m2", document={"text": "Bob flew to Lisbon for a conference"},
                     refresh="wait_for")
            hits = es.search(index=index, query={"match": {"text": "cat Miso"}})["hits"]["hits"]
        finally:
            es.indices.delete(index=index)

    assert [hit["_id"] for hit in hits] == ["m1"]
    assert hits[0]["_score"] > 0


def test_neo4j_answers_a_cypher_query(service_endpoints):
    from neo4j import GraphDatabase

    with GraphDatabase.driver(service_endpoints.neo4j_uri, auth=None) as driver:
        records, _, _ = driver.execute_query("RETURN 1 AS one")

    assert records[0]["one"] == 1
