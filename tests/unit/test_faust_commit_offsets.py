"""The Faust worker's committed offset over MOS's transactional log (`streams/faust_offsets.py`).

Each append is a Kafka transaction whose commit marker takes an offset the consumer never
receives. Faust notes each such hole as a gap when the next record arrives (as its fetch
loop `_drain_messages` does: `_add_gap(tp, previous + 1, offset)` when offsets jump) and
fills gaps in when it computes the offset to commit (`_new_offset`)."""

from __future__ import annotations

import asyncio

import faust
import pytest
from faust.types import TP

from streams.faust_offsets import install

EVENTS = TP("events", 0)
# Three transactions of five records; offsets 5 and 11 are their commit markers.
RECORDS = [*range(0, 5), *range(6, 11), *range(12, 17)]


async def _nothing(*_args) -> None:
    return None


def _commits(processed: list[int]) -> list[int | None]:
    """The offsets the consumer would commit, call after call, once RECORDS have arrived and
    `processed` of them are done (acked)."""
    install()

    async def run() -> list[int | None]:
        app = faust.App("offsets-spec", broker="kafka://127.0.0.1:1", store="memory://", web_enabled=False)
        consumer = app.transport.create_consumer(callback=_nothing, on_partitions_revoked=_nothing,
                                                 on_partitions_assigned=_nothing)
        previous = None
        for offset in RECORDS:  # what the fetch loop does as each record arrives (`gap > 1 and r_offset`)
            if previous and offset - previous > 1:
                await consumer._add_gap(EVENTS, previous + 1, offset)
            previous = offset
        consumer._acked[EVENTS] = list(processed)
        commits = []
        for _ in range(3):
            commits.append(consumer._new_offset(EVENTS))
            if commits[-1] is not None:
                consumer._committed_offset[EVENTS] = commits[-1]
        return commits

    return asyncio.run(run())


def test_one_commit_passes_every_processed_transaction_and_its_marker():
    assert _commits(RECORDS) == [17, None, None]  # faust-streaming 0.15.3 alone: 7, 13, 17


def test_a_commit_stops_before_the_first_record_not_processed():
    assert _commits([o for o in RECORDS if o < 12]) == [11, None, None]


@pytest.mark.parametrize("done", [3, 8, 14])
def test_a_record_not_processed_is_never_committed_past(done):
    processed = RECORDS[:done]
    assert all(commit is None or commit <= processed[-1] + 1 for commit in _commits(processed))
