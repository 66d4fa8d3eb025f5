"""A private asyncio loop on a daemon thread, so synchronous ports can use async clients."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable


class BackgroundLoop:
    def __init__(self, name: str):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coroutine: Awaitable[Any], timeout: float | None = 120.0) -> Any:
        """Run `coroutine` on the loop and wait for its result (exceptions propagate)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
