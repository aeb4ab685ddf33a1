"""The report fan-out on the real Temporal dev server: 300 targets with time skipping (on time,
late and missing counted right, notices once each), and a worker crash in mid fan-out."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from temporalio import activity
from temporalio.client import WorkflowExecutionStatus
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from services.audit.models import AuditEntry
from services.db import utcnow
from services.incoming.models import IncomingDocument
from services.outbox.models import OutboxCommand
from services.outgoing.models import OutgoingRecipient
from services.outgoing.service import outgoing_ref
from services.reports import service as reports
from services.reports.models import ReportTarget
from tests.helpers import send, wait_for
from tests.reports.factory import (
    bulk_orgs,
    create_request,
    own_workflow_ids,
    principal,
    pydantic_client,
    submit,
    targets_by,
    tracking,
    worker_for,
    workflow_of,
)
from workflows.reports.workflows import ReportRequestWorkflow, RequestInput


async def _targets_changed(client, settings, request_id: int, organization_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    for oid in organization_ids:
        await send(client, settings, "report-target", request_id, "changed", oid)


class HoldDeliveries(Interceptor):
    """Lets the first `after` batch deliveries of request `request_id` through; the next one
    delivers its targets, but its answer never reaches Temporal: it is held until the worker is
    killed, so the crash falls in mid fan-out, after the work and before its record, however fast
    or slow the machine is."""

    def __init__(self, request_id: int, after: int) -> None:
        self.request_id, self.after, self.started, self.held = request_id, after, 0, asyncio.Event()

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        gate = self

        class Hold(ActivityInboundInterceptor):
            async def execute_activity(self, input: ExecuteActivityInput) -> object:
                result = await self.next.execute_activity(input)
                if activity.info().activity_type == "report_deliver_batch" and input.args[0].request_id == gate.request_id:
                    gate.started += 1
                    if gate.started > gate.after:
                        gate.held.set()
                        await asyncio.Event().wait()  # until the worker's shutdown cancels it
                return result

        return Hold(next)


async def _count(database, action: str) -> int:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)) or 0


async def _delivered(database, request_id: int) -> int:  # type: ignore[no-untyped-def]
    async with database.read() as session:  # polled while the fan-out writes: no write lock
        return (
            await session.scalar(
                select(func.count())
                .select_from(ReportTarget)
                .where(ReportTarget.request_id == request_id, ReportTarget.delivered_at.is_not(None))
            )
            or 0
        )


async def test_request_to_300_organisations_counts_on_time_late_and_missing(temporal_env, demo_db_sqlite, settings) -> None:
    client = pydantic_client(temporal_env.client)
    db = demo_db_sqlite
    own_workflow_ids(settings)
    orgs = await bulk_orgs(db, 300)
    officer = await principal(db, "bulk.officer")
    settings.report_fanout_batch = 100
    # Issuing the letter queues "start the request's workflow" in the outbox. This test starts it
    # itself, with a low history limit that makes the parent continue as new during the fan-out,
    # so that command is taken off the outbox before the worker's relay could race the start.
    req = await create_request(db, settings, orgs, deadline=utcnow() + timedelta(days=3))
    async with db.session() as session:
        await session.execute(
            update(OutboxCommand)
            .where(OutboxCommand.kind == "report-request", OutboxCommand.object_id == req.id)
            .values(delivered_at=utcnow())
        )
    began = time.monotonic()
    async with worker_for(client, settings, db):
        with temporal_env.with_time_skipping_disabled():
            await client.start_workflow(
                ReportRequestWorkflow.run,
                RequestInput(request_id=req.id, history_limit=400),
                id=workflow_of(settings, req.id),
                task_queue=settings.task_queue,
            )
        parent = client.get_workflow_handle(workflow_of(settings, req.id))
        await wait_for(lambda: _delivered_all(db, req.id, 300), timeout=400)
        fanned_out = time.monotonic() - began
        print(f"\nfan-out {fanned_out:.1f}s")

        on_time, late, missing = orgs[:200], orgs[200:250], orgs[250:]
        for oid in on_time:
            await submit(db, settings, req.id, oid, officer)
        await _targets_changed(client, settings, req.id, on_time)
        print(f"on-time submitted {time.monotonic() - began:.1f}s")

        # The 100 without a report live through their deadline: reminder, overdue, escalation. The
        # request's workflow keeps its targets' deadlines itself (no child per target): its clock.
        await wait_for(lambda: tracking(parent, 100), timeout=120)
        await temporal_env.fast_forward(parent, timedelta(days=5))
        await wait_for(lambda: _at_least(db, "report.escalate", 100), timeout=240)
        print(f"escalated {time.monotonic() - began:.1f}s")

        deadline = (await targets_by(db, req.id))[late[0]].deadline
        for oid in late:
            await submit(db, settings, req.id, oid, officer, at=deadline + timedelta(hours=30))
        await _targets_changed(client, settings, req.id, late)

        lan = await principal(db, "lan.nguyen")
        async with db.session() as session:
            waiting = await reports.close(session, principal=lan, request_id=req.id, reason="Tổng hợp số liệu.")
        assert sorted(waiting) == sorted(missing)
        await send(client, settings, "report-request", req.id, "wake")
        result = await parent.result()
        total_time = time.monotonic() - began
        state = await parent.query(ReportRequestWorkflow.progress)

    assert result == "closed:200/50/50"
    async with db.session() as session:
        stats = await reports.progress(session, request_id=req.id)
    assert (stats.total, stats.submitted, stats.on_time, stats.late, stats.missing) == (300, 250, 200, 50, 50)
    # Each notice once per target that needed it, none for the punctual ones.
    assert [await _count(db, a) for a in ("report.remind", "report.overdue", "report.escalate")] == [100, 100, 100]
    assert state.runs > 1, "the parent should have continued as new"
    async with db.session() as session:
        copies = await session.scalar(
            select(func.count()).select_from(IncomingDocument).where(IncomingDocument.outgoing_ref == outgoing_ref(req.letter_outgoing_id))
        )
    assert copies == 300
    assert not [wf async for wf in client.list_workflows(f"WorkflowId STARTS_WITH '{workflow_of(settings, req.id)}-'")], (
        "no child workflows"
    )
    print(f"\n300 targets: fan-out delivered in {fanned_out:.1f}s, whole flow {total_time:.1f}s, parent runs {state.runs}")


async def _delivered_all(db, request_id: int, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await _delivered(db, request_id) >= n


async def _at_least(db, action: str, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await _count(db, action) >= n


async def test_a_worker_crash_during_fanout_creates_no_duplicate_and_loses_no_target(temporal_env, demo_db_sqlite, settings) -> None:
    client = pydantic_client(temporal_env.client)
    db = demo_db_sqlite
    own_workflow_ids(settings)
    orgs = await bulk_orgs(db, 200)
    settings.report_fanout_batch = 20
    req = await create_request(db, settings, orgs, deadline=utcnow() + timedelta(days=3))
    with temporal_env.with_time_skipping_disabled():
        gate = HoldDeliveries(req.id, after=1)
        async with worker_for(client, settings, db, interceptors=[gate]) as first:
            await send(client, settings, "report-request", req.id, None)
            await asyncio.wait_for(gate.held.wait(), timeout=240)
            crashed_at = await _delivered(db, req.id)
        # The worker is gone in the middle of the fan-out, its second batch delivered but not
        # recorded; a new one (same queue) delivers that batch again: it must find it done.
        assert crashed_at == 40
        queue = settings.task_queue
        from workflows.context import ActivityContext
        from workflows.worker import build_worker

        async with build_worker(client, task_queue=queue, context=ActivityContext(settings, db)):
            await wait_for(lambda: _delivered_all(db, req.id, 200), timeout=400)
            parent = client.get_workflow_handle(workflow_of(settings, req.id))
            await wait_for(lambda: tracking(parent, 200), timeout=120)  # every target's deadlines, once each
            lan = await principal(db, "lan.nguyen")
            async with db.session() as session:
                await reports.close(session, principal=lan, request_id=req.id)
            await send(client, settings, "report-request", req.id, "wake")
            assert await parent.result() == "closed:0/0/200"
    assert sorted((await targets_by(db, req.id)).keys()) == sorted(orgs)
    async with db.session() as session:
        copies = await session.scalar(
            select(func.count()).select_from(IncomingDocument).where(IncomingDocument.outgoing_ref == outgoing_ref(req.letter_outgoing_id))
        )
    assert copies == 200
    _ = first


async def test_a_target_that_cannot_be_delivered_ends_undeliverable_and_the_batch_goes_on(temporal_env, demo_db_sqlite, settings) -> None:
    """The parent delivers a batch in one activity: a target refused by the services (here: the
    letter no longer lists it) is rolled back alone and not tracked; the others get their copies
    and their deadlines are kept while they wait for their reports."""
    client = pydantic_client(temporal_env.client)
    db = demo_db_sqlite
    own_workflow_ids(settings)
    orgs = await bulk_orgs(db, 3)
    req = await create_request(db, settings, orgs, deadline=utcnow() + timedelta(days=3))
    async with db.session() as session:
        await session.execute(
            delete(OutgoingRecipient).where(
                OutgoingRecipient.document_id == req.letter_outgoing_id, OutgoingRecipient.organization_id == orgs[1]
            )
        )
    with temporal_env.with_time_skipping_disabled():
        async with worker_for(client, settings, db):
            await send(client, settings, "report-request", req.id, None)
            handle = client.get_workflow_handle(workflow_of(settings, req.id))
            await wait_for(lambda: _delivered_all(db, req.id, 2), timeout=120)
            await wait_for(lambda: tracking(handle, 2), timeout=120)
            assert set(await handle.query(ReportRequestWorkflow.next_notices)) == {orgs[0], orgs[2]}
            parent = await handle.describe()
            assert parent.status == WorkflowExecutionStatus.RUNNING
    async with db.read() as session:
        copies = await session.scalars(
            select(IncomingDocument.organization_id).where(IncomingDocument.outgoing_ref == outgoing_ref(req.letter_outgoing_id))
        )
        assert sorted(copies) == sorted([orgs[0], orgs[2]])
    assert (await targets_by(db, req.id))[orgs[1]].delivered_at is None


async def test_a_new_deadline_moves_every_waiting_targets_next_notice(temporal_env, demo_db_sqlite, settings) -> None:
    """The request's workflow keeps its targets' deadlines: extended, each waiting target's next
    notice moves to the new deadline's ladder; a target whose report is in is tracked no more."""
    client = pydantic_client(temporal_env.client)
    db = demo_db_sqlite
    own_workflow_ids(settings)
    orgs = await bulk_orgs(db, 3)
    officer = await principal(db, "bulk.officer")
    req = await create_request(db, settings, orgs, deadline=utcnow() + timedelta(days=3))
    with temporal_env.with_time_skipping_disabled():
        async with worker_for(client, settings, db):
            await send(client, settings, "report-request", req.id, None)
            parent = client.get_workflow_handle(workflow_of(settings, req.id))
            await wait_for(lambda: tracking(parent, 3), timeout=120)
            before = await parent.query(ReportRequestWorkflow.next_notices)
            assert {notice.split("@")[0] for notice in before.values()} == {"reminder"}

            await submit(db, settings, req.id, orgs[0], officer)
            await _targets_changed(client, settings, req.id, orgs[:1])  # through the relay, as the pages do
            await wait_for(lambda: tracking(parent, 2), timeout=120)

            lan = await principal(db, "lan.nguyen")
            new_deadline = utcnow() + timedelta(days=10)
            async with db.session() as session:
                await reports.extend(session, principal=lan, request_id=req.id, deadline=new_deadline, reason="Gia hạn theo đề nghị.")
            await send(client, settings, "report-request", req.id, "deadline_changed")

            async def moved() -> dict[int, str] | None:
                now = await parent.query(ReportRequestWorkflow.next_notices)
                return now if now and all(now[oid] != before[oid] for oid in now) else None

            after = await wait_for(moved, timeout=120)
            assert set(after) == set(orgs[1:])
            reminders = {datetime.fromisoformat(notice.split("@")[1]) for notice in after.values()}
            expected = new_deadline - timedelta(hours=settings.report_reminder_hours)
            assert all(abs((r - expected).total_seconds()) < 1 for r in reminders), (reminders, expected)
