"""asyncio helpers for what the standard library of Python 3.11 gets subtly wrong."""

from __future__ import annotations

import asyncio


async def wait_set(event: asyncio.Event, seconds: float) -> bool:
    """Wait until `event` is set or `seconds` have passed; True when it was set.

    Loops that sleep between rounds wait like this, not with `asyncio.wait_for(event.wait(), …)`:
    on Python 3.11 that returns normally when the task is cancelled in the same step as the
    event is set (python/cpython#86296, fixed in 3.12), so the loop goes on and whoever cancelled
    it and awaits it (a shutdown, a test's teardown) waits forever. `asyncio.timeout` keeps the
    cancellation.
    """
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True
