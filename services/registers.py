"""Yearly numbered registers (sổ đến, sổ đi): the one way to take the next number.

A number is taken inside the caller's transaction, so it commits with the document it is
written on or not at all: no gaps, no duplicates, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.db import Base


class RegisterCounter(Base):
    __tablename__ = "register_counters"
    __table_args__ = (UniqueConstraint("organization_id", "kind", "series", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(16))  # incoming | outgoing
    series: Mapped[str] = mapped_column(String(32))  # e.g. "chung", "mat" (secret), "BB"
    year: Mapped[int] = mapped_column(Integer)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


async def next_number(session: AsyncSession, *, organization_id: int, kind: str, series: str, year: int) -> int:
    """Take the next number of a register; the row lock is held until the caller commits."""
    where = (
        (RegisterCounter.organization_id == organization_id)
        & (RegisterCounter.kind == kind)
        & (RegisterCounter.series == series)
        & (RegisterCounter.year == year)
    )
    bump = update(RegisterCounter).where(where).values(last_number=RegisterCounter.last_number + 1).returning(RegisterCounter.last_number)
    number = (await session.execute(bump)).scalar_one_or_none()
    if number is not None:
        return number
    try:
        # First number of the year: create the row; a concurrent creator makes us retry the bump.
        async with session.begin_nested():
            await session.execute(
                insert(RegisterCounter).values(organization_id=organization_id, kind=kind, series=series, year=year, last_number=1)
            )
        return 1
    except IntegrityError:
        return (await session.execute(bump)).scalar_one()
