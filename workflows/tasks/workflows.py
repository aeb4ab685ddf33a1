"""One workflow per task (`task-<id>`): tells the owners, then owns the deadlines — a reminder
N working days before the due date, an overdue notice the day after, an escalation to the
owner's leader after M more working days — as durable timers, until the task is done.

The database is the record: pages change the task through services.tasks, then signal `changed`
(signal-with-start). The workflow re-reads the task, so a lost or repeated signal is harmless
and a new due date moves the timers. Since patch `kernel-v1` the loop is the deadline kernel's
(workflows/kernel.py); executions started before it keep `_run_before_kernel` until they end.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
from temporalio import workflow

from workflows import retry
from workflows.kernel import PATCH, Tracker

with workflow.unsafe.imports_passed_through():
    from workflows.tasks.activities import TaskActivities, TaskDeadline, TaskSnapshot

ORDER = ("reminder", "overdue", "escalation")
RETRY = retry.DATABASE
TIMEOUT = timedelta(seconds=60)


class TaskInput(BaseModel):
    task_id: int


class TaskState(BaseModel):
    status: str | None
    revision: int
    next_deadline: str | None
    next_deadline_at: str | None


@workflow.defn(name="TaskWorkflow")
class TaskWorkflow:
    def __init__(self) -> None:
        self._changes = 0
        self._processed = -1
        self._status: str | None = None
        self._next: tuple[str, str] | None = None
        self._announced = False
        self._kernel = False
        self._tracker = Tracker("task", lambda: self._changes)

    @workflow.run
    async def run(self, start: TaskInput) -> str:
        self._kernel = workflow.patched(PATCH)
        if self._kernel:
            return await self._tracker.track(start.task_id, restart=start, announce="once")
        return await self._run_before_kernel(start)

    async def _run_before_kernel(self, start: TaskInput) -> str:
        """The loop of executions started before `kernel-v1`: exactly the commands they recorded."""
        if not self._announced:
            await workflow.execute_activity_method(
                TaskActivities.notify_assigned, start.task_id, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
            )
            self._announced = True
        while True:
            seen = self._changes
            snap: TaskSnapshot = await workflow.execute_activity_method(
                TaskActivities.snapshot, start.task_id, start_to_close_timeout=TIMEOUT, retry_policy=RETRY
            )
            self._status, self._processed = snap.status, snap.revision
            if snap.closed:
                await workflow.wait_condition(workflow.all_handlers_finished)
                return snap.status
            instants = {"reminder": snap.reminder_at, "overdue": snap.overdue_at, "escalation": snap.escalate_at}
            upcoming = next(((k, instants[k]) for k in ORDER if k in snap.pending and instants[k] is not None), None)
            if upcoming is None:
                self._next = None
                await workflow.wait_condition(lambda: self._changes != seen)
            else:
                kind, at = upcoming
                assert at is not None
                self._next = (kind, at.isoformat())
                wait = (at - workflow.now()).total_seconds()
                try:
                    if wait <= 0:
                        raise TimeoutError
                    await workflow.wait_condition(lambda: self._changes != seen, timeout=timedelta(seconds=wait))
                except TimeoutError:
                    await workflow.execute_activity_method(
                        TaskActivities.deadline_notice,
                        TaskDeadline(task_id=start.task_id, kind=kind, due_date=snap.due_date),
                        start_to_close_timeout=TIMEOUT,
                        retry_policy=RETRY,
                    )
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(start)

    @workflow.signal
    def changed(self) -> None:
        """The task changed in the database: re-read it."""
        self._changes += 1

    @workflow.update
    async def sync(self, revision: int) -> str:
        """Wait until the workflow has acted on `revision` of the task; returns its status."""
        self._changes += 1
        # Read the branch when the condition is checked: an update that arrives with the start
        # runs before `run` has chosen it.
        await workflow.wait_condition(lambda: (self._tracker.processed if self._kernel else self._processed) >= revision)
        return (self._tracker.status if self._kernel else self._status) or ""

    @workflow.query
    def state(self) -> TaskState:
        if self._kernel:
            t = self._tracker
            return TaskState(
                status=t.status,
                revision=t.processed,
                next_deadline=t.next[0] if t.next else None,
                next_deadline_at=t.next[1].isoformat() if t.next else None,
            )
        return TaskState(
            status=self._status,
            revision=self._processed,
            next_deadline=self._next[0] if self._next else None,
            next_deadline_at=self._next[1] if self._next else None,
        )


def task_workflow_id(task_id: int) -> str:
    return f"task-{task_id}"
