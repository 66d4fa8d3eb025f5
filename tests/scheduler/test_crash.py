"""SIGKILL the scheduler (with the model runtime) mid-decision and mid-build, over and over:
no promotion ever lacks its event, no event ever points at a missing artifact, and the end
state equals that of a run that was never killed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mos import MOS
from mos.domain.events import ArtifactBuilt, ArtifactDropped, MemoriesMerged, MemoryCreated
from mos.domain.artifacts import rebuild_registry
from mos.embedders.hashing import HashingEmbedder
from model_runtime.artifact_store import DirectoryArtifactStore

DAY_MS = 86_400_000
NOW = 1_780_000_000_000
POLICIES = """
[activation]
min_heat = 3.0
stable_for_hours = 0
demote_below = 0.5
[parametric]
min_heat = 5.0
hot_for_days = 0
demote_below = 1.0
[archive]
ttl_days = 30
"""


class Clock:
    now = NOW - 40 * DAY_MS

    def __call__(self):
        return self.now


def prepare(directory: Path) -> dict:
    clock = Clock()
    with MOS(directory, embedder=HashingEmbedder(), clock=clock) as mos:
        mos.create_user("alice")
        cube = mos.create_cube("crash", owner="alice")
        cold = mos.add_many([{"text": f"An old note number {i} about topic {i * 7}."} for i in range(10)], "alice", cube)
        clock.now = NOW - DAY_MS
        hot = mos.add_many([{"text": f"Alice's current project {i} is due in week {i + 10}."} for i in range(8)],
                           "alice", cube)
        twins = mos.add_many([{"text": f"Reminder {i}: renew the passport before the trip"} for i in range(4)] +
                             [{"text": f"reminder {i}: renew the passport before the trip!"} for i in range(4)],
                             "alice", cube)
        clock.now = NOW - 3_600_000
        mos._access.record([(m, cube) for m in hot for _ in range(12)], "alice")
        mos._access.record([(m, cube) for m in twins], "alice")
        mos.flush_access()
    return {"cold": cold, "hot": hot, "twins": twins}


def run_scheduler(directory: Path, model_dir: Path, policies: Path) -> subprocess.Popen:
    env = {**os.environ, "MOS_DATA_DIR": str(directory), "MOS_EMBEDDER": "hashing", "MOS_MODEL": str(model_dir)}
    return subprocess.Popen([sys.executable, "-m", "mos", "scheduler", "run", "--once", "--now", str(NOW),
                             "--build", "--config", str(policies)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def head(directory: Path) -> int:
    import sqlean

    with sqlean.connect(f"file:{directory / 'events.db'}?mode=ro", uri=True) as db:
        return db.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def outcome(directory: Path, memories: dict) -> dict:
    with MOS(directory, embedder=HashingEmbedder(), record_access=False) as mos:
        events = [r.event for r in mos.log.read(0, limit=100_000)]
        originals = {m: (mos.get(m, "alice").state, tuple(sorted(mos.get(m, "alice").metadata)))
                     for group in memories.values() for m in group}
        tiers = {m: mos._backend.index.documents([m])[m].tiers for group in memories.values() for m in group}
        registry = rebuild_registry(events)
    store = DirectoryArtifactStore(directory / "artifacts")
    for artifact in registry.live.values():
        manifest, _ = store.open(artifact.artifact_id)  # present and verified against its hashes
        assert manifest.content_hash == artifact.content_hash
    assert sorted(store.ids()) == sorted(a.artifact_id for a in registry.live.values())
    assert not list((directory / "artifacts").glob(".staging-*"))
    targets = {e.memory_id for e in events if isinstance(e, MemoryCreated) and e.derived_from}
    for merged in (e for e in events if isinstance(e, MemoriesMerged)):
        assert merged.target_memory_id in targets  # a merge never lands without its target
    built = [e for e in events if isinstance(e, ArtifactBuilt)]
    dropped = {e.artifact_id for e in events if isinstance(e, ArtifactDropped)}
    return {"memories": originals, "tiers": tiers, "merge_targets": len(targets),
            "live": sorted((a.tier, a.content_hash, tuple(sorted(a.source_memory_ids)))
                           for a in registry.live.values()),
            "built_not_dropped": len([e for e in built if e.artifact_id not in dropped])}


@pytest.mark.slow
def test_killing_the_scheduler_mid_decision_and_mid_build_loses_and_breaks_nothing(tmp_path, tiny_model_dir):
    policies = tmp_path / "policies.toml"
    policies.write_text(POLICIES)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    memories = prepare(killed)
    shutil.copytree(killed, clean)
    start = head(killed)

    kills = 0
    for grown in (1, 12, 30):  # kill after the log grew by this many events (or during the build)
        process = run_scheduler(killed, tiny_model_dir, policies)
        deadline = time.monotonic() + 120
        while process.poll() is None and time.monotonic() < deadline:
            staging = list((killed / "artifacts").glob(".staging-*")) if (killed / "artifacts").exists() else []
            if head(killed) - start >= grown or staging:
                os.kill(process.pid, signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.01)
        process.wait(30)
    final = run_scheduler(killed, tiny_model_dir, policies)
    assert final.wait(180) == 0, final.stderr.read().decode()
    reference = run_scheduler(clean, tiny_model_dir, policies)
    assert reference.wait(180) == 0, reference.stderr.read().decode()

    assert kills >= 2
    after_kills, uninterrupted = outcome(killed, memories), outcome(clean, memories)
    assert [(t, h) for t, h, _ in after_kills["live"]] == [(t, h) for t, h, _ in uninterrupted["live"]]
    assert after_kills == uninterrupted
    assert {t for m in memories["hot"] for t in uninterrupted["tiers"][m]} == {"activation", "parametric"}
    assert all(uninterrupted["memories"][m][0] == "archived" for m in memories["cold"])
    assert uninterrupted["merge_targets"] == 4 and len(uninterrupted["live"]) == 2


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    from model_runtime.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("model") / "tiny-llama")
