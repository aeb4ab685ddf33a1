"""Activities of the report-request fan-out: thin, idempotent wrappers over services.reports.

Each is keyed by business IDs (request, target organisation, deadline), so a retry after a
crash changes nothing that already happened: delivery is keyed by the target's incoming copy,
notices by the deadline they were sent for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from temporalio import activity

from services.deadlines import service as deadlines
from services.deadlines.ladder import Tracked
from services.reports import service as reports
from services.reports.deadlines import ReportTargetDeadlines
from services.reports.models import ReportTarget
from workflows.context import ActivityContext
from workflows.kernel_activities import NoticeInput as KernelNotice

# Deliveries of one letter queue on its row: a transaction of 25 holds it for a fraction of a
# second, while still paying one commit (and one write of the heads) for many targets.
DELIVERIES_PER_TRANSACTION = 25


class FanoutPlan(BaseModel):
    targets: list[int]
    deadline: datetime
    status: str
    batch: int
    reminder_hours: int
    escalate_hours: int


class RequestState(BaseModel):
    deadline: datetime
    status: str
    waiting: list[int] = []  # targets without a report (their children still wait)


class TargetRef(BaseModel):
    request_id: int
    organization_id: int


class TargetSnap(BaseModel):
    status: str
    deadline: datetime
    request_status: str
    finished: bool
    pending: list[str] = []
    target_id: int | None = None  # the object the deadline kernel tracks


class TargetsRef(BaseModel):
    request_id: int
    organization_ids: list[int]


class TargetNotices(BaseModel):
    notices: list[KernelNotice]


class DeliveryBatch(BaseModel):
    request_id: int
    organization_ids: list[int]


class BatchDelivered(BaseModel):
    delivered: dict[int, TargetSnap] = {}
    refused: dict[int, str] = {}  # target → why it cannot be delivered (a domain error's message)


class NoticeInput(BaseModel):
    request_id: int
    organization_id: int
    kind: str  # reminder | overdue | escalation
    deadline: datetime


class FanoutProgress(BaseModel):
    request_id: int
    started: int


class SummaryInput(BaseModel):
    request_id: int
    deadline: datetime


def _snap(snapshot: reports.TargetSnapshot) -> TargetSnap:
    return TargetSnap(
        status=snapshot.status,
        deadline=snapshot.deadline,
        request_status=snapshot.request_status,
        finished=snapshot.finished,
        pending=snapshot.pending,
        target_id=snapshot.target_id,
    )


class ReportActivities:
    def __init__(self, context: ActivityContext) -> None:
        self.context = context

    @activity.defn(name="report_plan")
    async def plan(self, request_id: int) -> FanoutPlan:
        settings = self.context.settings
        async with self.context.database.session() as session:
            targets, deadline, status = await reports.fanout_targets(session, request_id=request_id)
        return FanoutPlan(
            targets=targets,
            deadline=deadline,
            status=status,
            batch=max(1, settings.report_fanout_batch),
            reminder_hours=settings.report_reminder_hours,
            escalate_hours=settings.report_escalate_after_hours,
        )

    @activity.defn(name="report_state")
    async def state(self, request_id: int) -> RequestState:
        async with self.context.database.read() as session:
            req = await reports.get_request(session, request_id=request_id)
            waiting = await reports.waiting_targets(session, request_id=request_id)
            return RequestState(deadline=req.deadline, status=req.status, waiting=waiting)

    @activity.defn(name="report_deliver")
    async def deliver(self, ref: TargetRef) -> TargetSnap:
        """The request into the target's incoming register, once (a domain error — e.g. no
        register at the target — fails it without retries: workflows/errors.py)."""
        async with self.context.database.session() as session:
            return _snap(
                await reports.deliver(
                    session, settings=self.context.settings, request_id=ref.request_id, organization_id=ref.organization_id
                )
            )

    @activity.defn(name="report_deliver_batch")
    async def deliver_batch(self, batch: DeliveryBatch) -> BatchDelivered:
        """`deliver` to a batch of targets, DELIVERIES_PER_TRANSACTION in each transaction: fewer
        commits, and the letter's row, which every delivery of it locks, is never held for long.
        A retry after a crash finds the committed ones delivered already."""
        result = BatchDelivered()
        ids = batch.organization_ids
        for first in range(0, len(ids), DELIVERIES_PER_TRANSACTION):
            async with self.context.database.session() as session:
                delivered, refused = await reports.deliver_many(
                    session,
                    settings=self.context.settings,
                    request_id=batch.request_id,
                    organization_ids=ids[first : first + DELIVERIES_PER_TRANSACTION],
                )
            result.delivered.update({oid: _snap(snapshot) for oid, snapshot in delivered.items()})
            result.refused.update({oid: error.message_en for oid, error in refused.items()})
        return result

    @activity.defn(name="report_target_snapshot")
    async def snapshot(self, ref: TargetRef) -> TargetSnap:
        async with self.context.database.read() as session:
            return _snap(await reports.snapshot(session, request_id=ref.request_id, organization_id=ref.organization_id))

    @activity.defn(name="report_targets_tracked")
    async def tracked(self, ref: TargetsRef) -> dict[int, Tracked]:
        """The deadline kernel's snapshots of a request's targets (by organisation), in one read:
        the request's workflow tracks its targets' deadlines itself (TRACK_TARGETS)."""
        adapter = ReportTargetDeadlines.from_settings(self.context.settings)
        async with self.context.database.read() as session:
            # The request and the targets held here stay in the session: each snapshot finds them
            # there instead of reading them again (the session keeps only weak references).
            request = await reports.get_request(session, request_id=ref.request_id)
            targets = (
                await session.scalars(
                    select(ReportTarget).where(
                        ReportTarget.request_id == ref.request_id,
                        ReportTarget.organization_id.in_(ref.organization_ids),
                        ReportTarget.delivered_at.is_not(None),  # an undeliverable target has no deadline to keep
                    )
                )
            ).all()
            snaps = {t.organization_id: await deadlines.snapshot(session, adapter=adapter, object_id=t.id) for t in targets}
            del request
            return snaps

    @activity.defn(name="report_targets_notices")
    async def notices(self, data: TargetNotices) -> list[bool]:
        """The deadline kernel's notices of several targets, each once, each in its own transaction
        (one refused by the unique constraint leaves the others sent)."""
        adapter = ReportTargetDeadlines.from_settings(self.context.settings)
        sent = []
        for notice in data.notices:
            async with self.context.database.session() as session:
                sent.append(
                    await deadlines.send(session, adapter=adapter, object_id=notice.object_id, step=notice.step, due_at=notice.due_at)
                )
        return sent

    @activity.defn(name="report_deadline_notice")
    async def deadline_notice(self, data: NoticeInput) -> bool:
        async with self.context.database.session() as session:
            return await reports.send_deadline_notice(
                session, request_id=data.request_id, organization_id=data.organization_id, kind=data.kind, deadline=data.deadline
            )

    @activity.defn(name="report_fanout_progress")
    async def fanout_progress(self, data: FanoutProgress) -> None:
        async with self.context.database.session() as session:
            await reports.fanout_progress(session, request_id=data.request_id, started=data.started)

    @activity.defn(name="report_deadline_summary")
    async def deadline_summary(self, data: SummaryInput) -> bool:
        async with self.context.database.session() as session:
            return await reports.deadline_summary(session, request_id=data.request_id, deadline=data.deadline)

    @activity.defn(name="report_finish")
    async def finish(self, request_id: int) -> str:
        async with self.context.database.session() as session:
            return await reports.finish(session, request_id=request_id)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.plan,
            self.state,
            self.deliver,
            self.deliver_batch,
            self.snapshot,
            self.tracked,
            self.notices,
            self.deadline_notice,
            self.fanout_progress,
            self.deadline_summary,
            self.finish,
        ]
