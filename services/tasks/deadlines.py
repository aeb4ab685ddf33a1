"""The deadline kernel's adapter for tasks: reminder and overdue notice to the owners,
escalation to the owner's leader (settings `task_reminder_working_days`,
`task_escalate_after_working_days`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import Actor, record
from services.config import Settings
from services.deadlines.ladder import Ladder, working_day_ladder
from services.deadlines.service import Tracking
from services.events.service import publish
from services.i18n import _l
from services.notifications.service import notify
from services.tasks import service as tasks
from services.tasks.models import Task

KIND = "task"


@dataclass
class TaskDeadlines:
    ladder: Ladder = field(default_factory=lambda: working_day_ladder(reminder_before=2, escalate_after=1))
    kind: str = KIND

    @classmethod
    def from_settings(cls, settings: Settings) -> TaskDeadlines:
        return cls(
            working_day_ladder(
                reminder_before=settings.task_reminder_working_days, escalate_after=settings.task_escalate_after_working_days
            )
        )

    async def _task(self, session: AsyncSession, task_id: int) -> Task:
        task = await session.get(Task, task_id)
        if task is None:
            raise tasks._not_found()
        return task

    async def state(self, session: AsyncSession, object_id: int) -> Tracking:
        task = await self._task(session, object_id)
        closed = task.status not in tasks.OPEN
        return Tracking(status=task.status.value, revision=task.revision, closed=closed, due=None if closed else task.due_date)

    async def announce(self, session: AsyncSession, object_id: int, revision: int) -> list[int]:
        return await tasks.notify_assigned(session, task_id=object_id)

    async def notice(self, session: AsyncSession, object_id: int, step: str, due: date | datetime) -> list[int]:
        assert isinstance(due, date)
        task = await self._task(session, object_id)
        owners = await tasks.responsible(session, task)
        link, key, label = f"/tasks/{task.id}", f"task-{task.id}-{step}-{due.isoformat()}", task.title[:150]
        if step == "reminder":
            told = owners
            await notify(
                session,
                user_ids=owners,
                kind="task.reminder",
                link=link,
                dedupe_key=key,
                title=_l("Task due soon ({due}): {label}", due=f"{due:%d/%m/%Y}", label=label),
                body=_l("Update the progress or report completion."),
            )
        elif step == "overdue":
            told = owners
            await notify(
                session,
                user_ids=owners,
                kind="task.overdue",
                link=link,
                dedupe_key=key,
                title=_l("Task overdue (due {due}): {label}", due=f"{due:%d/%m/%Y}", label=label),
                body=_l("The task is overdue. Complete it or tell the assigner why."),
            )
        else:
            told = await tasks.escalation_targets(session, task)
            await notify(
                session,
                user_ids=told,
                kind="task.escalation",
                link=link,
                dedupe_key=key,
                title=_l("Task overdue and not completed (due {due}): {label}", due=f"{due:%d/%m/%Y}", label=label),
                body=_l("Assigned to: {owner}. Follow it up.", owner=await tasks.owner_label(session, task)),
            )
        action = {"reminder": "task.remind", "overdue": "task.overdue"}.get(step, "task.escalate")
        await record(
            session,
            actor=Actor.system("deadline"),
            action=action,
            object_type="task",
            object_id=task.id,
            organization_id=task.organization_id,
            details={"due_date": due.isoformat(), "to": told},
        )
        await session.flush()
        await publish(session, channel=tasks.channel(task.id), kind="task.deadline", payload={"id": task.id, "kind": step})
        return told
