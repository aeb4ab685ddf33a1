"""Long activities heartbeat through the worker's interceptor: one scheduled with a heartbeat
timeout shorter than its run completes (without the interceptor every attempt times out). That
a SIGKILLed worker's render is retried within the heartbeat timeout is shown by the fault tests
(tests/faults), which kill real worker processes."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

from workflows.heartbeat import HeartbeatInterceptor

RUNS: list[int] = []


@activity.defn
async def slow_render(seconds: float) -> str:
    RUNS.append(activity.info().attempt)
    await asyncio.sleep(seconds)  # like waiting for LibreOffice: no heartbeat of its own
    return "rendered"


@workflow.defn
class SlowRender:
    @workflow.run
    async def run(self, seconds: float) -> str:
        return await workflow.execute_activity(
            slow_render,
            seconds,
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(seconds=2),
            retry_policy=RetryPolicy(maximum_attempts=3),
        )


def _worker(client, queue: str, *, interceptors=()) -> Worker:  # type: ignore[no-untyped-def]
    return Worker(client, task_queue=queue, workflows=[SlowRender], activities=[slow_render], interceptors=list(interceptors))


async def test_an_activity_longer_than_its_heartbeat_timeout_completes(temporal_env) -> None:
    client, queue = temporal_env.client, f"heartbeat-{uuid.uuid4()}"
    RUNS.clear()
    with temporal_env.with_time_skipping_disabled():
        async with _worker(client, queue, interceptors=[HeartbeatInterceptor()]):
            result = await client.execute_workflow(SlowRender.run, 5.0, id=f"slow-{uuid.uuid4()}", task_queue=queue)
    assert result == "rendered" and RUNS == [1]
