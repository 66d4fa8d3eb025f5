"""`mos scheduler run --once` and `mos explain` end to end (embedded backend)."""

from __future__ import annotations

import json

DAY_MS = 86_400_000


def test_scheduler_run_once_archives_unused_memories_and_explain_says_why(tmp_path, mos_cli):
    cli = mos_cli
    cli("user", "create", "alice")
    cube = cli("cube", "create", "notes", "--owner", "alice").strip()
    memory = cli("add", "Alice once owned a red bicycle.", "-u", "alice", "-c", cube).strip()
    created_at = json.loads(cli("history", memory, "-u", "alice", "--json"))[0]["occurred_at"]
    config = tmp_path / "policies.toml"
    config.write_text("[archive]\nttl_days = 10\n")
    quiet = cli("scheduler", "run", "--once", "--config", str(config), "--now", str(created_at + 5 * DAY_MS))
    assert '"archive"' not in quiet
    ran = cli("scheduler", "run", "--once", "--config", str(config), "--now", str(created_at + 11 * DAY_MS))
    assert 'decided {"archive": 1}' in ran and memory in ran and "(policy archive-ttl)" in ran
    explained = cli("explain", memory, "-u", "alice")
    assert "is archived" in explained and "by mos-scheduler" in explained and "ttl_days=10.0" in explained
    assert json.loads(cli("explain", memory, "-u", "alice", "--json"))["state"] == "archived"


def test_an_impossible_policy_file_is_rejected_before_any_decision(tmp_path, mos_cli):
    config = tmp_path / "policies.toml"
    config.write_text("[archive]\nttl_days = -3\n")
    result = mos_cli.invoke("scheduler", "run", "--once", "--config", str(config))
    assert result.exit_code == 1 and "archive.ttl_days must be > 0, got -3" in result.stderr
