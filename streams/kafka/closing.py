"""Stopping an aiokafka client that a failure made us drop, without cancelling ourselves.

After the broker goes away, aiokafka 0.14's stop can raise a CancelledError that belongs to
none of its callers: `Fetcher.close` cancels its pending fetch tasks and then awaits them,
and a fetch that was sleeping out its retry backoff (it does so outside its own
cancellation handler) ends cancelled, so the await re-raises that cancellation in the task
that called `stop`. An append being retried across a broker restart then failed with
CancelledError instead of waiting the outage out — seen in CI on the fault suite's broker
restart. Only a cancellation of the calling task itself may propagate from here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Protocol

log = logging.getLogger(__name__)


class StoppableClient(Protocol):
    async def stop(self) -> None: ...


def current_task_is_cancelled() -> bool:
    """Whether someone asked to cancel the running task (as opposed to a CancelledError
    leaking out of a library's own background task)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def stop_abandoned(client: StoppableClient, what: str) -> None:
    """Stop `client`, which holds nothing we still need: its failures are logged, not raised.

    When its stop is cut short by a stray cancellation, the connections and metadata task it
    did not reach are closed at the network-client level, so a dropped client leaks no
    socket or background task."""
    if await _settled(client.stop(), f"stopping the {what}"):
        return
    # AIOKafkaConsumer keeps its AIOKafkaClient in `_client`, AIOKafkaProducer in `client`.
    network = getattr(client, "_client", None) or getattr(client, "client", None)
    if network is not None:
        await _settled(network.close(), f"closing the {what}'s connections")


async def _settled(step: Awaitable[None], what: str) -> bool:
    """Await `step`: False if a cancellation not aimed at this task cut it short, else True
    (a failure is logged: the client is being dropped anyway)."""
    try:
        await step
    except asyncio.CancelledError:
        if current_task_is_cancelled():
            raise
        log.debug("%s raised a cancellation of aiokafka's own", what)
        return False
    except Exception:  # noqa: BLE001 — a broken or fenced client holds nothing we need
        log.debug("%s failed", what, exc_info=True)
    return True
