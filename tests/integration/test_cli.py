"""The `mos` CLI: commands work end to end, errors are one clear line and a non-zero exit."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mos.cli.app import app


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("MOS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MOS_EMBEDDER", "hashing")
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args))

    return invoke


def test_user_cube_add_search_history_replay(cli):
    assert cli("user", "create", "alice").exit_code == 0
    cube = cli("cube", "create", "notes", "--owner", "alice").stdout.strip()
    memory_id = cli("add", "Alice moved to Lisbon", "-u", "alice", "-c", cube, "-t", "move").stdout.strip()
    result = cli("search", "Lisbon", "-u", "alice", "--json")
    assert result.exit_code == 0
    hits = json.loads(result.stdout)
    assert hits[0]["memory_id"] == memory_id and hits[0]["provenance"]["created_by"] == "alice"
    history = cli("history", memory_id, "-u", "alice", "--json")
    assert history.exit_code == 0
    assert [(e["type"], e["version"]) for e in json.loads(history.stdout)] == [("MemoryCreated", 1)]
    assert "MemoryCreated" in cli("history", memory_id, "-u", "alice").stdout
    replay = cli("replay")
    # user + cube + memory, and the search's MemoryAccessed (flushed when the CLI closed MOS)
    assert replay.exit_code == 0 and "replayed 4 events" in replay.stdout


@pytest.mark.parametrize("args, message", [
    (("add", "  ", "-u", "alice", "-c", "nope"), "InvalidInput: text must not be empty"),
    (("add", "hi", "-u", "nobody", "-c", "nope"), "NotFound: unknown user 'nobody'"),
    (("add", "hi", "-u", "alice", "-c", "nope"), "NotFound: unknown cube 'nope'"),
    (("add", "hi", "-u", "alice", "-c", "nope", "--metadata", "{bad"), "--metadata is not valid JSON"),
    (("history", "no-such-memory", "-u", "alice"), "NotFound: unknown memory"),
    (("user", "create", "alice"), "AlreadyExists"),
])
def test_errors_print_one_line_and_exit_non_zero(cli, args, message):
    cli("user", "create", "alice")
    result = cli(*args)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]


def test_the_same_commands_run_on_the_kafka_backend(tmp_path, monkeypatch):
    import uuid

    from projections.elasticsearch.search_index import ElasticsearchSearchIndex
    from projections.neo4j.graph_store import Neo4jGraphStore
    from streams.services import endpoints_for_tests

    endpoints, name = endpoints_for_tests(), f"mos-test-cli-{uuid.uuid4().hex[:8]}"
    for key, value in {**endpoints.as_env(), "MOS_BACKEND": "kafka", "MOS_TOPIC": name, "MOS_ES_INDEX": name,
                       "MOS_NEO4J_NAMESPACE": name, "MOS_EMBEDDER": "hashing",
                       "MOS_DATA_DIR": str(tmp_path / "data")}.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()
    try:
        assert runner.invoke(app, ["user", "create", "alice"]).exit_code == 0
        cube = runner.invoke(app, ["cube", "create", "notes", "--owner", "alice"]).stdout.strip()
        memory_id = runner.invoke(app, ["add", "Alice moved to Lisbon", "-u", "alice", "-c", cube]).stdout.strip()
        hits = json.loads(runner.invoke(app, ["search", "Lisbon", "-u", "alice", "--json"]).stdout)
        assert hits[0]["memory_id"] == memory_id
    finally:
        ElasticsearchSearchIndex(endpoints.es_url, name, 384, delete_on_close=True).close()
        Neo4jGraphStore(endpoints.neo4j_uri, namespace=name, drop_on_close=True).close()
