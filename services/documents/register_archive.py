"""Closing a year's register (khóa sổ): its printed book kept as an archived, time-stamped PDF.

Once a year is over, the clerk archives each register of it (incoming, its secret series, and
outgoing). The book is printed with no transaction open, given a document time stamp (PAdES
B-LTA, by the caller, which owns the signing) and stored; this module records it, once per
register and year, with its audit entry. The archive workflow refreshes its time stamp like
every other final document's.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from services.audit.service import record
from services.authz import Principal
from services.db import Base, utcnow
from services.directory.models import Role
from services.errors import Conflict, InvalidInput, NotFound
from services.i18n import _l

SERIES: dict[str, tuple[str, ...]] = {"incoming": ("chung", "mat"), "outgoing": ("chung",)}


class RegisterArchive(Base):
    __tablename__ = "register_archives"
    __table_args__ = (UniqueConstraint("organization_id", "kind", "series", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # incoming | outgoing
    series: Mapped[str] = mapped_column(String(32))  # chung | mat
    year: Mapped[int] = mapped_column(Integer)
    entries: Mapped[int] = mapped_column(Integer)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    archived_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    archived_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


def check_closable(*, kind: str, series: str, year: int, today: dt.date) -> None:
    """Refuse an unknown register or a year that is not over yet (Vietnam time)."""
    if series not in SERIES.get(kind, ()):
        raise InvalidInput(_l("Unknown register."))
    if year >= today.year:
        raise InvalidInput(
            _l("The register of {year} can be archived once the year is over, from 1 January {value}.", year=year, value=year + 1)
        )


async def find(session: AsyncSession, *, organization_id: int, kind: str, series: str, year: int) -> RegisterArchive | None:
    return await session.scalar(
        select(RegisterArchive).where(
            RegisterArchive.organization_id == organization_id,
            RegisterArchive.kind == kind,
            RegisterArchive.series == series,
            RegisterArchive.year == year,
        )
    )


async def archive(
    session: AsyncSession,
    *,
    principal: Principal,
    organization_id: int,
    kind: str,
    series: str,
    year: int,
    entries: int,
    pdf_sha256: str,
    today: dt.date,
) -> RegisterArchive:
    """Record the archived book of a closed year (its clerk only, once per register and year)."""
    if organization_id not in principal.orgs_with(Role.clerk):
        raise NotFound(_l("register not found"))
    check_closable(kind=kind, series=series, year=year, today=today)
    if await find(session, organization_id=organization_id, kind=kind, series=series, year=year) is not None:
        raise Conflict(_l("The register of {year} is already archived.", year=year))
    row = RegisterArchive(
        organization_id=organization_id,
        kind=kind,
        series=series,
        year=year,
        entries=entries,
        pdf_sha256=pdf_sha256,
        archived_by_id=principal.me.id,
    )
    session.add(row)
    await session.flush()
    await record(
        session,
        actor=principal.actor,
        action="register.archive",
        object_type="register",
        object_id=f"{kind}-{organization_id}-{series}-{year}",
        organization_id=organization_id,
        details={"year": year, "series": series, "entries": entries, "sha256": pdf_sha256},
    )
    return row
