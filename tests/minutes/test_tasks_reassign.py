"""The assigner reassigns a task (new owner, new due date) and cancels it from the task page: the
owner may not, bad input is refused with nothing changed, the new owner is told and gets the
deadline notices, the workflow follows each change and ends when the task is cancelled."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select

from demo.minutes import add_tasks, write
from services.audit.models import AuditEntry
from services.calendar import vn_today
from services.notifications.models import Notification
from services.tasks.models import OwnerKind, Task, TaskStatus
from tests.helpers import csrf_of, end_earlier_workflows, send, sign_in
from tests.minutes.conftest import ITEMS, Plan, hold_meeting, pydantic_client, worker_for
from workflows.tasks.workflows import TaskWorkflow, task_workflow_id


async def _task(db, task_id: int) -> Task:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await session.get(Task, task_id)


async def _kinds(db, user_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return list(
            (
                await session.scalars(
                    select(Notification.kind)
                    .where(Notification.user_id == user_id, Notification.kind.like("task.%"))
                    .order_by(Notification.id)
                )
            ).all()
        )


async def test_assigner_reassigns_then_cancels_and_the_workflow_follows(temporal_env, demo_db_sqlite, settings, client_for) -> None:
    db = demo_db_sqlite
    client = pydantic_client(temporal_env)
    await end_earlier_workflows(client, "task-")
    held = await hold_meeting(db, settings, Plan(title="Họp giao ban", items=ITEMS[:1], poll=None, units={}, speeches=[]))
    minutes_id = await write(db, held, {"items": {}})
    due = vn_today() + timedelta(days=10)
    (task_id,) = await add_tasks(db, minutes_id, held, [(0, "Tổng hợp ý kiến góp ý dự thảo Nghị quyết", OwnerKind.user, "thu.le", due)])
    page = f"/tasks/{task_id}"
    async with worker_for(client, settings, db):
        with temporal_env.with_time_skipping_disabled():
            await send(client, settings, "task", task_id)
            handle = client.get_workflow_handle(task_workflow_id(task_id))
            await handle.execute_update(TaskWorkflow.sync, 1)

            owner = await client_for(db, temporal_client=client)
            await sign_in(owner, "thu.le")
            assert "Giao lại hoặc đổi hạn" not in (await owner.get(page)).text
            token = await csrf_of(owner, page)
            refused = await owner.post(
                f"{page}/reassign",
                data={"csrf_token": token, "owner": f"user:{held.users['hue.do']}", "due_date": due.isoformat(), "reason": "x"},
            )
            assert refused.status_code == 403

            leader = await client_for(db, temporal_client=client)
            await sign_in(leader, "lan.nguyen")
            detail = await leader.get(page)
            assert "Giao lại hoặc đổi hạn" in detail.text and f'value="user:{held.users["hue.do"]}"' in detail.text
            token = await csrf_of(leader, page)
            hue, thu, earlier = f"user:{held.users['hue.do']}", f"user:{held.users['thu.le']}", (due - timedelta(days=3)).isoformat()
            for owner_value, due_value, reason, message in (
                (hue, (vn_today() - timedelta(days=1)).isoformat(), "Đi công tác.", "quá khứ"),
                (hue, earlier, "", "lý do"),
                (thu, due.isoformat(), "Không đổi gì.", "không thay đổi"),
                ("organization:999999", earlier, "Cơ quan không có.", "không hợp lệ"),
            ):
                response = await leader.post(
                    f"{page}/reassign", data={"csrf_token": token, "owner": owner_value, "due_date": due_value, "reason": reason}
                )
                assert response.status_code == 422 and message in response.text, (message, response.text[:300])
            assert (await _task(db, task_id)).owner_user_id == held.users["thu.le"]

            moved = await leader.post(
                f"{page}/reassign",
                data={
                    "csrf_token": token,
                    "owner": f"user:{held.users['hue.do']}",
                    "due_date": (due - timedelta(days=3)).isoformat(),
                    "reason": "Đồng chí Thu đi công tác.",
                },
            )
            assert moved.status_code == 303
            task = await _task(db, task_id)
            assert (task.owner_user_id, task.due_date) == (held.users["hue.do"], due - timedelta(days=3))
            assert (await handle.execute_update(TaskWorkflow.sync, task.revision)) == "waiting"
            assert (await handle.query(TaskWorkflow.state)).next_deadline == "reminder"
            assert await _kinds(db, held.users["hue.do"]) == ["task.assigned"]
            history = (await leader.get(page)).text  # the history says who had it before
            assert "Lê Thị Thu" in history.split("giao lại / đổi hạn")[1].split("→")[0]

        # The new owner gets the reminder for the new due date.
        await temporal_env.fast_forward(handle, timedelta(days=7))  # type: ignore[attr-defined]
        for _ in range(100):
            if "task.reminder" in await _kinds(db, held.users["hue.do"]):
                break
            await asyncio.sleep(0.1)
        assert await _kinds(db, held.users["hue.do"]) == ["task.assigned", "task.reminder"]

        with temporal_env.with_time_skipping_disabled():
            token = await csrf_of(leader, page)
            cancelled = await leader.post(f"{page}/cancel", data={"csrf_token": token, "reason": "Nội dung đã được Văn phòng thực hiện."})
            assert cancelled.status_code == 303
            assert await handle.result() == "cancelled"
    assert (await _task(db, task_id)).status == TaskStatus.cancelled
    assert (await _kinds(db, held.users["hue.do"]))[-1] == "task.cancelled"
    async with db.session() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "task", AuditEntry.object_id == str(task_id))
                .order_by(AuditEntry.seq)
            )
        ).all()
    assert [a for a in actions if a in ("task.reassign", "task.cancel")] == ["task.reassign", "task.cancel"]
    assert "Giao lại hoặc đổi hạn" not in (await leader.get(page)).text  # nothing left to manage
