"""Make the Faust worker's committed offset keep up with what the worker has processed.

Each MOS append is one Kafka transaction, and its commit marker takes an offset no consumer
ever receives. Faust records such a hole as a gap when the next record X arrives and fills
the gaps in when it commits (`Consumer._new_offset`). faust-streaming 0.15.3 records the
hole as `_add_gap(tp, previous + 1, X)`, an interval that ends at X inclusive, so X lands in
the acked list twice (from the gap, and when processed). `_new_offset` commits the first run
of consecutive offsets, and a repeated offset ends a run: each commit moved past one
transaction only, one per commit interval (0.5 s). Under `bench/load.py` the committed
offset — Kafka's consumer lag, what lag alerts watch — trailed the read models by up to
6,562 offsets and reached the log end 203 s after them; a restarted worker re-reads that
span. (The gap also counted X as processed before it was; only a later acked record would
have let a commit pass it.)

`install()` narrows the gap to the hole itself: previous + 1 .. X - 1.
"""

from __future__ import annotations

from faust.transport.consumer import Consumer

_MARK = "_mos_gap_is_the_hole"


def install() -> None:
    if getattr(Consumer, _MARK, False):
        return
    original = Consumer._add_gap

    async def add_gap(self, tp, offset_from: int, offset_to: int) -> None:
        await original(self, tp, offset_from, offset_to - 1)  # offset_to is the record that arrived

    Consumer._add_gap = add_gap
    setattr(Consumer, _MARK, True)
