"""Fixtures for tests that need the real Kafka, Elasticsearch and Neo4j servers."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def service_endpoints():
    """Real servers for this test session: MOS_* variables, else Docker, else the launcher."""
    from streams.services import endpoints_for_tests

    return endpoints_for_tests()
