"""The report-request fan-out: one parent per request (`report-request-<id>`) and one child per
target organisation (`report-request-<id>-<orgId>`).

The parent starts children in batches (settings.report_fanout_batch at a time) with
ABANDON as parent-close policy, so it can continue-as-new while they run; it carries how far
the fan-out went across runs. Child IDs are deterministic and started with
ALLOW_DUPLICATE_FAILED_ONLY, so a replay, retry or crash never runs a target twice: an
"already started" answer counts as started.

A child delivers the request to its target (an incoming document), owns its deadlines
(reminder, overdue notice, escalation to the leader) as durable timers, re-reads the target
through an activity whenever it is signalled `changed`, and ends once its report is in or the
request closed.
The database stays the system of record; signals only say "look again". Since patch
`kernel-v1` a child's deadlines are the deadline kernel's (workflows/kernel.py, object
`report_target`); children started before it keep their own loop until they end.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import ActivityError, WorkflowAlreadyStartedError

from workflows import retry
from workflows.heartbeat import HEARTBEAT
from workflows.kernel import PATCH, Tracker

with workflow.unsafe.imports_passed_through():
    from workflows.reports.activities import (
        BatchDelivered,
        DeliveryBatch,
        FanoutPlan,
        FanoutProgress,
        NoticeInput,
        ReportActivities,
        RequestState,
        SummaryInput,
        TargetRef,
        TargetSnap,
    )

RETRY = retry.DATABASE
SHORT = timedelta(seconds=60)
DEFAULT_HISTORY_LIMIT = 8000  # events before the parent continues as new (Temporal warns at 10,240)


def request_workflow_id(request_id: int) -> str:
    return f"report-request-{request_id}"


def target_workflow_id(request_id: int, organization_id: int) -> str:
    return f"report-request-{request_id}-{organization_id}"


class RequestInput(BaseModel):
    request_id: int
    started: int = 0  # targets[:started] have a child
    summary_for: datetime | None = None  # the deadline the requester's summary was sent for
    runs: int = 1
    history_limit: int = DEFAULT_HISTORY_LIMIT


class RequestProgress(BaseModel):
    total: int
    started: int
    status: str
    runs: int


class TargetInput(BaseModel):
    request_id: int
    organization_id: int
    reminder_hours: int = 48
    escalate_hours: int = 24
    # Since DELIVER_IN_BATCHES the parent has delivered already: the target as delivered, or why
    # it could not be. Neither: the child delivers itself (children started before, or the
    # parent's batch delivery failed for good).
    delivered: TargetSnap | None = None
    refused: str | None = None


RECHECK = timedelta(hours=12)  # a lost signal costs at most this long
WAKE_DURING_READ = "wake-during-read"  # patch: a wake during the state read is not forgotten
# Patch: the parent delivers each batch in one activity (a transaction per 25 targets), then starts
# the batch's children with their delivery; before, every child ran its own delivery activity.
DELIVER_IN_BATCHES = "report-deliver-in-batches"
DELIVER_TIMEOUT = timedelta(minutes=10)  # a batch of hundreds on a busy database; heartbeats find a dead worker


# Both run outside the sandbox: a fresh sandbox per run costs tens of milliseconds of CPU, which
# for a thousand children is most of the fan-out's time. The code below does no I/O and reads
# time only through workflow.now(), so it stays deterministic without the sandbox's guard.
@workflow.defn(sandboxed=False)
class ReportRequestWorkflow:
    """Children do not report back one by one (a thousand signals on one workflow would make it
    the bottleneck): the parent learns from the database when it is woken (`wake`, sent when a
    request completes, closes or changes its deadline) and every RECHECK."""

    def __init__(self) -> None:
        self._wakeups = 0
        self._forward = False  # deadlines changed: tell the waiting children
        self._started = 0
        self._total = 0
        self._runs = 1
        self._status = "open"

    @workflow.run
    async def run(self, start: RequestInput) -> str:
        rid = start.request_id
        self._started = start.started
        self._runs = start.runs
        plan: FanoutPlan = await workflow.execute_activity_method(
            ReportActivities.plan, rid, start_to_close_timeout=SHORT, retry_policy=RETRY
        )
        targets = plan.targets
        self._total = len(targets)
        self._status = plan.status
        deadline = plan.deadline
        summary_for = start.summary_for
        seen = self._wakeups

        # Fan-out, a batch at a time; every batch is confirmed before the next one starts. Since
        # DELIVER_IN_BATCHES a batch is delivered first, and the next one is being delivered (the
        # database's work) while this one's children start (Temporal's).
        batched = self._started < self._total and workflow.patched(DELIVER_IN_BATCHES)
        delivering = self._delivery(rid, targets[self._started : self._started + plan.batch], batched)
        while self._started < self._total and self._status == "open":
            batch = targets[self._started : self._started + plan.batch]
            outcome = await delivering
            following = self._started + len(batch)
            delivering = self._delivery(rid, targets[following : following + plan.batch], batched)
            await asyncio.gather(*(self._start_child(rid, oid, plan, outcome) for oid in batch))
            self._started += len(batch)
            await workflow.execute_activity_method(
                ReportActivities.fanout_progress,
                FanoutProgress(request_id=rid, started=self._started),
                start_to_close_timeout=SHORT,
                retry_policy=RETRY,
            )
            if self._wakeups != seen:
                seen = self._wakeups
                self._status, deadline, _ = await self._state(rid)
            if self._should_continue(start):
                self._continue(start, summary_for)

        check = True
        while True:
            # A wake that comes while the state is read must end the next wait: the read may have
            # missed the change it announces (a wake lost this way waited RECHECK, 12 hours).
            before = self._wakeups
            if check:
                self._status, deadline, waiting = await self._state(rid)
                started = set(targets[: self._started])
                if self._status != "open":
                    # Closed: the children still waiting see "missing" when they look again.
                    await self._signal(rid, [oid for oid in waiting if oid in started])
                    break
                if self._forward:
                    self._forward = False
                    await self._signal(rid, [oid for oid in waiting if oid in started])
            seen = before if workflow.patched(WAKE_DURING_READ) else self._wakeups
            timeout = RECHECK
            if summary_for != deadline:
                timeout = min(timeout, deadline - workflow.now())
            check = True
            try:
                if timeout.total_seconds() <= 0:
                    raise TimeoutError
                await workflow.wait_condition(lambda: self._wakeups != seen, timeout=timeout)
            except TimeoutError:
                if summary_for != deadline and workflow.now() >= deadline:
                    await workflow.execute_activity_method(
                        ReportActivities.deadline_summary,
                        SummaryInput(request_id=rid, deadline=deadline),
                        start_to_close_timeout=SHORT,
                        retry_policy=RETRY,
                    )
                    summary_for = deadline
            if self._should_continue(start) and not self._forward:
                self._continue(start, summary_for)
        await workflow.wait_condition(workflow.all_handlers_finished)
        return await workflow.execute_activity_method(ReportActivities.finish, rid, start_to_close_timeout=SHORT, retry_policy=RETRY)

    async def _state(self, rid: int) -> tuple[str, datetime, list[int]]:
        state: RequestState = await workflow.execute_activity_method(
            ReportActivities.state, rid, start_to_close_timeout=SHORT, retry_policy=RETRY
        )
        return state.status, state.deadline, state.waiting

    @staticmethod
    def _child_id(oid: int) -> str:
        """`<this workflow's id>-<organisation>`: children share the parent's deployment prefix."""
        return f"{workflow.info().workflow_id}-{oid}"

    def _delivery(self, rid: int, batch: list[int], batched: bool) -> asyncio.Task[BatchDelivered]:
        return asyncio.ensure_future(self._deliver(rid, batch) if batched and batch else self._nothing())

    @staticmethod
    async def _nothing() -> BatchDelivered:
        return BatchDelivered()  # children deliver themselves (before DELIVER_IN_BATCHES), or no batch is left

    async def _deliver(self, rid: int, batch: list[int]) -> BatchDelivered:
        try:
            return await workflow.execute_activity_method(
                ReportActivities.deliver_batch,
                DeliveryBatch(request_id=rid, organization_ids=batch),
                start_to_close_timeout=DELIVER_TIMEOUT,
                heartbeat_timeout=HEARTBEAT,
                retry_policy=retry.DELIVERY,
            )
        except ActivityError:
            return BatchDelivered()  # out of retries: each child tries its own delivery, as before

    async def _start_child(self, rid: int, oid: int, plan: FanoutPlan, outcome: BatchDelivered) -> None:
        try:
            await workflow.start_child_workflow(
                ReportTargetWorkflow.run,
                TargetInput(
                    request_id=rid,
                    organization_id=oid,
                    reminder_hours=plan.reminder_hours,
                    escalate_hours=plan.escalate_hours,
                    delivered=outcome.delivered.get(oid),
                    refused=outcome.refused.get(oid),
                ),
                id=self._child_id(oid),
                parent_close_policy=workflow.ParentClosePolicy.ABANDON,
                id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
            )
        except WorkflowAlreadyStartedError:
            pass  # started by an earlier run or attempt: never a second one

    async def _signal(self, rid: int, organization_ids: list[int]) -> None:
        for i in range(0, len(organization_ids), 100):
            await asyncio.gather(*(self._poke(rid, oid) for oid in organization_ids[i : i + 100]))

    async def _poke(self, rid: int, oid: int) -> None:
        try:
            await workflow.get_external_workflow_handle(self._child_id(oid)).signal("changed")
        except Exception:  # noqa: BLE001 - a child that already finished needs nothing
            pass

    def _should_continue(self, start: RequestInput) -> bool:
        info = workflow.info()
        return info.is_continue_as_new_suggested() or info.get_current_history_length() > start.history_limit

    def _continue(self, start: RequestInput, summary_for: datetime | None) -> None:
        workflow.continue_as_new(
            RequestInput(
                request_id=start.request_id,
                started=self._started,
                summary_for=summary_for,
                runs=self._runs + 1,
                history_limit=start.history_limit,
            )
        )

    @workflow.signal
    def wake(self) -> None:
        """The request changed in the database (completed or closed): look again."""
        self._wakeups += 1

    @workflow.signal
    def deadline_changed(self) -> None:
        """Waiting targets got a new deadline (already in the database): tell their children."""
        self._forward = True
        self._wakeups += 1

    @workflow.query
    def progress(self) -> RequestProgress:
        return RequestProgress(total=self._total, started=self._started, status=self._status, runs=self._runs)


@workflow.defn(sandboxed=False)
class ReportTargetWorkflow:
    def __init__(self) -> None:
        self._changes = 0
        self._next: str | None = None
        self._kernel = False
        self._tracker = Tracker("report_target", lambda: self._changes)

    @workflow.run
    async def run(self, start: TargetInput) -> str:
        self._kernel = workflow.patched(PATCH)
        ref = TargetRef(request_id=start.request_id, organization_id=start.organization_id)
        # A change signalled while a read is under way must wake the next wait: count the changes
        # before reading, not after (the first version lost a "submitted" that came meanwhile).
        before_read = workflow.patched("report-target-changes-before-read")
        seen = self._changes
        if start.refused is not None:
            return "undeliverable"
        if start.delivered is not None:
            snap = start.delivered
        else:
            try:
                snap = await workflow.execute_activity_method(
                    ReportActivities.deliver, ref, start_to_close_timeout=SHORT, retry_policy=retry.DELIVERY
                )
            except ActivityError:
                return "undeliverable"
        if self._kernel:
            if snap.finished or snap.target_id is None:
                return snap.status
            # The ladder's hours come from the settings the snapshot activity reads. A run after
            # continue-as-new reads the target afresh (the delivery it was started with is old).
            restart = start.model_copy(update={"delivered": None})
            return await self._tracker.track(snap.target_id, restart=restart, announce=None)
        while not snap.finished:
            if not before_read:
                seen = self._changes
            upcoming = self._next_notice(start, snap)
            if upcoming is None:
                self._next = None
                await workflow.wait_condition(lambda: self._changes != seen)
            else:
                kind, at = upcoming
                self._next = f"{kind}@{at.isoformat()}"
                wait = (at - workflow.now()).total_seconds()
                try:
                    if wait > 0:
                        await workflow.wait_condition(lambda: self._changes != seen, timeout=timedelta(seconds=wait))
                    else:
                        raise TimeoutError
                except TimeoutError:
                    await workflow.execute_activity_method(
                        ReportActivities.deadline_notice,
                        NoticeInput(request_id=start.request_id, organization_id=start.organization_id, kind=kind, deadline=snap.deadline),
                        start_to_close_timeout=SHORT,
                        retry_policy=RETRY,
                    )
            reading = self._changes
            snap = await workflow.execute_activity_method(ReportActivities.snapshot, ref, start_to_close_timeout=SHORT, retry_policy=RETRY)
            if before_read:
                seen = reading
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(start)
        return snap.status

    @staticmethod
    def _next_notice(start: TargetInput, snap: TargetSnap) -> tuple[str, datetime] | None:
        now = workflow.now()
        instants = {
            "reminder": snap.deadline - timedelta(hours=start.reminder_hours),
            "overdue": snap.deadline,
            "escalation": snap.deadline + timedelta(hours=start.escalate_hours),
        }
        for kind in ("reminder", "overdue", "escalation"):
            if kind not in snap.pending:
                continue
            if kind == "reminder" and now >= snap.deadline:
                continue  # too late to remind: the overdue notice says it
            return kind, instants[kind]
        return None

    @workflow.signal
    def changed(self) -> None:
        """The target changed in the database (report, approval, new deadline, closing)."""
        self._changes += 1

    @workflow.query
    def next_notice(self) -> str | None:
        if self._kernel:
            upcoming = self._tracker.next
            return f"{upcoming[0]}@{upcoming[1].isoformat()}" if upcoming else None
        return self._next
