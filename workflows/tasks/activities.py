"""Activities of the task workflow: thin, idempotent wrappers over services.tasks."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel
from temporalio import activity

from services.tasks import service as tasks
from workflows.context import ActivityContext


class TaskSnapshot(BaseModel):
    task_id: int
    status: str
    revision: int
    closed: bool
    due_date: date
    reminder_at: datetime | None = None
    overdue_at: datetime | None = None
    escalate_at: datetime | None = None
    pending: list[str] = []


class TaskDeadline(BaseModel):
    task_id: int
    kind: str  # reminder | overdue | escalation
    due_date: date


class TaskActivities:
    def __init__(self, context: ActivityContext) -> None:
        self.context = context

    @activity.defn(name="task_snapshot")
    async def snapshot(self, task_id: int) -> TaskSnapshot:
        settings = self.context.settings
        async with self.context.database.read() as session:
            snap = await tasks.workflow_snapshot(
                session,
                task_id=task_id,
                reminder_working_days=settings.task_reminder_working_days,
                escalate_after_working_days=settings.task_escalate_after_working_days,
            )
        return TaskSnapshot(**snap.__dict__)

    @activity.defn(name="task_notify_assigned")
    async def notify_assigned(self, task_id: int) -> list[int]:
        async with self.context.database.session() as session:
            return await tasks.notify_assigned(session, task_id=task_id)

    @activity.defn(name="task_deadline_notice")
    async def deadline_notice(self, deadline: TaskDeadline) -> bool:
        async with self.context.database.session() as session:
            return await tasks.send_deadline_notice(session, task_id=deadline.task_id, kind=deadline.kind, due_date=deadline.due_date)
