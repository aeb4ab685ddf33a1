"""Working days and the configurable Vietnamese public holidays (the `holidays` table).

Due dates of incoming documents are counted in working days: Monday to Friday, minus the
public holidays an administrator keeps in the table (defaults are inserted by migration 0003:
1/1, Tết, Hùng Kings, 30/4, 1/5, 2/9 and its adjacent day, for 2026–2027). The pure functions
take the holiday set explicitly so workflows and tests can use them without a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Date, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.audit.service import Actor, record
from services.db import Base, utcnow
from services.errors import Conflict, InvalidInput, NotFound

VN_TZ = timezone(timedelta(hours=7), "ICT")

# (date, name): the data an administrator can change later on /admin/holidays.
DEFAULT_HOLIDAYS: list[tuple[date, str]] = [
    (date(2026, 1, 1), "Tết Dương lịch"),
    (date(2026, 2, 16), "Tết Nguyên đán (28 tháng Chạp)"),
    (date(2026, 2, 17), "Tết Nguyên đán (Mùng 1)"),
    (date(2026, 2, 18), "Tết Nguyên đán (Mùng 2)"),
    (date(2026, 2, 19), "Tết Nguyên đán (Mùng 3)"),
    (date(2026, 2, 20), "Tết Nguyên đán (Mùng 4)"),
    (date(2026, 4, 27), "Giỗ Tổ Hùng Vương (nghỉ bù)"),
    (date(2026, 4, 30), "Ngày Chiến thắng"),
    (date(2026, 5, 1), "Ngày Quốc tế Lao động"),
    (date(2026, 9, 1), "Quốc khánh (ngày liền kề)"),
    (date(2026, 9, 2), "Quốc khánh"),
    (date(2027, 1, 1), "Tết Dương lịch"),
    (date(2027, 2, 4), "Tết Nguyên đán (28 tháng Chạp)"),
    (date(2027, 2, 5), "Tết Nguyên đán (29 tháng Chạp)"),
    (date(2027, 2, 8), "Tết Nguyên đán (Mùng 3)"),
    (date(2027, 2, 9), "Tết Nguyên đán (Mùng 4, nghỉ bù)"),
    (date(2027, 2, 10), "Tết Nguyên đán (Mùng 5, nghỉ bù)"),
    (date(2027, 4, 16), "Giỗ Tổ Hùng Vương"),
    (date(2027, 4, 30), "Ngày Chiến thắng"),
    (date(2027, 5, 3), "Ngày Quốc tế Lao động (nghỉ bù)"),
    (date(2027, 9, 2), "Quốc khánh"),
    (date(2027, 9, 3), "Quốc khánh (ngày liền kề)"),
]


class Holiday(Base):
    __tablename__ = "holidays"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- pure calendar arithmetic -------------------------------------------------------------------

def is_working_day(day: date, holidays: Iterable[date] | set[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def add_working_days(start: date, days: int, holidays: set[date]) -> date:
    """The working day `days` working days after `start` (0: `start` itself or the next working day)."""
    current = start
    while not is_working_day(current, holidays):
        current += timedelta(days=1)
    step = 1 if days >= 0 else -1
    remaining = abs(days)
    while remaining:
        current += timedelta(days=step)
        if is_working_day(current, holidays):
            remaining -= 1
    return current


def working_days_between(start: date, end: date, holidays: set[date]) -> int:
    """Working days after `start` up to and including `end` (negative when `end` is before)."""
    if end == start:
        return 0
    sign = 1 if end > start else -1
    low, high = (start, end) if sign > 0 else (end, start)
    count, current = 0, low
    while current < high:
        current += timedelta(days=1)
        if is_working_day(current, holidays):
            count += 1
    return sign * count


def vn_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(VN_TZ).date()


def vn_instant(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """A Vietnam wall-clock time as an aware UTC datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=VN_TZ).astimezone(timezone.utc)


# --- the table ------------------------------------------------------------------------------

async def holidays_between(session: AsyncSession, start: date, end: date) -> set[date]:
    rows = await session.scalars(select(Holiday.day).where(Holiday.day >= start, Holiday.day <= end))
    return set(rows.all())


async def holiday_set(session: AsyncSession, around: date, *, years: int = 1) -> set[date]:
    """Holidays from a year before `around` to `years` years after it (enough for due dates)."""
    return await holidays_between(session, date(around.year - 1, 1, 1), date(around.year + years, 12, 31))


async def add_working_days_db(session: AsyncSession, start: date, days: int) -> date:
    return add_working_days(start, days, await holiday_set(session, start, years=2))


async def list_holidays(session: AsyncSession, *, year: int | None = None) -> list[Holiday]:
    query = select(Holiday).order_by(Holiday.day)
    if year is not None:
        query = query.where(Holiday.day >= date(year, 1, 1), Holiday.day <= date(year, 12, 31))
    return list((await session.scalars(query)).all())


async def add_holiday(session: AsyncSession, *, actor: Actor, day: date, name: str) -> Holiday:
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Hãy nhập tên ngày nghỉ.", "Enter the holiday's name.")
    if await session.scalar(select(Holiday.id).where(Holiday.day == day)):
        raise Conflict(f"Ngày {day:%d/%m/%Y} đã có trong danh sách ngày nghỉ.", f"{day} is already a holiday.")
    holiday = Holiday(day=day, name=name[:255])
    session.add(holiday)
    await session.flush()
    await record(session, actor=actor, action="holiday.add", object_type="holiday", object_id=holiday.id,
                 details={"day": day.isoformat(), "name": holiday.name})
    return holiday


async def remove_holiday(session: AsyncSession, *, actor: Actor, holiday_id: int) -> None:
    holiday = await session.get(Holiday, holiday_id)
    if holiday is None:
        raise NotFound("Không tìm thấy ngày nghỉ này.", "holiday not found")
    await session.delete(holiday)
    await record(session, actor=actor, action="holiday.remove", object_type="holiday", object_id=holiday_id,
                 details={"day": holiday.day.isoformat(), "name": holiday.name})
