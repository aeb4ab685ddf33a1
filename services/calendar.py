"""Working days and the Vietnamese public holidays.

Due dates are counted in working days: Monday to Friday, minus the public holidays. For any year
the defaults are the statutory holidays as the `holidays` package computes them (lunar Tết and
the Hùng Kings' day included, with the days off in lieu it knows). A year an administrator has
edited on /admin/holidays is "kept" (table `holiday_years`): its days are exactly the rows of
the `holidays` table, seeded from the defaults at the first edit. The pure functions take the
holiday set explicitly so workflows and tests can use them without a database.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone

import holidays as statutory
from sqlalchemy import Date, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.audit.service import Actor, record
from services.db import Base, utcnow
from services.errors import Conflict, InvalidInput, NotFound
from services.i18n import Message, _l

VN_TZ = timezone(timedelta(hours=7), "ICT")


class Holiday(Base):
    __tablename__ = "holidays"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HolidayYear(Base):
    """A year whose holidays an administrator keeps in the table (no statutory defaults added)."""

    __tablename__ = "holiday_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class DefaultHoliday:
    """A statutory holiday of a year nobody has edited yet (no row, so no id)."""

    day: date
    name: str
    id: None = None


@functools.cache
def statutory_holidays(year: int) -> tuple[DefaultHoliday, ...]:
    """Vietnam's public holidays of a year on working days (weekends do not count anyway).
    Kept once computed: the lunar calendar takes ~1 ms a year, and every list page asks."""
    days = statutory.country_holidays("VN", years=year, language="vi")
    return tuple(DefaultHoliday(day, name) for day, name in sorted(days.items()) if day.weekday() < 5)


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


# Dates typed into forms: nothing before 1900 (older papers are archives, not correspondence) and
# nothing more than a century ahead (9999 probing the storage, or a slipped key).
FIRST_YEAR, YEARS_AHEAD = 1900, 100


def check_plausible(day: date, label: Message = _l("Date")) -> date:
    last = vn_today().year + YEARS_AHEAD
    if not FIRST_YEAR <= day.year <= last:
        raise InvalidInput(
            _l("{label} {day:%d/%m/%Y} is out of range ({first}–{last}).", label=label, day=day, first=FIRST_YEAR, last=last),
        )
    return day


def vn_today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(VN_TZ).date()


def vn_instant(day: date, hour: int = 0, minute: int = 0) -> datetime:
    """A Vietnam wall-clock time as an aware UTC datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=VN_TZ).astimezone(UTC)


# --- the table ------------------------------------------------------------------------------


async def _kept_years(session: AsyncSession, first: int, last: int) -> set[int]:
    rows = await session.scalars(select(HolidayYear.year).where(HolidayYear.year >= first, HolidayYear.year <= last))
    return set(rows.all())


async def holidays_between(session: AsyncSession, start: date, end: date) -> set[date]:
    """The holidays from `start` to `end`: the table's rows for kept years, the defaults for others."""
    kept = await _kept_years(session, start.year, end.year)
    rows = await session.scalars(select(Holiday.day).where(Holiday.day >= start, Holiday.day <= end))
    days = {d for d in rows.all() if d.year in kept}
    for year in range(start.year, end.year + 1):
        if year not in kept:
            days |= {h.day for h in statutory_holidays(year) if start <= h.day <= end}
    return days


async def holiday_set(session: AsyncSession, around: date, *, years: int = 1) -> set[date]:
    """Holidays from a year before `around` to `years` years after it (enough for due dates)."""
    return await holidays_between(session, date(around.year - 1, 1, 1), date(around.year + years, 12, 31))


async def add_working_days_db(session: AsyncSession, start: date, days: int) -> date:
    return add_working_days(start, days, await holiday_set(session, start, years=2))


async def list_holidays(session: AsyncSession, *, year: int) -> list[Holiday] | list[DefaultHoliday]:
    """A year's holidays: its rows when the year is kept, else the statutory defaults."""
    if not await _kept_years(session, year, year):
        return list(statutory_holidays(year))
    query = select(Holiday).where(Holiday.day >= date(year, 1, 1), Holiday.day <= date(year, 12, 31))
    return list((await session.scalars(query.order_by(Holiday.day))).all())


async def is_kept(session: AsyncSession, year: int) -> bool:
    return bool(await _kept_years(session, year, year))


async def _keep_year(session: AsyncSession, *, actor: Actor, year: int) -> None:
    """Before the first edit of a year: its statutory defaults become rows the admin can change."""
    if await is_kept(session, year):
        return
    session.add(HolidayYear(year=year))
    taken = set(
        (await session.scalars(select(Holiday.day).where(Holiday.day >= date(year, 1, 1), Holiday.day <= date(year, 12, 31)))).all()
    )
    defaults = [h for h in statutory_holidays(year) if h.day not in taken]
    session.add_all(Holiday(day=h.day, name=h.name[:255]) for h in defaults)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="holiday.keep_year",
        object_type="holiday_year",
        object_id=year,
        details={"year": year, "defaults": [h.day.isoformat() for h in defaults]},
    )


async def add_holiday(session: AsyncSession, *, actor: Actor, day: date, name: str) -> Holiday:
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_l("Enter the holiday's name."))
    await _keep_year(session, actor=actor, year=day.year)
    if await session.scalar(select(Holiday.id).where(Holiday.day == day)):
        raise Conflict(_l("{day} is already a holiday.", day=day))
    holiday = Holiday(day=day, name=name[:255])
    session.add(holiday)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="holiday.add",
        object_type="holiday",
        object_id=holiday.id,
        details={"day": day.isoformat(), "name": holiday.name},
    )
    return holiday


async def remove_holiday(session: AsyncSession, *, actor: Actor, day: date) -> None:
    await _keep_year(session, actor=actor, year=day.year)
    holiday = await session.scalar(select(Holiday).where(Holiday.day == day))
    if holiday is None:
        raise NotFound(_l("holiday not found"))
    await session.delete(holiday)
    await record(
        session,
        actor=actor,
        action="holiday.remove",
        object_type="holiday",
        object_id=holiday.id,
        details={"day": holiday.day.isoformat(), "name": holiday.name},
    )
