"""The model runtime as a log consumer: promotion events in, artifacts + ArtifactBuilt out.

The lifecycle tests run on both backends (embedded SQLite log, and Kafka + ES + Neo4j)."""

from __future__ import annotations

import pytest

from mos.domain.errors import InvalidInput, InvalidTransition, NotFound
from mos.domain.events import ArtifactBuilt, ArtifactDropped, MemoryCreated, MemoryPromoted

from .conftest import seed_memories


def _artifact_events(mos):
    return [r.event for r in mos.log.read(0, limit=100_000) if isinstance(r.event, (ArtifactBuilt, ArtifactDropped))]


def _store(mos):
    from model_runtime.artifact_store import DirectoryArtifactStore

    return DirectoryArtifactStore(mos._models.artifacts_dir)


def test_promotion_builds_a_kv_cache_and_records_it_with_lineage(mos_llm):
    cube, ids = seed_memories(mos_llm)
    mos_llm.promote(ids[:3], "alice", "activation", reason="hot set")
    report = mos_llm.build_artifacts()
    [built] = _artifact_events(mos_llm)
    assert report.built == [built.artifact_id]
    assert built.kind == "kv_cache" and built.tier == "activation" and built.cube_id == cube
    assert sorted(built.source_memory_ids) == sorted(ids[:3])
    created = {e.memory_id: e.event_id for e in (r.event for r in mos_llm.log.read(0, limit=1000))
               if isinstance(e, MemoryCreated)}
    assert sorted(built.source_event_ids) == sorted(created[m] for m in ids[:3])
    promotions = [r.event for r in mos_llm.log.read(0, limit=1000) if isinstance(r.event, MemoryPromoted)]
    assert built.provenance.causation_id == promotions[-1].event_id
    manifest, _ = _store(mos_llm).open(built.artifact_id)
    assert (manifest.manifest_hash, manifest.content_hash) == (built.manifest_hash, built.content_hash)
    assert [a.artifact_id for a in mos_llm.artifacts("alice")] == [built.artifact_id]
    assert mos_llm.build_artifacts().built == []  # nothing changed: nothing rebuilt


def test_demotion_drops_the_artifact_and_records_the_drop(mos_llm):
    _, ids = seed_memories(mos_llm)
    mos_llm.promote(ids[:2], "alice", "activation")
    [built_id] = mos_llm.build_artifacts().built
    mos_llm.demote(ids[:2], "alice", "activation", reason="cooled down")
    report = mos_llm.build_artifacts()
    assert report.dropped == [built_id] and report.built == []
    dropped = _artifact_events(mos_llm)[-1]
    assert isinstance(dropped, ArtifactDropped) and dropped.artifact_id == built_id
    assert not _store(mos_llm).exists(built_id)
    assert mos_llm.artifacts("alice") == []


def test_changing_a_promoted_set_supersedes_the_artifact(embedded_llm):
    _, ids = seed_memories(embedded_llm)
    embedded_llm.promote(ids[:2], "alice", "activation")
    [first] = embedded_llm.build_artifacts().built
    embedded_llm.update(ids[0], "alice", text="Alice moved to Porto in June 2024.")
    report = embedded_llm.build_artifacts()
    [second] = report.built
    assert report.dropped == [first] and second != first
    built, dropped = _artifact_events(embedded_llm)[-2:]
    assert built.replaces_artifact_id == first and dropped.reason == f"superseded by {second}"
    embedded_llm.archive(ids[1], "alice")
    embedded_llm.archive(ids[0], "alice")
    assert embedded_llm.build_artifacts().dropped == [second]  # archived memories leave the set


def test_replaying_the_log_rebuilds_byte_identical_artifacts(embedded_llm, tmp_path):
    _, ids = seed_memories(embedded_llm)
    embedded_llm.promote(ids[:4], "alice", "activation")
    embedded_llm.promote(ids[2:5], "alice", "parametric")
    assert len(embedded_llm.build_artifacts().built) == 2
    results = embedded_llm.rebuild_artifacts(into=tmp_path / "replayed")
    assert len(results) == 2 and all(r.identical for r in results)
    for result in results:
        originals = _store(embedded_llm).root / result.artifact_id
        for original in originals.iterdir():
            assert (tmp_path / "replayed" / result.artifact_id / original.name).read_bytes() == original.read_bytes()


def test_a_build_recorded_nowhere_after_a_crash_is_found_and_recorded_once(embedded_llm, monkeypatch):
    _, ids = seed_memories(embedded_llm)
    embedded_llm.promote(ids[:2], "alice", "parametric")
    runtime = embedded_llm._models.runtime()
    real_append = runtime.log.append

    def crash(events):
        raise KeyboardInterrupt("killed between the build and the append")

    monkeypatch.setattr(runtime.log, "append", crash)
    with pytest.raises(KeyboardInterrupt):
        embedded_llm.build_artifacts()
    assert _artifact_events(embedded_llm) == []
    monkeypatch.setattr(runtime.log, "append", real_append)
    built_calls = []
    original_build = runtime.build
    monkeypatch.setattr(runtime, "build", lambda *a, **k: built_calls.append(1) or original_build(*a, **k))
    report = embedded_llm.build_artifacts()
    assert len(report.built) == 1 and len(_artifact_events(embedded_llm)) == 1
    assert _store(embedded_llm).ids() == report.built


def test_losing_the_runtime_state_rebuilds_it_from_the_log_without_new_artifacts(embedded_llm):
    _, ids = seed_memories(embedded_llm)
    embedded_llm.promote(ids[:2], "alice", "activation")
    embedded_llm.build_artifacts()
    runtime = embedded_llm._models.runtime()
    runtime.state_path.unlink()
    report = embedded_llm.build_artifacts()
    assert report.built == [] and report.dropped == [] and report.events > 0
    assert len(_artifact_events(embedded_llm)) == 1


@pytest.mark.parametrize("memory_ids, target, error, message", [
    ([], "activation", InvalidInput, "non-empty list"),
    ("not-a-list", "activation", InvalidInput, "non-empty list"),
    (["m-unknown"], "activation", NotFound, "unknown memory"),
    ([0, 0], "activation", InvalidInput, "repeat"),
    ([0], "weights", InvalidInput, "promotion target"),
])
def test_bad_promotions_are_rejected_and_append_nothing(embedded_llm, memory_ids, target, error, message):
    _, ids = seed_memories(embedded_llm)
    if isinstance(memory_ids, list):
        memory_ids = [ids[m] if isinstance(m, int) else m for m in memory_ids]
    head = embedded_llm.log.head()
    with pytest.raises(error, match=message):
        embedded_llm.promote(memory_ids, "alice", target)
    assert embedded_llm.log.head() == head


def test_a_batch_with_one_invalid_promotion_appends_none_of_it(embedded_llm):
    _, ids = seed_memories(embedded_llm)
    embedded_llm.archive(ids[1], "alice")
    head = embedded_llm.log.head()
    with pytest.raises(InvalidTransition, match="archived"):
        embedded_llm.promote([ids[0], ids[1]], "alice", "activation")
    with pytest.raises(InvalidTransition, match="not promoted"):
        embedded_llm.demote([ids[0]], "alice", "activation")
    assert embedded_llm.log.head() == head


def test_readers_cannot_promote(embedded_llm):
    cube, ids = seed_memories(embedded_llm)
    embedded_llm.create_user("bob")
    embedded_llm.share_cube(cube, "alice", "bob", "reader")
    from mos.domain.errors import AccessDenied

    with pytest.raises(AccessDenied):
        embedded_llm.promote(ids[:1], "bob", "activation")
