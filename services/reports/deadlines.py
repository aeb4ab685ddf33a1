"""The deadline kernel's adapter for report targets: a reminder hours before the target's
deadline (not once it passed), an overdue notice at it to the doers and leaders, an escalation
hours after it to the target's leaders (settings `report_reminder_hours`,
`report_escalate_after_hours`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import Actor, record
from services.config import Settings
from services.deadlines.ladder import Ladder, hour_ladder
from services.deadlines.service import Tracking
from services.directory.models import Role
from services.errors import NotFound
from services.i18n import _l
from services.notifications.service import notify
from services.reports import service as reports
from services.reports.models import ReportRequest, ReportTarget

KIND = "report_target"


@dataclass
class ReportTargetDeadlines:
    ladder: Ladder = field(default_factory=lambda: hour_ladder(reminder_before=48, escalate_after=24))
    kind: str = KIND

    @classmethod
    def from_settings(cls, settings: Settings) -> ReportTargetDeadlines:
        return cls(hour_ladder(reminder_before=settings.report_reminder_hours, escalate_after=settings.report_escalate_after_hours))

    async def _load(self, session: AsyncSession, target_id: int) -> tuple[ReportRequest, ReportTarget]:
        target = await session.get(ReportTarget, target_id)
        if target is None:
            raise NotFound(_l("report target not found"))
        return await reports.get_request(session, request_id=target.request_id), target

    async def state(self, session: AsyncSession, object_id: int) -> Tracking:
        req, target = await self._load(session, object_id)
        finished = reports._finished(req, target)
        return Tracking(status=target.status, revision=target.revision, closed=finished, due=None if finished else target.deadline)

    async def announce(self, session: AsyncSession, object_id: int, revision: int) -> list[int]:
        return []  # the delivery told the target already

    async def notice(self, session: AsyncSession, object_id: int, step: str, due: date | datetime) -> list[int]:
        assert isinstance(due, datetime)
        req, target = await self._load(session, object_id)
        oid = target.organization_id
        when = f"{reports._vn(due):%H:%M %d/%m/%Y}"
        link = f"/reports/{req.id}/targets/{oid}"
        doers = [target.assignee_id] if target.assignee_id else await reports._users_with(session, oid, (Role.officer, Role.clerk))
        leaders = await reports._users_with(session, oid, reports.LEADERS)
        key = f"report-{req.id}-{oid}-{step}-{due.isoformat()}"
        if step == "reminder":
            told = doers
            await notify(
                session,
                user_ids=told,
                kind="report.reminder",
                title=_l("Report due soon: {title}", title=req.title),
                body=_l("Due {when}.", when=when),
                link=link,
                dedupe_key=key,
            )
        elif step == "overdue":
            told = [*doers, *leaders]
            await notify(
                session,
                user_ids=told,
                kind="report.overdue",
                title=_l("Report overdue: {title}", title=req.title),
                body=_l("It was due {when}. Send the report now.", when=when),
                link=link,
                dedupe_key=key,
            )
        else:
            told = leaders or doers
            await notify(
                session,
                user_ids=told,
                kind="report.escalation",
                title=_l("A unit has not sent an overdue report: {title}", title=req.title),
                body=_l("It was due {when}. Leaders, please have the report sent.", when=when),
                link=link,
                dedupe_key=key,
            )
        action = {"reminder": "report.remind", "overdue": "report.overdue"}.get(step, "report.escalate")
        await record(
            session,
            actor=Actor.system("report-deadlines"),
            action=action,
            object_type="report_target",
            object_id=target.id,
            organization_id=oid,
            details={"request_id": req.id, "deadline": due.isoformat()},
        )
        if step == "overdue":
            await reports._event(session, req, "overdue", target)
        return told
