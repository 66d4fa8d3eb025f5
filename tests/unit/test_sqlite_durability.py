"""Which embedded files fsync every commit: the log and the keys do; the read models, whose
commits carry their own checkpoint and can be projected again, do not."""

from __future__ import annotations

from mos import MOS
from mos.embedders.hashing import HashingEmbedder

FULL, NORMAL = 2, 1


def _synchronous(connection) -> int:
    return connection.execute("PRAGMA synchronous").fetchone()[0]


def test_the_log_is_fsynced_per_commit_and_the_read_models_are_not(tmp_path):
    with MOS(tmp_path, embedder=HashingEmbedder(), record_access=False) as mos:
        assert _synchronous(mos.log._connection) == FULL
        assert _synchronous(mos._backend.index._db) == NORMAL
        assert _synchronous(mos._backend.graph._db) == NORMAL


def test_a_read_model_commit_lost_with_its_checkpoint_is_projected_again(tmp_path):
    """What a power cut under synchronous=NORMAL can do: roll back the last commits of a read
    model, writes and checkpoint together. The next catch-up re-applies them from the log."""
    with MOS(tmp_path, embedder=HashingEmbedder(), record_access=False) as mos:
        mos.create_user("alice")
        cube = mos.create_cube("notes", owner="alice")
        memory_id = mos.add("the rolled back memory", "alice", cube)
        head = mos.log.head()
        index, graph = mos._backend.index, mos._backend.graph
        index._db.execute("DELETE FROM documents_fts WHERE rowid = (SELECT doc_rowid FROM documents "
                          "WHERE memory_id = ?)", (memory_id,))
        index._db.execute("DELETE FROM documents_vec WHERE rowid = (SELECT doc_rowid FROM documents "
                          "WHERE memory_id = ?)", (memory_id,))
        index._db.execute("DELETE FROM documents WHERE memory_id = ?", (memory_id,))
        index._db.execute("UPDATE checkpoint SET next_offset = ?", (head - 1,))
        assert index.checkpoint() == head - 1 and graph.checkpoint() == head
    with MOS(tmp_path, embedder=HashingEmbedder(), record_access=False) as mos:
        hits = mos.search("rolled back memory", "alice")
        assert [hit.memory_id for hit in hits] == [memory_id]
        assert mos._backend.index.checkpoint() == head
