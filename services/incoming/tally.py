"""The statistics' roll-up of finished incoming documents (IncomingTally).

A finished document's outcome is settled: on time or late, and the days it took, counted for the
day it arrived and its lead unit. `settle` keeps the roll-up in step in the transaction that
changes the document (every change ends in `service._touch`): it takes the document's previous
share out and puts its current one in, so a document reopened, moved or finished again is
counted once, where it is now. The share it holds is written on the document (`tally_*`).

What is not in the roll-up is counted row by row (`handling.handled`): documents in handling,
and any finished one whose share is not written (a row written without `_touch`, a document done
without a completion time). So the figures are right whoever wrote the row; the roll-up only
makes a year of a province cheap to count.

Lock order (services/db.py): the moves are written when the transaction commits, summed by row, in
the rows' key order and before the heads (services/appends.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Executable, and_, case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services import appends, calendar
from services.directory.models import User
from services.incoming.handling import days_between, vn_date
from services.incoming.models import IncomingDocument, IncomingTally, Status


@dataclass(frozen=True)
class Share:
    day: date
    unit: int  # 0: no unit
    late: bool
    days: float


def _vn_day(moment: datetime) -> date:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # stored as UTC
    return aware.astimezone(calendar.VN_TZ).date()


def share_of(doc: IncomingDocument, lead_person_unit: int | None) -> Share | None:
    """What a document adds to the roll-up now: the same definition as `handling.outcome`, for a
    finished document with a completion time; None for any other."""
    if doc.status != Status.done.value or doc.completed_at is None or doc.arrival_date is None:
        return None
    began = doc.registered_at or doc.created_at
    days = max(0.0, (doc.completed_at - began).total_seconds() / 86400) if began else 0.0
    late = doc.due_date is not None and _vn_day(doc.completed_at) > doc.due_date
    return Share(doc.arrival_date, doc.lead_unit_id or lead_person_unit or 0, late, days)


def _held(doc: IncomingDocument) -> Share | None:
    if doc.tally_day is None:
        return None
    return Share(doc.tally_day, doc.tally_unit or 0, bool(doc.tally_late), doc.tally_days or 0.0)


async def settle(session: AsyncSession, doc: IncomingDocument) -> None:
    """Move the document's share of the roll-up to what it is now (nothing to do, mostly)."""
    lead_unit = None
    if doc.status == Status.done.value and doc.lead_unit_id is None and doc.lead_user_id is not None:
        # The lead person's unit, as the row-by-row count takes it (people of the organisation only).
        lead_unit = await session.scalar(
            select(User.unit_id).where(User.id == doc.lead_user_id, User.organization_id == doc.organization_id)
        )
    now, before = share_of(doc, lead_unit), _held(doc)
    if now == before:
        return
    if before is not None:
        await _add(session, doc.organization_id, before, -1)
    if now is not None:
        await _add(session, doc.organization_id, now, +1)
    doc.tally_day = now.day if now else None
    doc.tally_unit = now.unit if now else None
    doc.tally_late = now.late if now else None
    doc.tally_days = now.days if now else None


async def _add(session: AsyncSession, organization_id: int, share: Share, sign: int) -> None:
    await appends.append(session, "tally", (organization_id, share, sign))


@appends.writer("tally")
def _write(session: Session, changes: list[tuple[int, Share, int]]) -> None:
    """The transaction's moves at its commit: summed by row and written in the rows' key order, so
    two commits that move shares of the same rows never wait for each other crosswise."""
    sums: dict[tuple[int, date, int], list[float]] = {}
    for organization_id, share, sign in changes:
        total = sums.setdefault((organization_id, share.day, share.unit), [0, 0, 0.0])
        total[1 if share.late else 0] += sign
        total[2] += sign * share.days
    rows = [
        {"organization_id": key[0], "day": key[1], "unit_id": key[2], "on_time": int(on_time), "late": int(late), "days_total": days}
        for key, (on_time, late, days) in sorted(sums.items())
        if on_time or late or days
    ]
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    statement: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(IncomingTally).values(rows)
    table = IncomingTally.__table__.c
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["organization_id", "day", "unit_id"],
            set_={
                "on_time": table.on_time + statement.excluded.on_time,
                "late": table.late + statement.excluded.late,
                "days_total": table.days_total + statement.excluded.days_total,
            },
        )
    )


def rebuild() -> list[Executable]:
    """Statements that write every document's share and the roll-up from the documents (the
    migration that added it; a bulk load). Portable: SQLite and PostgreSQL."""
    doc = IncomingDocument
    person_unit = select(User.unit_id).where(User.id == doc.lead_user_id, User.organization_id == doc.organization_id).scalar_subquery()
    spent = days_between(func.coalesce(doc.registered_at, doc.created_at), doc.completed_at)
    counted = and_(doc.status == Status.done.value, doc.completed_at.is_not(None), doc.arrival_date.is_not(None))
    late = and_(doc.due_date.is_not(None), vn_date(doc.completed_at) > doc.due_date)
    tally = IncomingTally
    return [
        delete(tally),
        update(doc).values(tally_day=None, tally_unit=None, tally_late=None, tally_days=None).where(doc.tally_day.is_not(None)),
        update(doc)
        .values(
            tally_day=doc.arrival_date,
            tally_unit=func.coalesce(doc.lead_unit_id, person_unit, 0),
            tally_late=case((late, True), else_=False),
            tally_days=case((spent < 0, 0.0), else_=func.coalesce(spent, 0.0)),
        )
        .where(counted),
        insert(tally).from_select(
            ["organization_id", "day", "unit_id", "on_time", "late", "days_total"],
            select(
                doc.organization_id,
                doc.tally_day,
                doc.tally_unit,
                func.count().filter(doc.tally_late.is_(False)),
                func.count().filter(doc.tally_late.is_(True)),
                func.sum(doc.tally_days),
            )
            .where(doc.tally_day.is_not(None))
            .group_by(doc.organization_id, doc.tally_day, doc.tally_unit),
        ),
    ]
