"""The report-request fan-out: one workflow per request (`report-request-<id>`).

It delivers the request to its targets in batches (settings.report_fanout_batch at a time, one
activity per batch, each target once: a retry finds the delivered ones done) and carries how far
the fan-out went across continue-as-new. Since patch `report-request-tracks-targets` it keeps its
targets' deadlines itself (reminder, overdue notice, escalation to the leader): the deadline
kernel's snapshots of the delivered targets, a batch at a time, one durable timer for the earliest
rung of them all, the rungs then due sent in one activity; a target's change (`target_changed`)
reads that target again. It ends once every report is in or the request closed.

Requests started before that patch have one child per target (`report-request-<id>-<orgId>`,
ReportTargetWorkflow) with ABANDON as parent-close policy and deterministic IDs started with
ALLOW_DUPLICATE_FAILED_ONLY; each owns its target's deadlines (since patch `kernel-v1` the deadline
kernel's loop, workflows/kernel.py, object `report_target`) and ends once its report is in or the
request closed. They keep running until they end.
The database stays the system of record; signals only say "look again".
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
    from services.deadlines.ladder import Tracked, next_for
    from workflows.kernel_activities import NoticeInput as KernelNotice
    from workflows.reports.activities import (
        BatchDelivered,
        DeliveryBatch,
        FanoutPlan,
        FanoutProgress,
        NoticeInput,
        ReportActivities,
        RequestState,
        SummaryInput,
        TargetNotices,
        TargetRef,
        TargetSnap,
        TargetsRef,
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
    tracks: bool = False  # since TRACK_TARGETS: this request tracks its targets itself (no children)


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
# Patch: the request's workflow tracks its targets' deadlines itself (the deadline kernel's
# snapshots and notices, a batch at a time) instead of one child workflow per target: a fan-out to
# a thousand started a thousand workflows and ran a thousand snapshot activities (bench_fanout).
# Requests started before it keep their children until they end.
TRACK_TARGETS = "report-request-tracks-targets"
SNAPSHOTS_PER_ACTIVITY = 100


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
        self._tracks = False
        self._tracked: dict[int, Tracked] = {}  # organisation -> its target's deadlines (TRACK_TARGETS)
        self._dirty: set[int] = set()  # organisations whose target changed since it was read

    @workflow.run
    async def run(self, start: RequestInput) -> str:
        rid = start.request_id
        self._started = start.started
        self._runs = start.runs
        # New requests only: a run continued from one with children keeps them (the flag is carried).
        self._tracks = start.tracks or (start.started == 0 and start.runs == 1 and workflow.patched(TRACK_TARGETS))
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
            if self._tracks:
                await self._take_on(rid, batch, outcome)
            else:
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
        first = True
        while True:
            # A wake that comes while the state is read must end the next wait: the read may have
            # missed the change it announces (a wake lost this way waited RECHECK, 12 hours).
            before = self._wakeups
            if check:
                self._status, deadline, waiting = await self._state(rid)
                started = set(targets[: self._started])
                if self._tracks:
                    # Reports in: no longer tracked. A new deadline: every waiting target is read
                    # again; a run after continue-as-new reads those it does not hold yet.
                    self._tracked = {oid: snap for oid, snap in self._tracked.items() if oid in waiting}
                    if self._forward:
                        self._forward = False
                        self._dirty |= {oid for oid in waiting if oid in started}
                    elif first:
                        self._dirty |= {oid for oid in waiting if oid in started and oid not in self._tracked}
                first = False
                if self._status != "open":
                    # Closed: the children still waiting see "missing" when they look again.
                    if not self._tracks:
                        await self._signal(rid, [oid for oid in waiting if oid in started])
                    break
                if self._forward:
                    self._forward = False
                    await self._signal(rid, [oid for oid in waiting if oid in started])
            seen = before if workflow.patched(WAKE_DURING_READ) else self._wakeups
            if self._tracks:
                await self._refresh(rid)
            timeout = RECHECK
            if summary_for != deadline:
                timeout = min(timeout, deadline - workflow.now())
            rung_at = self._next_rung_at()
            if rung_at is not None:
                timeout = min(timeout, rung_at - workflow.now())
            check = True
            try:
                if timeout.total_seconds() <= 0:
                    raise TimeoutError
                await workflow.wait_condition(lambda: self._wakeups != seen or bool(self._dirty), timeout=timeout)
                check = self._wakeups != seen  # a target's change alone needs only that target read
            except TimeoutError:
                if summary_for != deadline and workflow.now() >= deadline:
                    await workflow.execute_activity_method(
                        ReportActivities.deadline_summary,
                        SummaryInput(request_id=rid, deadline=deadline),
                        start_to_close_timeout=SHORT,
                        retry_policy=RETRY,
                    )
                    summary_for = deadline
                if self._tracks:
                    await self._send_due(rid)
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

    async def _take_on(self, rid: int, batch: list[int], outcome: BatchDelivered) -> None:
        """TRACK_TARGETS: the batch's delivered targets join the tracked ones; a batch whose
        delivery failed for good is delivered target by target (one refused is left out)."""
        delivered = [oid for oid in batch if oid in outcome.delivered]
        for oid in batch:
            if oid in outcome.delivered or oid in outcome.refused:
                continue
            try:
                await workflow.execute_activity_method(
                    ReportActivities.deliver,
                    TargetRef(request_id=rid, organization_id=oid),
                    start_to_close_timeout=SHORT,
                    retry_policy=retry.DELIVERY,
                )
                delivered.append(oid)
            except ActivityError:
                pass  # undeliverable (e.g. no register there): nothing to track
        self._dirty |= set(delivered)
        await self._refresh(rid)

    async def _refresh(self, rid: int) -> None:
        """Read the changed targets' deadlines (SNAPSHOTS_PER_ACTIVITY at a time); a target with
        its report in, or a request closed, is tracked no more."""
        while self._dirty:
            # Taken off before the read: a change signalled during it marks the target again.
            chosen = sorted(self._dirty)[:SNAPSHOTS_PER_ACTIVITY]
            self._dirty -= set(chosen)
            snaps: dict[int, Tracked] = await workflow.execute_activity_method(
                ReportActivities.tracked,
                TargetsRef(request_id=rid, organization_ids=chosen),
                start_to_close_timeout=SHORT,
                retry_policy=RETRY,
            )
            for oid in chosen:
                snap = snaps.get(oid)
                if snap is None or snap.closed:
                    self._tracked.pop(oid, None)
                else:
                    self._tracked[oid] = snap

    def _next_rung_at(self) -> datetime | None:
        now = workflow.now()
        instants = [rung.at for rung in (next_for(snap, now) for snap in self._tracked.values()) if rung is not None]
        return min(instants, default=None)

    async def _send_due(self, rid: int) -> None:
        """Send the rungs due now (the kernel sends each once), then read those targets again."""
        now = workflow.now()
        due: dict[int, KernelNotice] = {}
        for oid, snap in self._tracked.items():
            rung = next_for(snap, now)
            if rung is not None and rung.at <= now and snap.due_at is not None:
                due[oid] = KernelNotice(kind=snap.kind, object_id=snap.object_id, step=rung.step, due_at=snap.due_at)
        chosen = sorted(due)
        for first in range(0, len(chosen), SNAPSHOTS_PER_ACTIVITY):
            part = chosen[first : first + SNAPSHOTS_PER_ACTIVITY]
            await workflow.execute_activity_method(
                ReportActivities.notices,
                TargetNotices(notices=[due[oid] for oid in part]),
                start_to_close_timeout=DELIVER_TIMEOUT,
                retry_policy=RETRY,
            )
        self._dirty |= set(chosen)
        await self._refresh(rid)

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
                tracks=self._tracks,
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

    @workflow.signal
    def target_changed(self, organization_id: int) -> None:
        """A target changed in the database (report, approval, new deadline): read it again
        (TRACK_TARGETS; the relay sends it when the target has no child workflow)."""
        if self._tracks:  # a request with children: theirs to read (the relay told the child)
            self._dirty.add(organization_id)

    @workflow.query
    def next_notices(self) -> dict[int, str]:
        """TRACK_TARGETS: each tracked target's next notice, `<step>@<instant>`."""
        now = workflow.now()
        upcoming = {oid: next_for(snap, now) for oid, snap in self._tracked.items()}
        return {oid: f"{rung.step}@{rung.at.isoformat()}" for oid, rung in upcoming.items() if rung is not None}

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
