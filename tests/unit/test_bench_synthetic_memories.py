"""bench/search_scale.py fills the search index and the graph in two passes over the same
synthetic memories: if the two passes named different memories, no search hit would have a
graph neighbour and the benchmark would time a graph read that finds nothing."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from pipeline import synthetic_events, synthetic_memory_id  # noqa: E402

from projections.graph_projection import project_graph  # noqa: E402
from projections.search_projection import project_search  # noqa: E402


def test_two_passes_name_the_same_memories_in_the_index_and_the_graph():
    indexed = {w.memory_id for e in synthetic_events(6, "cube0", seed=40) for w in project_search(e)}
    graphed = {w.node_id.removeprefix("memory:") for e in synthetic_events(6, "cube0", seed=40)
               for w in project_graph(e) if getattr(w, "kind", None) == "Memory"}
    assert len(indexed) == 6 and indexed == graphed


def test_ids_are_time_ordered_uuid7_unique_across_seeds():
    ids = [synthetic_memory_id(seed, i) for seed in (0, 2, 10**9) for i in range(5)]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(m).version == 7 for m in ids)
    assert [synthetic_memory_id(7, i) for i in range(5)] == sorted(synthetic_memory_id(7, i) for i in range(5))
    with pytest.raises(ValueError):
        synthetic_memory_id(2**31, 0)


def test_the_dialogue_alternates_speakers():
    events = synthetic_events(4, "cube0")
    assert [e.metadata_json for e in events] == ['{"speaker": "Alice"}', '{"speaker": "Bob"}'] * 2
