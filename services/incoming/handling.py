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
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Date, Float, and_, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.expression import FunctionElement

from services import calendar
from services.directory.models import User
from services.incoming.models import OPEN_HANDLING, IncomingDocument, IncomingTally, Status

COUNTED = (*OPEN_HANDLING, Status.done.value)


class vn_date(FunctionElement[date]):
    """The Vietnam calendar date of a UTC timestamp column (UTC+7 all year: no summer time)."""

    type = Date()
    name = "lt_vn_date"
    inherit_cache = True


@compiles(vn_date, "postgresql")
def _vn_date_postgresql(element: vn_date, compiler: Any, **kw: Any) -> str:
    # A fixed offset, not 'Asia/Ho_Chi_Minh': the same dates, without a time zone database lookup
    # per row (a year of a province: 220 → 130 ms).
    return f"CAST(({compiler.process(element.clauses, **kw)}) AT TIME ZONE INTERVAL '+07:00' AS DATE)"


@compiles(vn_date, "sqlite")
def _vn_date_sqlite(element: vn_date, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '+7 hours')"  # stored as UTC text


class days_between(FunctionElement[float]):
    """Days, with fractions, from the first timestamp to the second."""

    type = Float()
    name = "lt_days_between"
    inherit_cache = True


@compiles(days_between, "postgresql")
def _days_between_postgresql(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(date_part('epoch', ({end}) - ({start})) / 86400.0)"  # a double: EXTRACT's numeric is slower


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"(julianday({end}) - julianday({start}))"


def outcome(today: date) -> Any:
    """The definition above as one SQL expression over an incoming document's row: on_time |
    late (done), overdue | open (in handling); for the statuses in COUNTED only."""
    doc = IncomingDocument
    finished = func.coalesce(vn_date(doc.completed_at), today)  # done without a time: as of today
    return case(
        (doc.status == Status.done.value, case((and_(doc.due_date.is_not(None), finished > doc.due_date), "late"), else_="on_time")),
        (and_(doc.due_date.is_not(None), doc.due_date < today), "overdue"),
        else_="open",
    )


@dataclass
class Tally:
    on_time: int = 0
    late: int = 0
    overdue_open: int = 0
    open: int = 0
    days_total: float = 0.0  # registration → done, summed over the finished ones
    days_count: int = 0

    def merge(self, other: Tally) -> None:
        for name in ("on_time", "late", "overdue_open", "open", "days_total", "days_count"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

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
        return self.days_total / self.days_count if self.days_count else None


@dataclass
class Handled(Tally):
    """The counted documents of one organisation and lead unit."""

    organization_id: int = 0
    unit_id: int | None = None  # the lead unit, or the lead person's unit


async def handled(
    session: AsyncSession,
    *,
    org_ids: Iterable[int],
    start: date,
    end: date,
    today: date | None = None,
) -> list[Handled]:
    """The counted documents that arrived between `start` and `end` (inclusive), per organisation
    and lead unit: the finished ones from their daily roll-up (services.incoming.tally), the rest
    counted by the database row by row (a year of a province is 100k+ rows, nearly all finished)."""
    ids = list(org_ids)
    groups: dict[tuple[int, int | None], Handled] = {}

    def group(organization_id: int, unit_id: int | None) -> Handled:
        return groups.setdefault((organization_id, unit_id), Handled(organization_id=organization_id, unit_id=unit_id))

    tally = IncomingTally
    rolled = await session.execute(
        select(tally.organization_id, tally.unit_id, func.sum(tally.on_time), func.sum(tally.late), func.sum(tally.days_total))
        .where(tally.organization_id.in_(ids), tally.day >= start, tally.day <= end)
        .group_by(tally.organization_id, tally.unit_id)
    )
    for organization_id, unit_id, on_time, late, days_total in rolled.all():
        if on_time or late:  # a day whose documents were all reopened keeps a row of zeros
            group(organization_id, unit_id or None).merge(
                Tally(on_time=on_time, late=late, days_total=float(days_total), days_count=on_time + late)
            )

    doc = IncomingDocument
    result = outcome(today or calendar.vn_today())
    lead = aliased(User)  # the lead person, for their unit (only people of these organisations)
    unit = func.coalesce(doc.lead_unit_id, lead.unit_id)
    spent = days_between(func.coalesce(doc.registered_at, doc.created_at), doc.completed_at)
    days = case((doc.status == Status.done.value, case((spent < 0, 0.0), else_=spent)))  # NULL unless done
    # Grouped by organisation and unit only, the outcomes counted with FILTER: grouping by the
    # outcome too made PostgreSQL expect a group per row and sort them all on disk.
    counts = [func.count().filter(result == name) for name in ("on_time", "late", "overdue", "open")]
    rows = await session.execute(
        select(doc.organization_id, unit, *counts, func.coalesce(func.sum(days), 0.0), func.count(days))
        .outerjoin(lead, and_(lead.id == doc.lead_user_id, lead.organization_id.in_(ids)))
        .where(
            doc.organization_id.in_(ids),
            doc.tally_day.is_(None),  # not in the roll-up (ix_incoming_documents_untallied)
            doc.status.in_(COUNTED),
            doc.arrival_date >= start,
            doc.arrival_date <= end,
        )
        .group_by(doc.organization_id, unit)
    )
    for row in rows.all():  # the columns above, in order
        group(row[0], row[1]).merge(Tally(row[2], row[3], row[4], row[5], float(row[6]), row[7]))
    return list(groups.values())
