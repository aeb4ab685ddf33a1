"""Long activities heartbeat, so a worker killed while running one is noticed in seconds.

Without a heartbeat timeout Temporal learns that an activity's worker died only when the
activity's start-to-close timeout runs out: a document whose PDF was being rendered when the
worker was SIGKILLed waited the render's full 3 minutes before another worker tried again (the
fault test caught it). Workflows give such activities `heartbeat_timeout=HEARTBEAT`; this
worker interceptor heartbeats for them while they run, whatever they await (LibreOffice, a
signature, a delivery), so no activity body has to.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

# A dead worker's activity is retried after this instead of after its whole timeout.
HEARTBEAT = timedelta(seconds=20)


class _KeepAlive(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        timeout = activity.info().heartbeat_timeout
        if not timeout or not inspect.iscoroutinefunction(input.fn):
            return await super().execute_activity(input)

        async def beat() -> None:
            while True:
                await asyncio.sleep(timeout.total_seconds() / 4)
                activity.heartbeat()

        beating = asyncio.create_task(beat())
        try:
            return await super().execute_activity(input)
        finally:
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating


class HeartbeatInterceptor(Interceptor):
    """Worker interceptor: activities scheduled with a heartbeat timeout heartbeat while they run."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _KeepAlive(next)
