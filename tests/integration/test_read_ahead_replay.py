"""A replay reads the next batch on a second thread while it applies this one. The batch read
ahead is only a guess at where the read models will stand: it must give the same read models
as reading in turn, and be dropped when a checkpoint moved meanwhile."""

from __future__ import annotations

from mos import MOS
from mos.embedders.hashing import HashingEmbedder
from projections.runner import catch_up_all

DIMENSION = 32


def _filled(path) -> MOS:
    mos = MOS(path, embedder=HashingEmbedder(DIMENSION), record_access=False)
    mos.create_user("alice")
    cube = mos.create_cube("notes", owner="alice")
    ids = mos.add_many([{"text": f"memory {i} about Topic{i % 11} and Place{i % 5}"} for i in range(300)],
                       "alice", cube)
    for memory_id in ids[::40]:
        mos.update(memory_id, "alice", text="rewritten memory about Lisbon")
    for memory_id in ids[3::50]:
        mos.archive(memory_id, "alice")
    mos.merge(ids[1:3], "alice")
    return mos


def _snapshots(mos: MOS) -> tuple:
    return mos._backend.index.snapshot(), mos._backend.graph.snapshot()


def _rebuild(mos: MOS, **options) -> int:
    for runner in mos._backend.runners:
        runner.target.reset()
    return catch_up_all(mos._backend.runners, mos.log, batch_size=37, **options)


def test_reading_ahead_builds_the_same_read_models_as_reading_in_turn(tmp_path):
    with _filled(tmp_path) as mos:
        live = _snapshots(mos)
        assert _rebuild(mos, read_ahead=False) == mos.log.head()
        in_turn = _snapshots(mos)
        assert _rebuild(mos, read_ahead=True) == mos.log.head()
        assert _snapshots(mos) == in_turn == live


class _ResetOnceAfter:
    """A read model that another process resets after it applied its `after`-th batch."""

    def __init__(self, target, after: int):
        self._target, self._after, self._applied = target, after, 0

    def apply(self, writes, next_offset, expected_checkpoint=None):
        self._target.apply(writes, next_offset, expected_checkpoint)
        self._applied += 1
        if self._applied == self._after:
            self._target.reset()

    def __getattr__(self, name):
        return getattr(self._target, name)


def test_a_batch_read_ahead_is_dropped_when_a_read_model_was_reset_meanwhile(tmp_path):
    with _filled(tmp_path) as mos:
        live = _snapshots(mos)
        graph_runner = next(runner for runner in mos._backend.runners if runner.name == "graph")
        graph_runner.target = _ResetOnceAfter(graph_runner.target, after=3)
        _rebuild(mos, read_ahead=True)
        assert mos._backend.graph.checkpoint() == mos.log.head()
        assert _snapshots(mos) == live
