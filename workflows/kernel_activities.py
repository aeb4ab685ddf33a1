"""Activities of the deadline kernel (workflows/kernel.py): thin wrappers over
services.deadlines, dispatched to each domain's adapter by object kind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from temporalio import activity

from services.config import Settings
from services.deadlines import service as deadlines
from services.deadlines.ladder import Tracked
from services.errors import InvalidInput
from services.i18n import _l
from workflows.context import ActivityContext


class TrackedRef(BaseModel):
    kind: str  # incoming | task | report_target | minutes.secretary | minutes.chair | outgoing_review | meeting
    object_id: int


class AnnounceInput(BaseModel):
    kind: str
    object_id: int
    revision: int


class NoticeInput(BaseModel):
    kind: str
    object_id: int
    step: str
    due_at: datetime


def adapter_for(kind: str, settings: Settings) -> deadlines.Adapter:
    """The domain adapter of an object kind, its ladder read from the settings."""
    from services.incoming.deadlines import IncomingDeadlines
    from services.reports.deadlines import ReportTargetDeadlines
    from services.tasks.deadlines import TaskDeadlines

    if kind == "incoming":
        return IncomingDeadlines.from_settings(settings)
    if kind == "task":
        return TaskDeadlines.from_settings(settings)
    if kind == "report_target":
        return ReportTargetDeadlines.from_settings(settings)
    if kind == "outgoing_review":
        from services.outgoing.deadlines import OutgoingReviewDeadlines

        return OutgoingReviewDeadlines.from_settings(settings)
    if kind == "meeting":
        from meetings.reminders import MeetingReminders

        return MeetingReminders.from_settings(settings)
    if kind.startswith("minutes."):
        from meetings.minutes.deadlines import MinutesSignatureDeadlines

        return MinutesSignatureDeadlines.for_role(kind.removeprefix("minutes."))
    raise InvalidInput(_l("No deadline adapter for {kind!r}.", kind=kind))


class KernelActivities:
    def __init__(self, context: ActivityContext) -> None:
        self.context = context

    @activity.defn(name="kernel_snapshot")
    async def snapshot(self, ref: TrackedRef) -> Tracked:
        adapter = adapter_for(ref.kind, self.context.settings)
        # A read: on SQLite a write transaction would queue for the one write lock behind every
        # writer (a fan-out's deliveries), though a snapshot writes nothing.
        async with self.context.database.read() as session:
            return await deadlines.snapshot(session, adapter=adapter, object_id=ref.object_id)

    @activity.defn(name="kernel_announce")
    async def announce(self, data: AnnounceInput) -> list[int]:
        adapter = adapter_for(data.kind, self.context.settings)
        async with self.context.database.session() as session:
            return await adapter.announce(session, data.object_id, data.revision)

    @activity.defn(name="kernel_notice")
    async def notice(self, data: NoticeInput) -> bool:
        adapter = adapter_for(data.kind, self.context.settings)
        async with self.context.database.session() as session:
            return await deadlines.send(session, adapter=adapter, object_id=data.object_id, step=data.step, due_at=data.due_at)

    def all(self) -> list[Callable[..., Any]]:
        return [self.snapshot, self.announce, self.notice]
