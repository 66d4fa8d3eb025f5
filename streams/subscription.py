"""Following a log by polling `read`: the one `subscribe` every adapter shares."""

from __future__ import annotations

import time
from typing import Callable, Iterator

from mos.domain.events import RecordedEvent


def follow(read: Callable[[int, int], Iterator[RecordedEvent]], from_offset: int, poll_interval: float,
           stop_when_idle: bool) -> Iterator[RecordedEvent]:
    """Yield events from `from_offset` on, waiting `poll_interval` seconds whenever caught up;
    with `stop_when_idle`, return at the first moment nothing new is there."""
    position = from_offset
    while True:
        delivered = False
        for recorded in read(position, 1000):
            delivered = True
            position = recorded.offset + 1
            yield recorded
        if not delivered:
            if stop_when_idle:
                return
            time.sleep(poll_interval)
