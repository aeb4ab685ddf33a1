"""A wake that arrives while the request workflow reads the request's state is not forgotten:
the request is closed and the parent woken just after the read took the state "open" — the
workflow must look again at once, not sleep its 12-hour recheck (found by the PostgreSQL fault
test: a worker killed in that window left a completed request's workflow running)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from services.db import utcnow
from services.reports import service as reports
from tests.helpers import send
from tests.reports.factory import bulk_orgs, create_request, own_workflow_ids, principal, pydantic_client, worker_for, workflow_of


class HoldStateAnswer(Interceptor):
    """Lets the parent's first state read once the fan-out is done run, then holds its answer
    until released: the test changes the request and wakes the workflow in between."""

    def __init__(self) -> None:
        self.reads, self.read, self.release = 0, asyncio.Event(), asyncio.Event()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        gate = self

        class Hold(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput) -> object:
                result = await self.next.execute_activity(input)
                if activity.info().activity_type == "report_state":
                    gate.reads += 1
                    if gate.reads == 1:
                        gate.read.set()
                        await gate.release.wait()
                return result

        return Hold(next)


async def test_a_close_announced_during_the_state_read_ends_the_workflow(temporal_env, demo_db_sqlite, settings) -> None:
    client = pydantic_client(temporal_env.client)
    db = demo_db_sqlite
    own_workflow_ids(settings)
    orgs = await bulk_orgs(db, 2, prefix="wake")
    req = await create_request(db, settings, orgs, deadline=utcnow() + timedelta(days=3))
    gate = HoldStateAnswer()
    with temporal_env.with_time_skipping_disabled():  # the 12-hour recheck must not pass by itself
        async with worker_for(client, settings, db, interceptors=[gate]):
            await send(client, settings, "report-request", req.id, None)
            await asyncio.wait_for(gate.read.wait(), timeout=60)
            lan = await principal(db, "lan.nguyen")
            async with db.session() as session:
                await reports.close(session, principal=lan, request_id=req.id)
            # The wake is in the history (send returns once Temporal took it) before the held
            # answer ("open") is released.
            await send(client, settings, "report-request", req.id, "wake")
            gate.release.set()
            result = await asyncio.wait_for(client.get_workflow_handle(workflow_of(settings, req.id)).result(), timeout=60)
    assert result.startswith("closed:")
