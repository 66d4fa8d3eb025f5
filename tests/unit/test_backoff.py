"""Bounded exponential backoff: delays double up to their bound and stay there; retries stop
at the first success, at a non-retryable error, or (when asked) at the deadline."""

from __future__ import annotations

import asyncio
import itertools
import logging

import pytest

from streams.backoff import Backoff, retry_async

log = logging.getLogger(__name__)


def test_delays_double_from_the_initial_delay_up_to_the_bound_and_stay_there():
    assert list(itertools.islice(Backoff(0.5, 4.0).delays(), 7)) == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


def test_a_call_is_retried_until_it_succeeds_with_each_failure_logged(caplog):
    failures = iter([ConnectionError("down"), ConnectionError("still down")])

    async def call():
        exc = next(failures, None)
        if exc:
            raise exc
        return "done"

    with caplog.at_level(logging.WARNING):
        assert asyncio.run(retry_async(call, Backoff(0.001, 0.002), "write", log)) == "done"
    assert [r.retry_in_s for r in caplog.records if hasattr(r, "retry_in_s")] == [0.001, 0.002]


def test_an_error_retry_if_rejects_propagates_at_once():
    calls = []

    async def call():
        calls.append(1)
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        asyncio.run(retry_async(call, Backoff(0.001, 0.001), "write", log,
                                retry_if=lambda exc: isinstance(exc, ConnectionError)))
    assert len(calls) == 1


def test_with_a_deadline_the_last_error_is_raised_once_it_has_passed():
    async def call():
        raise ConnectionError("down for good")

    with pytest.raises(ConnectionError):
        asyncio.run(retry_async(call, Backoff(0.01, 0.02), "write", log, give_up_after_s=0.1))
