"""What "handled on time" means: one definition for the dashboard (Thống kê) and the incoming
statistics page, so that the two never disagree on the same documents.

Counted are incoming documents that arrived in the period and went to handling (directed, in
progress or done). A finished document is on time when it was done (Vietnam date) by its due
date, or had none; late otherwise. A document still in handling is overdue once its due date
has passed, otherwise open. The on-time rate is on time / (on time + late + overdue): an overdue
document is already late, whereas an open one may still be on time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services import calendar
from services.directory.models import User
from services.incoming.models import OPEN_HANDLING, IncomingDocument, Status

COUNTED = (*OPEN_HANDLING, Status.done.value)


def outcome(*, status: str, due_date: date | None, completed_at: datetime | None, today: date) -> str | None:
    """on_time | late (done), overdue | open (in handling), None (not counted)."""
    if status == Status.done.value:
        finished = completed_at.astimezone(calendar.VN_TZ).date() if completed_at else today
        return "late" if due_date is not None and finished > due_date else "on_time"
    if status in OPEN_HANDLING:
        return "overdue" if due_date is not None and today > due_date else "open"
    return None


@dataclass
class Tally:
    on_time: int = 0
    late: int = 0
    overdue_open: int = 0
    open: int = 0
    days: list[float] = field(default_factory=list)  # registration → done, of the finished ones

    def add(self, result: str) -> None:
        name = "overdue_open" if result == "overdue" else result
        setattr(self, name, getattr(self, name) + 1)

    @property
    def counted(self) -> int:
        """The documents the rate is over: finished, or past their due date."""
        return self.on_time + self.late + self.overdue_open

    @property
    def rate(self) -> float | None:
        """Share handled on time, 0…1 (None when nothing is counted yet)."""
        return self.on_time / self.counted if self.counted else None

    @property
    def avg_days(self) -> float | None:
        return sum(self.days) / len(self.days) if self.days else None


@dataclass
class Handled:
    organization_id: int
    unit_id: int | None  # the lead unit, or the lead person's unit
    result: str
    days: float | None


async def handled(
    session: AsyncSession,
    *,
    org_ids: Iterable[int],
    start: date,
    end: date,
    today: date | None = None,
) -> list[Handled]:
    """Each counted document that arrived between `start` and `end` (inclusive), with its outcome."""
    ids = list(org_ids)
    today = today or calendar.vn_today()
    rows = (
        await session.execute(
            select(
                IncomingDocument.organization_id,
                IncomingDocument.lead_unit_id,
                IncomingDocument.lead_user_id,
                IncomingDocument.status,
                IncomingDocument.due_date,
                IncomingDocument.completed_at,
                IncomingDocument.registered_at,
                IncomingDocument.created_at,
            ).where(
                IncomingDocument.organization_id.in_(ids),
                IncomingDocument.status.in_(COUNTED),
                IncomingDocument.arrival_date >= start,
                IncomingDocument.arrival_date <= end,
            )
        )
    ).all()
    user_units = dict((await session.execute(select(User.id, User.unit_id).where(User.organization_id.in_(ids)))).all())
    found = []
    for org_id, unit_id, lead_user_id, status, due, completed, registered, created in rows:
        result = outcome(status=status, due_date=due, completed_at=completed, today=today)
        if result is None:
            continue
        begun = registered or created
        days = max(0.0, (completed - begun).total_seconds() / 86400) if completed and begun and status == Status.done.value else None
        lead_unit = user_units.get(lead_user_id) if lead_user_id is not None else None
        found.append(Handled(org_id, unit_id or lead_unit, result, days))
    return found
