"""A loop that sleeps between rounds stops when cancelled, even when the cancellation arrives in
the same step as its wake-up (Python 3.11's `asyncio.wait_for` loses it: python/cpython#86296)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable

import pytest

from services.aio import wait_set


async def _by_wait_for(event: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(event.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def _goes_on_after_cancel(wait: Callable[[asyncio.Event, float], Awaitable[bool]]) -> bool:
    """Whether a relay-like loop is still running after it was cancelled as its wake-up came."""
    wake = asyncio.Event()

    async def loop() -> None:
        while True:
            await wait(wake, 60)
            wake.clear()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)  # the loop waits
    wake.set()
    task.cancel()  # in the same step: a commit woke it as the shutdown came
    for _ in range(5):
        await asyncio.sleep(0)
    going_on = not task.done()
    task.cancel()  # a second cancel, with no wake-up beside it, ends it either way
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return going_on


async def test_a_cancel_that_comes_with_the_wake_up_stops_the_loop() -> None:
    assert not await _goes_on_after_cancel(wait_set)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="fixed in Python 3.12")
async def test_asyncio_wait_for_loses_that_cancel_on_python_3_11() -> None:
    """Why `wait_set` exists: the same loop with `asyncio.wait_for` goes on after its cancel."""
    assert await _goes_on_after_cancel(_by_wait_for)
