"""The model runtime in the Faust worker: promotions in Kafka become artifacts on disk and
ArtifactBuilt / ArtifactDropped events back in the log (real Kafka, ES and Neo4j)."""

from __future__ import annotations

from mos.domain.events import ArtifactBuilt, ArtifactDropped
from model_runtime.artifact_store import DirectoryArtifactStore
from model_runtime.tiny_model import build_tiny_model
from tests.pipeline.test_faust_pipeline import (  # noqa: F401 (fixtures)
    app_side_mos,
    close_read_models,
    settings,
    start_worker,
    stop_worker,
    wait_for,
)


def _artifact_events(mos):
    return [r.event for r in mos.log.read(0) if isinstance(r.event, (ArtifactBuilt, ArtifactDropped))]


def test_worker_builds_artifacts_for_promotions_and_drops_them_on_demotion(settings, tmp_path):  # noqa: F811
    model_dir = build_tiny_model(tmp_path / "tiny-llama")
    worker_data = tmp_path / "worker-data"
    store = DirectoryArtifactStore(worker_data / "artifacts")
    with app_side_mos(settings, tmp_path) as mos:
        mos.create_user("alice")
        cube = mos.create_cube("hot", owner="alice")
        ids = mos.add_many([{"text": f"Alice fact {i}: she visited place {i}."} for i in range(5)], "alice", cube)
        # The scheduler is off: its first tick (60 s) would demote these never-accessed
        # promotions as cooled, which on a loaded machine can land inside this test.
        worker = start_worker(settings, tmp_path, MOS_MODEL=str(model_dir), MOS_DATA_DIR=str(worker_data),
                              MOS_RUNTIME_POLL_SECONDS="1", MOS_SCHEDULER_INTERVAL_SECONDS="0")
        try:
            mos.promote(ids[:3], "alice", "activation")
            mos.promote(ids[1:4], "alice", "parametric")
            wait_for(lambda: {e.tier for e in _artifact_events(mos)} == {"activation", "parametric"}, 180,
                     f"ArtifactBuilt events (log: {tmp_path / 'worker.log'})")
            built = {e.tier: e for e in _artifact_events(mos)}
            assert sorted(built["activation"].source_memory_ids) == sorted(ids[:3])
            for event in built.values():
                manifest, _ = store.open(event.artifact_id)
                assert manifest.manifest_hash == event.manifest_hash and manifest.cube_id == cube
            mos.update(ids[0], "alice", text="Alice fact 0 was wrong: she never went there.")
            wait_for(lambda: len([e for e in _artifact_events(mos) if isinstance(e, ArtifactBuilt)]) == 3, 120,
                     "the timer to rebuild the KV cache of the updated memory")
            mos.demote(ids[1:4], "alice", "parametric")
            wait_for(lambda: isinstance(_artifact_events(mos)[-1], ArtifactDropped)
                     and _artifact_events(mos)[-1].tier == "parametric", 120, "ArtifactDropped")
        finally:
            stop_worker(worker)
        assert not store.exists(built["parametric"].artifact_id)
        assert [a.tier for a in mos.artifacts("alice")] == ["activation"]
        assert store.ids() == [mos.artifacts("alice")[0].artifact_id]
