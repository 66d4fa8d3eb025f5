"""The whole loop on real servers: searches in the app → MemoryAccessed in Kafka → the
worker's MemScheduler promotes the hot memory and archives the unused ones → the worker's
model runtime builds the KV cache → ArtifactBuilt back in the log."""

from __future__ import annotations

import json

from mos.domain.events import ArtifactBuilt, MemoryAccessed, MemoryArchived, MemoryPromoted
from model_runtime.tiny_model import build_tiny_model
from tests.pipeline.test_faust_pipeline import (  # noqa: F401 (fixtures)
    app_side_mos,
    close_read_models,
    settings,
    start_worker,
    stop_worker,
    wait_for,
)

POLICIES = """
[activation]
min_heat = 3.0
stable_for_hours = 0
demote_below = 0.5
[parametric]
enabled = false
[merge]
enabled = false
[archive]
ttl_days = 0.0003
"""


def _events(mos, kind):
    return [r.event for r in mos.log.read(0) if isinstance(r.event, kind)]


def test_worker_scheduler_promotes_hot_archives_cold_and_runtime_builds_the_cache(settings, tmp_path):  # noqa: F811
    policies = tmp_path / "policies.toml"
    policies.write_text(POLICIES)
    model_dir = build_tiny_model(tmp_path / "tiny-llama")
    with app_side_mos(settings, tmp_path) as mos:
        mos.create_user("alice")
        cube = mos.create_cube("loop", owner="alice")
        hot, *cold = mos.add_many([{"text": "Alice drinks oat milk flat whites every morning."},
                                   {"text": "Bob repaired the garden fence in 2019."},
                                   {"text": "The office plant is a ficus."}], "alice", cube)
        for _ in range(6):
            assert mos.search("oat milk flat whites", "alice", top_k=1)[0].memory_id == hot
        mos.flush_access()
        assert sum(e.count for e in _events(mos, MemoryAccessed)) == 6
        worker = start_worker(settings, tmp_path, MOS_MODEL=str(model_dir), MOS_SCHEDULER_INTERVAL_SECONDS="1",
                              MOS_SCHEDULER_CONFIG=str(policies), MOS_RUNTIME_POLL_SECONDS="1")
        try:
            wait_for(lambda: any(e.memory_id == hot for e in _events(mos, MemoryPromoted)), 120,
                     f"the scheduler's promotion (log: {tmp_path / 'worker.log'})")
            wait_for(lambda: any(hot in e.source_memory_ids for e in _events(mos, ArtifactBuilt)), 120,
                     "the runtime's KV cache")
            wait_for(lambda: {e.memory_id for e in _events(mos, MemoryArchived)} == set(cold), 120,
                     "the scheduler's TTL archives")
        finally:
            stop_worker(worker)
        [promoted] = [e for e in _events(mos, MemoryPromoted) if e.memory_id == hot]
        assert promoted.provenance.actor == "mos-scheduler" and promoted.target == "activation"
        assert json.loads(promoted.reason)["policy"] == "promote-activation"
        assert promoted.provenance.causation_id in {e.event_id for e in _events(mos, MemoryAccessed)}
        [built] = _events(mos, ArtifactBuilt)
        assert built.provenance.causation_id == promoted.event_id and built.tier == "activation"
        assert all(json.loads(e.reason)["policy"] == "archive-ttl" for e in _events(mos, MemoryArchived))
        assert mos.get(hot, "alice").state == "active"
