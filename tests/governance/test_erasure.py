"""Right to erasure on an immutable log: after `erase_user`, no byte of the subject's content is
left in the log, the key store, the read models, the point-in-time snapshots or the artifacts —
checked by grepping the files themselves — while everyone else's memories replay intact.

Runs on both backends. On the real servers the greps cover the Kafka topic's segment files,
Elasticsearch's and Neo4j's data directories (when the project's launcher runs them; servers
elsewhere are out of reach of a file grep, and those checks say so by skipping).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from model_runtime.tiny_model import build_tiny_model
from mos import MOS
from mos.domain.errors import AccessDenied, NotFound
from mos.embedders.hashing import HashingEmbedder

SERVER_VARIABLES = ("MOS_KAFKA_BOOTSTRAP", "MOS_ES_URL", "MOS_NEO4J_URI")


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-llama", seed=0)


@pytest.fixture(params=["embedded", "kafka"])
def world(request, tmp_path, tiny_model_dir):
    """Alice (the data subject), Bob (writes into Alice's cube) and Carol (her own cube, and
    Alice writes there too). Every marker is a made-up word found nowhere else."""
    from tests.conftest import _kafka_backend

    embedder = HashingEmbedder()
    data = tmp_path / "data"
    backend = "embedded" if request.param == "embedded" else _kafka_backend(tmp_path, embedder)
    mos = MOS(data, embedder=embedder, backend=backend, model=tiny_model_dir, record_access=False)
    mos._point_in_time.snapshot_every = 5
    tag = uuid.uuid4().hex[:6]
    markers = {name: f"{name}{tag}" for name in ("zorblaxian", "quintarooz", "vexmoorish", "plumtreeq", "keepme")}
    for user in ("alice", "bob", "carol"):
        mos.create_user(user)
    diary = mos.create_cube("diary", owner="alice")
    team = mos.create_cube("team", owner="carol")
    mos.share_cube(diary, "alice", "bob", "writer")
    mos.share_cube(team, "carol", "alice", "writer")
    ids = {
        "alice_diary": mos.add(f"Alice keeps a {markers['zorblaxian']} diary in Lisbon", "alice", diary,
                               metadata={"mood": markers["vexmoorish"], "session_id": "s1"}, tags=[markers["plumtreeq"]]),
        "alice_second": mos.add("Alice walks by the river", "alice", diary, metadata={"session_id": "s1"}),
        "bob_in_diary": mos.add(f"Bob noted the {markers['quintarooz']} recipe", "bob", diary),
        "alice_in_team": mos.add(f"Alice booked the {markers['zorblaxian']} room", "alice", team),
        "carol": mos.add(f"Carol keeps the {markers['keepme']} budget", "carol", team),
    }
    ids["merged"] = mos.merge([ids["alice_diary"], ids["alice_second"]], "alice")
    mos.promote([ids["merged"]], "alice", "activation")
    for tier in ("activation", "parametric"):
        mos.promote([ids["carol"], ids["alice_in_team"]], "carol", tier)
    mos.build_artifacts()
    mos.search("diary", "alice", as_of=mos.log.head())  # leaves a point-in-time copy on disk
    yield request.param, mos, ids, markers, data
    mos.close()


def files_holding(roots: list[Path], needle: str) -> list[str]:
    found = []
    for root in roots:
        for path in (p for p in root.rglob("*") if p.is_file()) if root.is_dir() else [root]:
            try:
                if needle.encode() in path.read_bytes():
                    found.append(str(path))
            except OSError:
                continue
    return found


def server_dirs(mos: MOS) -> dict[str, list[Path]]:
    from streams.services.common import ServicesHome

    home = ServicesHome.resolve()
    topic = mos.log.config.topic
    return {"kafka": [home.data("kafka") / f"{topic}-0"], "elasticsearch": [home.data("elasticsearch")],
            "neo4j": [home.data("neo4j")]}


def flush_servers(mos: MOS) -> None:
    """Make what the servers hold reach their files, so a grep sees it."""
    index = mos._backend.index
    index._es.indices.flush(index=[index.index, index.checkpoint_index], force=True, wait_if_ongoing=True)


def test_the_log_never_holds_memory_content_in_the_clear(world):
    backend, mos, ids, markers, data = world
    roots = [data / "events.db", data / "events.db-wal"] if backend == "embedded" else server_dirs(mos)["kafka"]
    if backend == "kafka" and any(os.environ.get(v) for v in SERVER_VARIABLES):
        pytest.skip("the Kafka broker is not run by the launcher: its files are out of reach")

    for marker in markers.values():
        assert files_holding(roots, marker) == [], marker
    assert mos.get(ids["carol"], "carol").text.startswith("Carol keeps the")  # yet it reads back


def test_after_erasing_a_user_no_file_holds_their_content_and_the_rest_replays_intact(world):
    backend, mos, ids, markers, data = world
    subject = [markers[m] for m in ("zorblaxian", "quintarooz", "vexmoorish", "plumtreeq")]
    local = [data]
    servers = server_dirs(mos) if backend == "kafka" else {}
    if backend == "kafka":
        flush_servers(mos)
    # The grep is sensitive: before the erasure, the read models hold the subject's words.
    assert files_holding(local + servers.get("elasticsearch", []), markers["zorblaxian"])
    built_from_her = {a.artifact_id for a in mos.artifacts("alice")}
    assert {d.name for d in (data / "artifacts").iterdir() if d.is_dir()} >= built_from_her

    report = mos.erase_user("alice", reason="GDPR art. 17 request #42")

    erased = {ids[k] for k in ("alice_diary", "alice_second", "bob_in_diary", "alice_in_team", "merged")}
    assert set(report.erased) == erased
    assert report.keys_destroyed == len(erased) and report.purged
    assert report.artifacts_built and report.artifacts_dropped  # both tiers' caches rebuilt without her
    for marker in subject:
        assert files_holding(local, marker) == [], marker
    if backend == "kafka":
        if any(os.environ.get(v) for v in SERVER_VARIABLES):
            pytest.skip("servers are not run by the launcher: their files are out of reach of a grep")
        flush_servers(mos)
        for name, roots in servers.items():
            for marker in subject:
                assert files_holding(roots, marker) == [], (name, marker)

    # Nothing of hers is served any more, on any read path.
    assert all(h.memory_id not in erased for h in mos.search(markers["zorblaxian"], "carol"))
    assert all(h.memory_id not in erased for h in mos.search("diary Lisbon recipe room", "bob"))
    for memory_id in erased:
        with pytest.raises(NotFound, match="erased"):
            mos.get(memory_id, "carol" if memory_id == ids["alice_in_team"] else "bob")
    # Every KV cache and adapter built from her memories is gone, files included; Carol's
    # are rebuilt from her memory alone.
    live = mos.artifacts("carol")
    assert {a.tier for a in live} == {"activation", "parametric"}
    assert all(set(a.source_memory_ids) == {ids["carol"]} for a in live)
    on_disk = {d.name for d in (data / "artifacts").iterdir() if d.is_dir()}
    assert on_disk.isdisjoint(built_from_her) and on_disk >= {a.artifact_id for a in live}

    # Carol's memory is untouched, and the log still replays to the same read models.
    assert mos.get(ids["carol"], "carol").text == f"Carol keeps the {markers['keepme']} budget"
    snapshot = (mos._backend.index.snapshot(), mos._backend.graph.snapshot())
    mos.replay()
    assert (mos._backend.index.snapshot(), mos._backend.graph.snapshot()) == snapshot

    # The audit trail keeps that, when and by whom — not what.
    history = mos.history(ids["alice_diary"], "alice")
    assert [e.type_name for e in history] == ["MemoryCreated", "MemoriesMerged", "MemoryErased"]
    assert history[0].content_erased and history[0].text == ""
    assert history[-1].scope == "user" and history[-1].subject_user == "alice"
    assert history[-1].reason == "GDPR art. 17 request #42"


def test_erasing_one_memory_takes_what_was_derived_from_it_and_nothing_else(world):
    backend, mos, ids, markers, data = world

    report = mos.erase_memory(ids["alice_second"], "alice")

    assert report.erased == {ids["alice_second"]: "memory", ids["merged"]: "derived"}
    assert mos.get(ids["bob_in_diary"], "bob").text.startswith("Bob noted")
    with pytest.raises(NotFound):
        mos.get(ids["merged"], "alice")


def test_only_the_cube_owner_or_the_author_may_erase_a_memory_and_a_refusal_changes_nothing(world):
    backend, mos, ids, markers, data = world
    head = mos.log.head()

    with pytest.raises(AccessDenied):
        mos.erase_memory(ids["alice_diary"], "bob")  # a writer of the cube, not its owner nor the author
    with pytest.raises(NotFound):
        mos.erase_memory(ids["carol"], "bob")  # a cube bob cannot see does not exist for him

    assert mos.log.head() == head
    assert mos.erase_memory(ids["bob_in_diary"], "bob").erased == {ids["bob_in_diary"]: "memory"}
    with pytest.raises(NotFound, match="erased"):
        mos.erase_memory(ids["bob_in_diary"], "alice")
