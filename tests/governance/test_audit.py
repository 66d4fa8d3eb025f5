"""Audit: the lineage of a merged-then-promoted memory lists every step, and draws it."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

from tests.model_runtime.conftest import seed_memories
from tests.model_runtime.conftest import embedded_llm, tiny_model, tiny_model_dir  # noqa: F401


def test_lineage_of_a_merged_then_promoted_memory_lists_every_step(embedded_llm):  # noqa: F811
    mos = embedded_llm
    cube, ids = seed_memories(mos)
    mos.update(ids[0], "alice", text="Alice moved to Lisbon in May 2023 with her dog.")
    target = mos.merge(ids[:2], "alice", text="Alice, a nurse, moved to Lisbon in May 2023.")
    mos.promote([target], "alice", "activation", reason="hot")
    [built] = mos.build_artifacts().built
    mos.demote([target], "alice", "activation")
    mos.build_artifacts()

    found = mos.audit(ids[0], "alice")
    assert set(found.memories) == {ids[0], ids[1], target}
    assert set(found.artifacts) == {built} and found.artifacts[built]["live"] is False
    kinds = [(s.subject, s.event_type) for s in found.steps]
    for expected in [(ids[0], "MemoryCreated"), (ids[0], "MemoryUpdated"), (ids[0], "MemoriesMerged"),
                     (ids[1], "MemoriesMerged"), (target, "MemoryCreated"), (target, "MemoryPromoted"),
                     (built, "ArtifactBuilt"), (target, "MemoryDemoted"), (built, "ArtifactDropped")]:
        assert expected in kinds, expected
    assert kinds.index((ids[0], "MemoriesMerged")) < kinds.index((built, "ArtifactBuilt"))
    assert (ids[0], target, "merged into") in found.edges and (target, built, "in activation") in found.edges
    built_step = next(s for s in found.steps if s.event_type == "ArtifactBuilt")
    promoted = next(s for s in found.steps if s.event_type == "MemoryPromoted")
    assert built_step.causation_id == promoted.event_id and built_step.actor == "model-runtime"
    assert all(s.actor and s.source_app and s.event_id for s in found.steps)


def test_audit_cli_prints_the_steps_and_draws_the_lineage(tmp_path, mos_cli):
    cli = mos_cli

    cli("user", "create", "alice")
    cube = cli("cube", "create", "notes", "--owner", "alice").strip()
    first = cli("add", "Alice likes green tea", "-u", "alice", "-c", cube).strip()
    second = cli("add", "Alice likes green tea a lot", "-u", "alice", "-c", cube).strip()
    from mos import MOS
    from mos.embedders.hashing import HashingEmbedder

    with MOS(tmp_path / "data", embedder=HashingEmbedder()) as mos:
        target = mos.merge([first, second], "alice")
    picture = tmp_path / "lineage.svg"
    printed = cli("audit", first, "-u", "alice", "--graph", str(picture))
    assert "MemoriesMerged" in printed and "MemoryCreated" in printed and str(picture) in printed
    svg = ElementTree.fromstring(picture.read_text())
    texts = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    assert first[:13] in texts and second[:13] in texts and target[:13] in texts and "merged into" in texts
    data = json.loads(cli("audit", first, "-u", "alice", "--json"))
    assert set(data["memories"]) == {first, second, target}
    denied = mos_cli.invoke("audit", first, "-u", "mallory")
    assert denied.exit_code == 1 and "NotFound" in denied.stderr
