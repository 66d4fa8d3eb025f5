"""The SDK as an app uses it: add, search, get, update, archive, merge, history, sharing."""

from __future__ import annotations

import pytest

from mos import AccessDenied, Conflict, InvalidTransition, NotFound


def test_added_memory_is_searchable_with_signals_metadata_and_provenance(mos, alice_cube):
    memory_id = mos.add("Alice moved to Lisbon in May 2023", "alice", alice_cube,
                        metadata={"source": "chat"}, tags=["move"])
    mos.add("Bob collects vinyl records", "alice", alice_cube)
    hits = mos.search("Lisbon move", "alice")
    top = hits[0]
    assert top.memory_id == memory_id
    assert top.cube_id == alice_cube and top.state == "active"
    assert top.metadata == {"source": "chat"} and top.tags == ("move",)
    assert {"bm25", "vector"} <= set(top.signals)
    assert top.provenance["created_by"] == "alice" and top.provenance["version"] == 1
    assert top.provenance["created_event_id"] == mos.history(memory_id, "alice")[0].event_id


def test_add_many_returns_ids_in_input_order_and_one_event_each(mos, alice_cube):
    head = mos.log.head()
    ids = mos.add_many([{"text": f"fact number {i}", "tags": ["bulk"]} for i in range(25)], "alice", alice_cube)
    assert len(ids) == len(set(ids)) == 25
    assert [r.event.type_name for r in mos.log.read(head)] == ["MemoryCreated"] * 25
    assert {m.memory_id for m in mos.get_all("alice", alice_cube)} == set(ids)


def test_update_changes_text_bumps_version_and_reindexes(mos, alice_cube):
    memory_id = mos.add("The meeting is on Monday", "alice", alice_cube)
    item = mos.update(memory_id, "alice", text="The meeting moved to Thursday")
    assert item.version == 2 and item.text == "The meeting moved to Thursday"
    assert mos.search("Thursday", "alice")[0].memory_id == memory_id
    assert all("Monday" not in h.text for h in mos.search("Monday meeting", "alice"))


def test_stale_expected_version_is_a_conflict_not_an_overwrite(mos, alice_cube):
    memory_id = mos.add("v1 text", "alice", alice_cube)
    mos.update(memory_id, "alice", text="v2 text", expected_version=1)
    with pytest.raises(Conflict):
        mos.update(memory_id, "alice", text="lost update", expected_version=1)
    assert mos.get(memory_id, "alice").text == "v2 text"


def test_archived_memories_are_hidden_unless_asked_for_and_can_be_restored(mos, alice_cube):
    memory_id = mos.add("old phone number 555-0100", "alice", alice_cube)
    mos.archive(memory_id, "alice", reason="outdated")
    assert mos.search("phone number", "alice") == []
    assert mos.search("phone number", "alice", filters={"state": ["archived"]})[0].memory_id == memory_id
    with pytest.raises(InvalidTransition):
        mos.update(memory_id, "alice", text="new")
    assert mos.restore(memory_id, "alice").state == "active"
    assert mos.search("phone number", "alice")[0].memory_id == memory_id


def test_merge_creates_a_target_with_lineage_and_hides_the_sources(mos, alice_cube):
    a = mos.add("Alice likes green tea", "alice", alice_cube, tags=["drinks"])
    b = mos.add("Alice loves green tea in the morning", "alice", alice_cube)
    target = mos.merge([a, b], "alice", text="Alice loves green tea, especially in the morning")
    hits = mos.search("green tea", "alice")
    assert [h.memory_id for h in hits] == [target]
    assert hits[0].provenance["derived_from"] == [a, b] and hits[0].tags == ("drinks",)
    source = mos.get(a, "alice")
    assert source.state == "merged" and source.provenance["merged_into"] == target
    assert [e.type_name for e in mos.history(a, "alice")] == ["MemoryCreated", "MemoriesMerged"]


def test_history_lists_every_event_oldest_first_with_provenance(mos, alice_cube):
    memory_id = mos.add("draft", "alice", alice_cube)
    mos.update(memory_id, "alice", text="final")
    mos.archive(memory_id, "alice")
    events = mos.history(memory_id, "alice")
    assert [(e.type_name, e.version) for e in events] == [
        ("MemoryCreated", 1), ("MemoryUpdated", 2), ("MemoryArchived", 3)]
    assert all(e.provenance.actor == "alice" and e.provenance.correlation_id for e in events)


def test_users_see_only_their_cubes_and_cubes_shared_with_them(mos, alice_cube):
    mos.create_user("bob")
    bob_cube = mos.create_cube("bob-notes", owner="bob")
    mos.add("alice secret: the vault code is 1234", "alice", alice_cube)
    mos.add("bob's grocery list: vault cleaner", "bob", bob_cube)
    assert {h.cube_id for h in mos.search("vault", "bob")} == {bob_cube}
    with pytest.raises(NotFound):
        mos.search("vault", "bob", cube_ids=[alice_cube])
    mos.share_cube(alice_cube, "alice", "bob", role="reader")
    assert {h.cube_id for h in mos.search("vault", "bob")} == {alice_cube, bob_cube}
    assert mos.cubes("bob") == {alice_cube: "reader", bob_cube: "owner"}


def test_a_reader_cannot_write_and_a_stranger_cannot_even_see(mos, alice_cube):
    mos.create_user("bob")
    mos.create_user("eve")
    memory_id = mos.add("shared fact", "alice", alice_cube)
    mos.share_cube(alice_cube, "alice", "bob", role="reader")
    assert mos.get(memory_id, "bob").text == "shared fact"
    with pytest.raises(AccessDenied):
        mos.add("bob tries to write", "bob", alice_cube)
    with pytest.raises(AccessDenied):
        mos.update(memory_id, "bob", text="bob edits")
    with pytest.raises(NotFound):
        mos.get(memory_id, "eve")
    with pytest.raises(NotFound):
        mos.history(memory_id, "eve")
    with pytest.raises(AccessDenied):
        mos.share_cube(alice_cube, "bob", "eve")


def test_a_writer_can_add_to_a_shared_cube(mos, alice_cube):
    mos.create_user("bob")
    mos.share_cube(alice_cube, "alice", "bob", role="writer")
    memory_id = mos.add("bob's contribution", "bob", alice_cube)
    assert mos.get(memory_id, "alice").provenance["created_by"] == "bob"


def test_filters_by_tags_and_metadata(mos, alice_cube):
    work = mos.add("project deadline on Friday", "alice", alice_cube, tags=["work"], metadata={"prio": 1})
    mos.add("party on Friday", "alice", alice_cube, tags=["fun"], metadata={"prio": 2})
    assert [h.memory_id for h in mos.search("Friday", "alice", filters={"tags": ["work"]})] == [work]
    assert [h.memory_id for h in mos.search("Friday", "alice", filters={"metadata": {"prio": 1}})] == [work]


def test_graph_expansion_surfaces_the_next_turn_of_a_conversation(mos, alice_cube):
    question, answer = mos.add_many([{"text": "Tom: what is the name of your new puppy?"},
                                     {"text": "Maya: we called him Biscuit"}], "alice", alice_cube)
    mos.add("unrelated: the train leaves at noon", "alice", alice_cube)
    hits = mos.search("name of the new puppy", "alice", top_k=2)
    assert [h.memory_id for h in hits] == [question, answer]
    assert hits[1].signals.get("graph") and any(v.endswith("NEXT_IN_SESSION") for v in hits[1].expanded_from)


def test_a_second_process_sees_writes_made_through_another_handle(tmp_path):
    from mos import MOS
    from mos.embedders.hashing import HashingEmbedder

    with MOS(tmp_path, embedder=HashingEmbedder()) as writer, MOS(tmp_path, embedder=HashingEmbedder()) as reader:
        writer.create_user("alice")
        cube = writer.create_cube("c", owner="alice")
        memory_id = writer.add("written by the other handle", "alice", cube)
        assert reader.search("other handle", "alice")[0].memory_id == memory_id
