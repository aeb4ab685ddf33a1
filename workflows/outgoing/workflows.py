"""One workflow per outgoing document (`outgoing-<id>`): it follows the document through
review (reminders before and after the deadline), rendering for signature, dispatch to every
recipient after issue, and the notices of a recall or replacement.

The database holds the document's state; pages change it through services.outgoing and then
signal `changed`. The workflow reads the state with an activity and does what the state asks
for, so a repeated or lost signal is harmless (it also re-reads the state every few hours).
Since patch `kernel-v2` the review deadline is the deadline kernel's (workflows/kernel.py,
object `outgoing_review`): each reminder goes out once per rung, not at every wake. Executions
started before it keep `_reviews` until they end.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow

from workflows import retry
from workflows.heartbeat import HEARTBEAT
from workflows.kernel import PATCH_V2, Tracker

with workflow.unsafe.imports_passed_through():
    from workflows.outgoing.activities import OutgoingActivities, OutgoingState, RecipientInput, ReminderInput

FINAL = {"cancelled"}
RECONCILE = timedelta(hours=6)
KEEP_AFTER_ISSUE = timedelta(days=365)
MAX_LOOPS = 300


# Behaviour added while executions were running (see docs/workflows.md): an issued document's
# workflow ends once every delivery, validation and notice is done, instead of waiting a year.
ENDS_AFTER_KEEP = "outgoing-ends-after-keep"


class OutgoingInput(BaseModel):
    document_id: int
    dispatch_timeout_seconds: int = 60
    remind_before_hours: int = 24
    issued_since: datetime | None = None  # carried across continue-as-new (runs from before the patch)


class OutgoingProgress(BaseModel):
    document_id: int
    status: str | None = None
    step: str = "starting"
    deliveries_pending: int = 0
    signals: int = 0


@workflow.defn
class OutgoingWorkflow:
    def __init__(self) -> None:
        self._signals = 0
        self._seen = 0
        self._progress: OutgoingProgress | None = None
        self._validation_ran = False  # an invalid signature is reported once, not validated forever
        self._kernel = False
        self._reviews_tracker = Tracker("outgoing_review", lambda: self._signals)

    @workflow.signal
    def changed(self, kind: str) -> None:
        """Something changed in the database (submitted, reviewed, signed, issued, recalled…)."""
        self._signals += 1

    @workflow.query
    def progress(self) -> OutgoingProgress | None:
        return self._progress

    @property
    def _live(self) -> OutgoingProgress:
        """The progress of a running execution (`run` sets it before calling the steps below)."""
        assert self._progress is not None
        return self._progress

    async def _load(self, document_id: int) -> OutgoingState:
        return await workflow.execute_activity_method(
            OutgoingActivities.load,
            document_id,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=retry.DATABASE,
        )

    @workflow.run
    async def run(self, data: OutgoingInput) -> str:
        self._kernel = workflow.patched(PATCH_V2)
        self._progress = OutgoingProgress(document_id=data.document_id)
        issued_since = data.issued_since
        for _ in range(MAX_LOOPS):
            self._seen = self._signals
            state = await self._load(data.document_id)
            self._progress.status = state.status
            self._progress.signals = self._signals
            if state.status in FINAL:
                self._progress.step = "closed"
                return state.status
            timeout = RECONCILE
            if state.status == "in_review" and self._kernel:
                await self._track_reviews(data)
                continue
            if state.status == "in_review":
                timeout = await self._reviews(data, state)
            elif state.status == "awaiting_signature" and not state.prepared:
                self._progress.step = "rendering"
                await workflow.execute_activity_method(
                    OutgoingActivities.render,
                    data.document_id,
                    start_to_close_timeout=timedelta(minutes=3),
                    heartbeat_timeout=HEARTBEAT,
                    retry_policy=retry.RENDER,
                )
                continue
            elif state.status in ("issued", "recalled", "replaced"):
                issued_since = issued_since or workflow.now()
                if self._settled(state) and workflow.patched(ENDS_AFTER_KEEP):
                    self._progress.step = "closed"
                    return state.status  # a later recall starts the workflow again (signal-with-start)
                await self._after_issue(data, state)
                if state.status != "issued":
                    self._progress.step = "closed"
                    return state.status
                if workflow.patched(ENDS_AFTER_KEEP):
                    state = await self._load(data.document_id)  # what is left after this pass
                    if self._settled(state):
                        self._progress.step = "closed"
                        return state.status
                    # A recipient not reached yet (or a new signal): wait, then try again.
                if workflow.now() - issued_since >= KEEP_AFTER_ISSUE:
                    return state.status  # a later recall starts the workflow again
            self._progress.step = "waiting"
            try:
                await workflow.wait_condition(lambda: self._signals != self._seen, timeout=timeout)
            except TimeoutError:
                pass
        workflow.continue_as_new(data.model_copy(update={"issued_since": issued_since}))

    def _settled(self, state: OutgoingState) -> bool:
        """Issued, and every delivery, the validation and every notice done; no new signal."""
        return (
            state.status == "issued"
            and not state.pending_deliveries
            and not state.pending_notices
            and (state.validated_issue or self._validation_ran)
            and self._signals == self._seen
        )

    async def _track_reviews(self, data: OutgoingInput) -> None:
        """Wait for a change or the review deadline's next rung, and send that rung (the kernel)."""
        self._live.step = "in_review"
        snap = await self._reviews_tracker.snapshot(data.document_id)
        if snap.closed:
            return  # the review ended since the document was read: read it again
        self._live.step = "waiting"
        await self._reviews_tracker.advance(snap, self._seen)

    async def _reviews(self, data: OutgoingInput, state: OutgoingState) -> timedelta:
        """Remind reviewers a day before their deadline and when it passes; sleep until the next one."""
        self._live.step = "in_review"
        now = workflow.now()
        before = timedelta(hours=data.remind_before_hours)
        wake = RECONCILE
        for due in state.review_due:
            stage = "overdue" if now >= due else "soon" if now >= due - before else None
            if stage is not None:
                await workflow.execute_activity_method(
                    OutgoingActivities.remind,
                    ReminderInput(document_id=data.document_id, stage=stage),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=retry.DATABASE,
                )
            for moment in (due - before, due):
                if moment > now:
                    wake = min(wake, moment - now + timedelta(seconds=1))
        return wake

    async def _after_issue(self, data: OutgoingInput, state: OutgoingState) -> None:
        """Deliver to every in-system recipient at once (one activity each), validate, notify."""
        if state.pending_deliveries:
            self._live.step = "dispatching"
            self._live.deliveries_pending = len(state.pending_deliveries)
            await asyncio.gather(
                *(
                    workflow.execute_activity_method(
                        OutgoingActivities.deliver,
                        RecipientInput(document_id=data.document_id, recipient_id=rid),
                        start_to_close_timeout=timedelta(seconds=data.dispatch_timeout_seconds),
                        heartbeat_timeout=HEARTBEAT,
                        retry_policy=retry.DELIVERY,
                    )
                    for rid in state.pending_deliveries
                )
            )
            self._live.deliveries_pending = 0
        if not state.validated_issue:
            self._live.step = "validating"
            await workflow.execute_activity_method(
                OutgoingActivities.validate,
                data.document_id,
                start_to_close_timeout=timedelta(minutes=2),
                heartbeat_timeout=HEARTBEAT,
                retry_policy=retry.VALIDATION,
            )
            self._validation_ran = True
        if state.pending_notices:
            self._live.step = "notifying"
            await asyncio.gather(
                *(
                    workflow.execute_activity_method(
                        OutgoingActivities.notice,
                        RecipientInput(document_id=data.document_id, recipient_id=rid),
                        start_to_close_timeout=timedelta(seconds=data.dispatch_timeout_seconds),
                        heartbeat_timeout=HEARTBEAT,
                        retry_policy=retry.DELIVERY,
                    )
                    for rid in state.pending_notices
                )
            )
