"""The document's workflow on the real Temporal dev server: next actors, reminders, overdue
notices and escalation with time skipping, and a worker killed mid-flow."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from services.audit.models import AuditEntry
from services.calendar import vn_today
from services.incoming import service as incoming
from services.notifications.models import Notification
from tests.helpers import end_earlier_workflows, send
from tests.incoming.conftest import direct_to, principal, pydantic_client, register, user_id, worker_for
from workflows.incoming.workflows import IncomingWorkflow


async def _kinds(database, username: str) -> list[str]:  # type: ignore[no-untyped-def]
    uid = await user_id(database, username)
    async with database.session() as session:
        return list((await session.scalars(select(Notification.kind).where(Notification.user_id == uid).order_by(Notification.id))).all())


async def _count(database, action: str) -> int:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        return await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)) or 0


async def _revision(database, doc_id: int) -> int:  # type: ignore[no-untyped-def]
    from services.incoming.models import IncomingDocument

    async with database.session() as session:
        return (await session.get(IncomingDocument, doc_id)).revision


async def test_flow_reminds_then_escalates_with_time_skipping(temporal_env, demo_db_sqlite, settings) -> None:
    client = pydantic_client(temporal_env)
    await end_earlier_workflows(client, "incoming-")
    db = demo_db_sqlite
    async with worker_for(client, settings, db):
        with temporal_env.with_time_skipping_disabled():
            doc = await register(db, settings, urgency="urgent")
            await send(client, settings, "incoming", doc.id)
            handle = client.get_workflow_handle(f"incoming-{doc.id}")
            await handle.execute_update(IncomingWorkflow.sync, await _revision(db, doc.id))
        assert "incoming.to_direct" in await _kinds(db, "lan.nguyen")
        # Due in 6 days: the reminder, overdue notice and escalation all lie ahead.
        await direct_to(db, doc.id, lead="thu.le", due=vn_today() + timedelta(days=6))
        await handle.signal(IncomingWorkflow.changed)
        await handle.execute_update(IncomingWorkflow.sync, await _revision(db, doc.id))
        assert (await _kinds(db, "thu.le")) == ["incoming.assigned_lead"]
        state = await handle.query(IncomingWorkflow.state)
        assert state.next_deadline == "reminder"
        await temporal_env.fast_forward(handle, timedelta(days=20))
        for _ in range(100):
            if await _count(db, "incoming.escalate"):
                break
            await asyncio.sleep(0.1)
        assert await _kinds(db, "thu.le") == ["incoming.assigned_lead", "incoming.reminder", "incoming.overdue"]
        assert "incoming.escalation" in await _kinds(db, "lan.nguyen")
        lead = await principal(db, "thu.le")
        async with db.session() as session:
            await incoming.complete(session, principal=lead, document_id=doc.id, result="Đã hoàn thành.")
        await handle.signal(IncomingWorkflow.changed)
        assert await handle.result() == "done"
    assert [await _count(db, a) for a in ("incoming.remind", "incoming.overdue", "incoming.escalate")] == [1, 1, 1]


async def test_a_new_worker_finishes_the_flow_with_no_step_done_twice(temporal_env, demo_db_sqlite, settings) -> None:
    client = pydantic_client(temporal_env)
    await end_earlier_workflows(client, "incoming-")
    db = demo_db_sqlite
    with temporal_env.with_time_skipping_disabled():
        async with worker_for(client, settings, db):
            doc = await register(db, settings)
            await send(client, settings, "incoming", doc.id)
            handle = client.get_workflow_handle(f"incoming-{doc.id}")
            await handle.execute_update(IncomingWorkflow.sync, await _revision(db, doc.id))
        queue = settings.task_queue
        # The worker is gone: the leader directs, the handler works; signals wait in Temporal.
        await direct_to(db, doc.id, lead="thu.le", due=vn_today() + timedelta(days=30))
        await send(client, settings, "incoming", doc.id)
        lead = await principal(db, "thu.le")
        async with db.session() as session:
            await incoming.record_progress(session, principal=lead, document_id=doc.id, body="Đang soạn.")
        await send(client, settings, "incoming", doc.id)
        from workflows.context import ActivityContext
        from workflows.worker import build_worker

        async with build_worker(client, task_queue=queue, context=ActivityContext(settings, db)):
            await handle.execute_update(IncomingWorkflow.sync, await _revision(db, doc.id))
            async with db.session() as session:
                await incoming.complete(session, principal=lead, document_id=doc.id, result="Xong.")
            await send(client, settings, "incoming", doc.id)
            assert await handle.result() == "done"
    assert await _kinds(db, "thu.le") == ["incoming.assigned_lead"]
    assert (await _kinds(db, "lan.nguyen")).count("incoming.to_direct") == 1
    assert (await _kinds(db, "lan.nguyen")).count("incoming.done") == 1
    assert await _count(db, "incoming.direct") == 1 and await _count(db, "incoming.complete") == 1
