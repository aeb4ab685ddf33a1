"""One workflow per incoming document (`incoming-<id>`): it follows the document from arrival or
registration to its end, tells the next actor, and owns the deadlines (reminder, overdue notice,
escalation) as durable timers. Since patch `kernel-v1` the loop is the deadline kernel's
(workflows/kernel.py); executions started before it keep the loop below (`_run_before_kernel`)
until they end (docs/workflows.md says when that branch goes).

User actions change the database through services.incoming (the system of record) and then
signal `changed` (signal-with-start, so a missing workflow is started). The workflow re-reads the
state through an activity, so a lost or repeated signal cannot leave it wrong.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow

from workflows import retry
from workflows.heartbeat import HEARTBEAT
from workflows.kernel import PATCH, Tracker

with workflow.unsafe.imports_passed_through():
    from workflows.incoming.activities import DeadlineInput, IncomingActivities, SnapshotOut, StepInput

DEADLINE_ORDER = ("reminder", "overdue", "escalation")
RETRY = retry.DATABASE


class IncomingInput(BaseModel):
    document_id: int


class IncomingState(BaseModel):
    document_id: int
    status: str | None
    revision: int
    notified_revision: int
    next_deadline: str | None
    next_deadline_at: str | None


@workflow.defn
class IncomingWorkflow:
    def __init__(self) -> None:
        self._changes = 0
        self._processed = -1
        self._notified = -1
        self._status: str | None = None
        self._next: tuple[str, str] | None = None
        self._validated = False
        self._kernel = False
        self._tracker = Tracker("incoming", lambda: self._changes)

    @workflow.run
    async def run(self, start: IncomingInput) -> str:
        self._kernel = workflow.patched(PATCH)
        doc_id = start.document_id
        if not self._validated:
            await workflow.execute_activity_method(
                IncomingActivities.validate_signatures,
                doc_id,
                start_to_close_timeout=timedelta(minutes=5),
                heartbeat_timeout=HEARTBEAT,
                retry_policy=retry.VALIDATION,
            )
            self._validated = True
        if self._kernel:
            return await self._tracker.track(doc_id, restart=start)
        return await self._run_before_kernel(start)

    async def _run_before_kernel(self, start: IncomingInput) -> str:
        """The loop of executions started before `kernel-v1`: exactly the commands they recorded."""
        doc_id = start.document_id
        while True:
            seen = self._changes
            snap: SnapshotOut = await workflow.execute_activity_method(
                IncomingActivities.snapshot,
                doc_id,
                start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RETRY,
            )
            self._status = snap.status
            if snap.revision != self._notified:
                await workflow.execute_activity_method(
                    IncomingActivities.notify_step,
                    StepInput(document_id=doc_id, revision=snap.revision),
                    start_to_close_timeout=timedelta(seconds=60),
                    retry_policy=RETRY,
                )
                self._notified = snap.revision
            self._processed = snap.revision
            if snap.closed:
                await workflow.wait_condition(workflow.all_handlers_finished)
                return snap.status
            deadline = self._next_deadline(snap)
            if deadline is None:
                self._next = None
                await workflow.wait_condition(lambda: self._changes != seen)
            else:
                kind, at = deadline
                self._next = (kind, at.isoformat())
                wait = (at - workflow.now()).total_seconds()
                try:
                    if wait > 0:
                        await workflow.wait_condition(lambda: self._changes != seen, timeout=timedelta(seconds=wait))
                    else:
                        raise TimeoutError
                except TimeoutError:
                    assert snap.due_date is not None
                    await workflow.execute_activity_method(
                        IncomingActivities.deadline_notice,
                        DeadlineInput(document_id=doc_id, kind=kind, due_date=snap.due_date),
                        start_to_close_timeout=timedelta(seconds=60),
                        retry_policy=RETRY,
                    )
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(start)

    @staticmethod
    def _next_deadline(snap: SnapshotOut) -> tuple[str, datetime] | None:
        instants = {"reminder": snap.reminder_at, "overdue": snap.overdue_at, "escalation": snap.escalate_at}
        for kind in DEADLINE_ORDER:
            at = instants[kind]
            if kind in snap.pending and at is not None:
                return kind, at
        return None

    @workflow.signal
    def changed(self) -> None:
        """The document changed in the database: re-read it."""
        self._changes += 1

    @workflow.update
    async def sync(self, revision: int) -> str:
        """Wait until the workflow has acted on `revision` of the document; returns its status."""
        self._changes += 1
        # Read the branch when the condition is checked: an update that arrives with the start
        # runs before `run` has chosen it.
        await workflow.wait_condition(lambda: (self._tracker.processed if self._kernel else self._processed) >= revision)
        return (self._tracker.status if self._kernel else self._status) or ""

    @workflow.query
    def state(self) -> IncomingState:
        if self._kernel:
            t = self._tracker
            return IncomingState(
                document_id=0,
                status=t.status,
                revision=t.processed,
                notified_revision=t.announced,
                next_deadline=t.next[0] if t.next else None,
                next_deadline_at=t.next[1].isoformat() if t.next else None,
            )
        return IncomingState(
            document_id=0,
            status=self._status,
            revision=self._processed,
            notified_revision=self._notified,
            next_deadline=self._next[0] if self._next else None,
            next_deadline_at=self._next[1] if self._next else None,
        )


def incoming_workflow_id(document_id: int) -> str:
    return f"incoming-{document_id}"
