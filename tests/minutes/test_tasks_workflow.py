"""A task's workflow with time skipping: reminder before the due date, overdue notice, then
escalation to the owner's leader; completion ends it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from demo.minutes import add_tasks, principal, write
from services.audit.models import AuditEntry
from services.calendar import vn_today
from services.notifications.models import Notification
from services.tasks import service as tasks
from services.tasks.models import OwnerKind
from tests.helpers import end_earlier_workflows, send
from tests.minutes.conftest import ITEMS, Plan, hold_meeting, pydantic_client, worker_for
from workflows.tasks.workflows import TaskWorkflow, task_workflow_id


async def _kinds(db, user_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return list(
            (
                await session.scalars(
                    select(Notification.kind)
                    .where(Notification.user_id == user_id)
                    .where(Notification.kind.like("task.%"))
                    .order_by(Notification.id)
                )
            ).all()
        )


async def test_task_reminds_then_escalates_to_the_owners_leader(temporal_env, demo_db_sqlite, settings) -> None:
    db = demo_db_sqlite
    client = pydantic_client(temporal_env)
    await end_earlier_workflows(client, "task-")
    held = await hold_meeting(db, settings, Plan(title="Họp giao ban", items=ITEMS[:1], poll=None, units={}, speeches=[]))
    minutes_id = await write(db, held, {"items": {}})
    (task_id,) = await add_tasks(
        db, minutes_id, held, [(0, "Báo cáo kết quả hỗ trợ phụ nữ khởi nghiệp", OwnerKind.user, "thu.le", vn_today() + timedelta(days=10))]
    )
    async with worker_for(client, settings, db):
        with temporal_env.with_time_skipping_disabled():
            await send(client, settings, "task", task_id)
            handle = client.get_workflow_handle(task_workflow_id(task_id))
            await handle.execute_update(TaskWorkflow.sync, 1)
            assert (await handle.query(TaskWorkflow.state)).next_deadline == "reminder"
        assert await _kinds(db, held.users["thu.le"]) == ["task.assigned"]
        await temporal_env.fast_forward(handle, timedelta(days=30))  # type: ignore[attr-defined]
        for _ in range(150):
            async with db.session() as session:
                if await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "task.escalate")):
                    break
            await asyncio.sleep(0.1)
        assert await _kinds(db, held.users["thu.le"]) == ["task.assigned", "task.reminder", "task.overdue"]
        # The owner's leader (Lê Thị Thu's unit head or the body's leader) and the assigner hear of it.
        leader_kinds = await _kinds(db, held.users["lan.nguyen"]) + await _kinds(db, held.users["ngoc.vo"])
        assert "task.escalation" in leader_kinds
        owner = await principal(db, "thu.le")
        async with db.session() as session:
            await tasks.complete(session, principal=owner, task_id=task_id, result="Đã nộp báo cáo.")
        await handle.signal(TaskWorkflow.changed)
        assert await handle.result() == "done"
    async with db.session() as session:
        counts = [
            await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == a))
            for a in ("task.remind", "task.overdue", "task.escalate")
        ]
    assert counts == [1, 1, 1]
