"""The deadline kernel under time skipping: for an incoming document and a task, each rung's
notice goes out exactly once, even when the workflows are told to look again afterwards."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from demo.minutes import add_tasks, write
from services.calendar import vn_today
from services.deadlines.models import DeadlineNotice
from services.notifications.models import Notification
from services.tasks.models import OwnerKind
from tests.helpers import end_earlier_workflows, send, worker_with_relay
from tests.incoming.conftest import direct_to, pydantic_client, register
from tests.minutes.conftest import ITEMS, Plan, hold_meeting
from workflows.incoming.workflows import IncomingWorkflow
from workflows.tasks.workflows import TaskWorkflow

NOTICE_KINDS = {
    "incoming": ("incoming.reminder", "incoming.overdue", "incoming.escalation"),
    "task": ("task.reminder", "task.overdue", "task.escalation"),
}


async def _notices(db, kind: str, object_id: int) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """How many notifications of each rung's kind were sent for the object."""
    link = f"/incoming/{object_id}" if kind == "incoming" else f"/tasks/{object_id}"
    async with db.session() as session:
        rows = (
            await session.execute(
                select(Notification.kind, func.count())
                .where(Notification.link == link, Notification.kind.in_(NOTICE_KINDS[kind]))
                .group_by(Notification.kind)
            )
        ).all()
    return dict(rows)


async def _rows(db, kind: str, object_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return sorted(
            (
                await session.scalars(
                    select(DeadlineNotice.step).where(DeadlineNotice.object_kind == kind, DeadlineNotice.object_id == object_id)
                )
            ).all()
        )


async def test_each_rung_is_sent_once_for_incoming_documents_and_tasks(temporal_env, demo_db_sqlite, settings) -> None:
    db = demo_db_sqlite
    client = pydantic_client(temporal_env)
    await end_earlier_workflows(client, "incoming-", "task-")
    held = await hold_meeting(db, settings, Plan(title="Họp giao ban", items=ITEMS[:1], poll=None, units={}, speeches=[]))
    minutes_id = await write(db, held, {"items": {}})
    (task_id,) = await add_tasks(
        db, minutes_id, held, [(0, "Tổng hợp danh sách hội viên", OwnerKind.user, "thu.le", vn_today() + timedelta(days=8))]
    )
    async with worker_with_relay(client, settings, db, "kernel"):
        with temporal_env.with_time_skipping_disabled():
            doc = await register(db, settings)
            await send(client, settings, "incoming", doc.id)
            await direct_to(db, doc.id, lead="thu.le", due=vn_today() + timedelta(days=6))
            incoming = client.get_workflow_handle(f"incoming-{doc.id}")
            await incoming.signal(IncomingWorkflow.changed)
            await send(client, settings, "task", task_id)
            task = client.get_workflow_handle(f"task-{task_id}")
            await task.execute_update(TaskWorkflow.sync, 1)
        for handle in (incoming, task):  # time skips per workflow on this test server
            await temporal_env.fast_forward(handle, timedelta(days=25))  # type: ignore[attr-defined]
        for _ in range(150):
            if len(await _rows(db, "incoming", doc.id)) == 3 and len(await _rows(db, "task", task_id)) == 3:
                break
            await asyncio.sleep(0.1)
        # Looking again after the last rung sends nothing more.
        with temporal_env.with_time_skipping_disabled():
            await incoming.signal(IncomingWorkflow.changed)
            await task.signal(TaskWorkflow.changed)
            await task.execute_update(TaskWorkflow.sync, 1)
        for handle in (incoming, task):
            await temporal_env.fast_forward(handle, timedelta(days=5))  # type: ignore[attr-defined]
        assert (await incoming.query(IncomingWorkflow.state)).next_deadline is None
        assert (await task.query(TaskWorkflow.state)).next_deadline is None
    assert await _rows(db, "incoming", doc.id) == ["escalation", "overdue", "reminder"]
    assert await _rows(db, "task", task_id) == ["escalation", "overdue", "reminder"]
    assert await _notices(db, "incoming", doc.id) == {kind: 1 for kind in NOTICE_KINDS["incoming"]}
    # A task's escalation may reach more than one leader; each rung still went out once per person.
    task_notices = await _notices(db, "task", task_id)
    assert task_notices["task.reminder"] == task_notices["task.overdue"] == 1 and task_notices["task.escalation"] >= 1
