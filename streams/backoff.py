"""Bounded exponential backoff: how a stream processor waits out a read model or broker outage.

A projector must not skip an event because the store it writes to is down (the event would
be lost: the log moves on), nor crash (the worker would restart into the same outage), nor
hammer the store while it boots. It retries the same batch after delays that double from
`initial_s` up to `max_s` and then stay there — for as long as the outage lasts, logging
each failure — and resets once a call succeeds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0

    def delays(self) -> Iterator[float]:
        """initial, initial·factor, … capped at max_s, forever."""
        delay = self.initial_s
        while True:
            yield min(delay, self.max_s)
            delay = min(delay * self.factor, self.max_s)


async def retry_async(call: Callable[[], Awaitable[T]], backoff: Backoff, what: str,
                      logger: logging.Logger, give_up_after_s: float | None = None,
                      retry_if: Callable[[BaseException], bool] = lambda exc: True) -> T:
    """`await call()` until it returns; each exception is logged with the next delay.

    Exceptions `retry_if` rejects propagate at once. With `give_up_after_s`, the last
    exception is raised once that much time has passed (callers that must answer someone);
    without, it retries for as long as it takes."""
    loop = asyncio.get_running_loop()
    deadline = None if give_up_after_s is None else loop.time() + give_up_after_s
    failures = 0
    for delay in backoff.delays():
        try:
            result = await call()
        except Exception as exc:  # noqa: BLE001 — filtered by retry_if
            if not retry_if(exc):
                raise
            failures += 1
            if deadline is not None and loop.time() + delay > deadline:
                logger.error("%s failed %d times; giving up: %r", what, failures, exc)
                raise
            logger.warning("%s failed (attempt %d): %r; retrying in %.2f s", what, failures, exc, delay,
                           extra={"attempt": failures, "retry_in_s": delay})
            await asyncio.sleep(delay)
            continue
        if failures:
            logger.warning("%s succeeded after %d failed attempts", what, failures)
        return result
    raise AssertionError("unreachable: delays() is infinite")
