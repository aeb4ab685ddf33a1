"""Read-only figures of the dashboard for an organisation and its subtree over a period.

Each function reads one domain's tables (incoming, outgoing, meetings, report requests) and
returns plain rows; nothing here writes. Grouping by month happens in Python on Vietnam-time
dates, so SQLite and PostgreSQL give the same answer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.calendar import VN_TZ, vn_instant
from services.db import utcnow
from services.directory.models import Organization, Unit
from services.incoming import handling
from services.incoming.handling import Tally


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive

    @property
    def since(self) -> datetime:
        return vn_instant(self.start)

    @property
    def until(self) -> datetime:
        return vn_instant(self.end + timedelta(days=1))

    def months(self) -> list[str]:
        result, year, month = [], self.start.year, self.start.month
        while (year, month) <= (self.end.year, self.end.month):
            result.append(f"{year:04d}-{month:02d}")
            month += 1
            if month > 12:
                year, month = year + 1, 1
        return result


def month_of(value: date | datetime) -> str:
    if isinstance(value, datetime):
        value = value.astimezone(VN_TZ).date()
    return f"{value.year:04d}-{value.month:02d}"


def vn_date(value: datetime) -> date:
    return value.astimezone(VN_TZ).date()


@dataclass
class MonthCount:
    month: str
    incoming: int = 0
    outgoing: int = 0


async def documents_per_month(session: AsyncSession, *, org_ids: Iterable[int], period: Period) -> list[MonthCount]:
    """Incoming documents by arrival date and outgoing documents by issue date, per month."""
    from services.incoming.models import IncomingDocument
    from services.outgoing.models import OutgoingDocument

    ids = list(org_ids)
    rows = {m: MonthCount(m) for m in period.months()}
    arrivals = (
        await session.scalars(
            select(IncomingDocument.arrival_date).where(
                IncomingDocument.organization_id.in_(ids),
                IncomingDocument.arrival_date >= period.start,
                IncomingDocument.arrival_date <= period.end,
            )
        )
    ).all()
    for day in arrivals:  # in the period, so never null
        if day is not None:
            rows[month_of(day)].incoming += 1
    issued = (
        await session.scalars(
            select(OutgoingDocument.issue_date).where(
                OutgoingDocument.organization_id.in_(ids),
                OutgoingDocument.issued_at.is_not(None),
                OutgoingDocument.issue_date >= period.start,
                OutgoingDocument.issue_date <= period.end,
            )
        )
    ).all()
    for day in issued:
        if day is not None:
            rows[month_of(day)].outgoing += 1
    return list(rows.values())


@dataclass
class Share:
    kind: str  # incoming | outgoing
    total: int
    electronic: int
    signed: int

    @property
    def electronic_pct(self) -> float:
        return round(100 * self.electronic / self.total, 1) if self.total else 0.0

    @property
    def signed_pct(self) -> float:
        return round(100 * self.signed / self.total, 1) if self.total else 0.0


async def electronic_share(session: AsyncSession, *, org_ids: Iterable[int], period: Period) -> list[Share]:
    """How many documents were electronic and digitally signed.

    Incoming: electronic = received through the system (inter-level exchange) or carrying a
    valid digital signature; signed = at least one file whose signatures validated.
    Outgoing (issued): electronic = issued as a PDF in the system; signed = signed by the
    leader and issued with the organisation's seal signature.
    """
    from services.incoming.models import IncomingDocument, IncomingFile
    from services.outgoing.models import OutgoingDocument

    ids = list(org_ids)
    signed_file = exists().where(IncomingFile.document_id == IncomingDocument.id, IncomingFile.signatures_ok.is_(True))
    rows = (
        await session.execute(
            select(IncomingDocument.source, signed_file).where(
                IncomingDocument.organization_id.in_(ids),
                IncomingDocument.arrival_date >= period.start,
                IncomingDocument.arrival_date <= period.end,
            )
        )
    ).all()
    incoming = Share("incoming", len(rows), sum(1 for src, sig in rows if src == "system" or sig), sum(1 for _, sig in rows if sig))
    out_rows = (
        await session.execute(
            select(OutgoingDocument.issued_pdf_sha, OutgoingDocument.signed_at).where(
                OutgoingDocument.organization_id.in_(ids),
                OutgoingDocument.issued_at.is_not(None),
                OutgoingDocument.issue_date >= period.start,
                OutgoingDocument.issue_date <= period.end,
            )
        )
    ).all()
    outgoing = Share("outgoing", len(out_rows), sum(1 for pdf, _ in out_rows if pdf), sum(1 for pdf, signed in out_rows if pdf and signed))
    return [incoming, outgoing]


@dataclass
class UnitHandling(Tally):
    label: str = ""
    organization: str = ""


async def incoming_handling_by_unit(
    session: AsyncSession, *, org_ids: Iterable[int], period: Period, today: date | None = None
) -> list[UnitHandling]:
    """Incoming documents that arrived in the period and went to handling, per lead unit: on time,
    late, overdue, open, as `services.incoming.handling` defines them (the statistics page too);
    with the average handling time (registration → done, days)."""
    ids = list(org_ids)
    rows = await handling.handled(session, org_ids=ids, start=period.start, end=period.end, today=today)
    orgs = dict((await session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(ids)))).all())
    units = dict((await session.execute(select(Unit.id, Unit.name).where(Unit.organization_id.in_(ids)))).all())
    groups: dict[tuple[int, int | None], UnitHandling] = {}
    for row in rows:
        group = groups.setdefault(
            (row.organization_id, row.unit_id),
            UnitHandling(
                label=units.get(row.unit_id, "(Chưa giao đơn vị)") if row.unit_id else "(Chưa giao đơn vị)",
                organization=orgs.get(row.organization_id, ""),
            ),
        )
        group.merge(row)
    return sorted(
        (g for g in groups.values() if g.counted or g.open), key=lambda g: (g.rate if g.rate is not None else 2, -g.counted, g.label)
    )


@dataclass
class MonthHandling:
    month: str
    done: int = 0
    avg_days: float | None = None


async def handling_time_per_month(session: AsyncSession, *, org_ids: Iterable[int], period: Period) -> list[MonthHandling]:
    """Average days from registration to done of incoming documents finished in each month."""
    from services.incoming.models import IncomingDocument

    rows = (
        await session.execute(
            select(IncomingDocument.completed_at, IncomingDocument.registered_at, IncomingDocument.created_at).where(
                IncomingDocument.organization_id.in_(list(org_ids)),
                IncomingDocument.status == "done",
                IncomingDocument.completed_at >= period.since,
                IncomingDocument.completed_at < period.until,
            )
        )
    ).all()
    days: dict[str, list[float]] = defaultdict(list)
    for completed, registered, created in rows:
        if completed is None:  # the query asks for completed documents
            continue
        days[month_of(completed)].append(max(0.0, (completed - (registered or created)).total_seconds() / 86400))
    return [MonthHandling(m, len(days.get(m, [])), round(sum(days[m]) / len(days[m]), 1) if days.get(m) else None) for m in period.months()]


@dataclass
class MonthMeetings:
    month: str
    online: int = 0
    hybrid: int = 0
    in_person: int = 0

    @property
    def total(self) -> int:
        return self.online + self.hybrid + self.in_person


async def meetings_by_mode(session: AsyncSession, *, org_ids: Iterable[int], period: Period) -> list[MonthMeetings]:
    """Meetings held or scheduled (not drafts, not cancelled) per month: online, hybrid, in person."""
    from meetings.models import Meeting, MeetingStatus

    rows = (
        await session.execute(
            select(Meeting.starts_at, Meeting.mode).where(
                Meeting.organization_id.in_(list(org_ids)),
                Meeting.starts_at >= period.since,
                Meeting.starts_at < period.until,
                Meeting.status.in_([MeetingStatus.scheduled, MeetingStatus.open, MeetingStatus.closed]),
            )
        )
    ).all()
    result = {m: MonthMeetings(m) for m in period.months()}
    for starts, mode in rows:
        row = result[month_of(starts)]
        name = mode.value if hasattr(mode, "value") else str(mode)
        setattr(row, name, getattr(row, name) + 1)
    return list(result.values())


@dataclass
class TargetPunctuality:
    organization: str
    requests: int = 0
    on_time: int = 0
    late: int = 0
    missing: int = 0
    waiting: int = 0

    @property
    def rate(self) -> float:
        due = self.on_time + self.late + self.missing
        return round(100 * self.on_time / due, 1) if due else 0.0


async def report_punctuality(
    session: AsyncSession, *, org_ids: Iterable[int], period: Period, now: datetime | None = None
) -> list[TargetPunctuality]:
    """Per target organisation, over requests sent from the subtree in the period: reports on
    time, late, missing (deadline passed or request closed without one), not yet due."""
    from services.reports.models import ReportRequest, ReportTarget, TargetStatus

    now = now or utcnow()
    rows = (
        await session.execute(
            select(Organization.name, ReportTarget.first_submitted_at, ReportTarget.on_time, ReportTarget.deadline, ReportTarget.status)
            .join(ReportRequest, ReportRequest.id == ReportTarget.request_id)
            .join(Organization, Organization.id == ReportTarget.organization_id)
            .where(
                ReportRequest.organization_id.in_(list(org_ids)),
                ReportRequest.created_at >= period.since,
                ReportRequest.created_at < period.until,
                # Never sent (its letter not issued, or withdrawn before): not the target's to answer.
                ReportTarget.delivered_at.is_not(None) | (ReportRequest.status == "open"),
            )
        )
    ).all()
    result: dict[str, TargetPunctuality] = {}
    for name, submitted, on_time, deadline, status in rows:
        row = result.setdefault(name, TargetPunctuality(name))
        row.requests += 1
        if submitted is not None:
            if on_time:
                row.on_time += 1
            else:
                row.late += 1
        elif status == TargetStatus.missing.value or deadline < now:
            row.missing += 1
        else:
            row.waiting += 1
    return sorted(result.values(), key=lambda r: (r.rate, -r.requests, r.organization))
