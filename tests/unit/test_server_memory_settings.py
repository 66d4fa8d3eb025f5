"""The servers' memory sizes come from the environment, checked before anything launches."""

from __future__ import annotations

import pytest

from streams.services.elasticsearch_server import heap
from streams.services.neo4j_server import pagecache


def test_defaults_fit_the_tests(monkeypatch):
    monkeypatch.delenv("MOS_ES_HEAP", raising=False)
    monkeypatch.delenv("MOS_NEO4J_PAGECACHE", raising=False)
    assert (heap(), pagecache()) == ("512m", "256m")


def test_a_size_from_the_environment_is_used_as_given(monkeypatch):
    monkeypatch.setenv("MOS_ES_HEAP", "2g")
    monkeypatch.setenv("MOS_NEO4J_PAGECACHE", "1024m")
    assert (heap(), pagecache()) == ("2g", "1024m")


@pytest.mark.parametrize("typo", ["1gb", "g", "1.5g", "", "1 g"])
def test_a_malformed_size_is_refused_with_the_variable_named(monkeypatch, typo):
    monkeypatch.setenv("MOS_NEO4J_PAGECACHE", typo)
    with pytest.raises(ValueError, match="MOS_NEO4J_PAGECACHE must look like 512m or 2g"):
        pagecache()
