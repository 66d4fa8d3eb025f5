"""The model-runtime commands of the `mos` CLI, end to end on the embedded backend."""

from __future__ import annotations

import json


def test_promote_builds_lists_chats_and_rebuilds_from_the_cli(tmp_path, monkeypatch, mos_cli, tiny_model_dir):
    monkeypatch.setenv("MOS_MODEL", str(tiny_model_dir))
    cli = mos_cli

    cli("user", "create", "alice")
    cube = cli("cube", "create", "notes", "--owner", "alice").strip()
    ids = [cli("add", text, "-u", "alice", "-c", cube).strip()
           for text in ("Alice lives in Lisbon.", "Alice has a dog named Pixel.", "Alice plays the cello.")]
    assert "built 1 artifact(s)" in cli("promote", ids[0], ids[1], "-u", "alice", "--to", "activation")
    [artifact] = json.loads(cli("artifacts", "-u", "alice", "--json"))
    assert artifact["tier"] == "activation" and sorted(artifact["source_memory_ids"]) == sorted(ids[:2])
    answer = json.loads(cli("chat", "Where does Alice live?", "-u", "alice", "--json", "--max-new-tokens", "4"))
    assert answer["kv_cache"] == artifact["artifact_id"] and answer["cached_tokens"] == artifact["token_count"]
    assert "identical" in cli("runtime", "rebuild", "--into", str(tmp_path / "replayed"))
    assert "dropped 1 artifact" in cli("demote", ids[0], ids[1], "-u", "alice", "--from", "activation")
    assert json.loads(cli("artifacts", "-u", "alice", "--json")) == []


def test_promoting_without_a_model_is_one_clear_line(monkeypatch, mos_cli):
    monkeypatch.delenv("MOS_MODEL", raising=False)
    mos_cli("user", "create", "alice")
    cube = mos_cli("cube", "create", "notes", "--owner", "alice").strip()
    memory = mos_cli("add", "Alice lives in Lisbon.", "-u", "alice", "-c", cube).strip()
    result = mos_cli.invoke("promote", memory, "-u", "alice")
    assert result.exit_code == 1 and "no language model configured" in result.stderr
    assert "promoted" not in result.stdout
    history = json.loads(mos_cli("history", memory, "-u", "alice", "--json"))
    assert [e["type"] for e in history] == ["MemoryCreated"]  # refused whole: nothing appended
    mos_cli("promote", memory, "-u", "alice", "--no-build")
