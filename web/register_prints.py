"""The print panel of a register's page (the incoming register's series and the outgoing register
share it): start a print or a year's archive in the background, follow it, download the book.

The page renders the panel's state; `registers.js` follows the print's live channel and
replaces the panel with `/registers/prints/<id>` (this module's `card`) at every step; without
JavaScript a meta refresh reloads the page while a print is running."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from services.calendar import vn_today
from services.directory.models import Role
from services.documents import register_archive
from services.documents import register_prints as prints
from services.incoming import service as incoming
from services.outgoing import service as outgoing
from web.templating import render


@dataclass(frozen=True)
class Register:
    """One register book and its addresses."""

    kind: str
    series: str
    org_id: int
    year: int

    @property
    def page_url(self) -> str:
        if self.kind == "incoming":
            return f"/incoming/book?org={self.org_id}&year={self.year}&series={self.series}"
        return f"/outgoing/register/{self.year}?org={self.org_id}"

    @property
    def print_url(self) -> str:
        return "/incoming/book/print" if self.kind == "incoming" else f"/outgoing/register/{self.year}/print"

    @property
    def archive_url(self) -> str:
        return "/incoming/book/archive" if self.kind == "incoming" else f"/outgoing/register/{self.year}/archive"

    @property
    def archive_file(self) -> str:
        if self.kind == "incoming":
            return f"/incoming/book/archive.pdf?org={self.org_id}&year={self.year}&series={self.series}"
        return f"/outgoing/register/{self.year}/archive.pdf?org={self.org_id}"

    @property
    def fields(self) -> dict[str, str]:
        """The hidden fields of the print and archive forms."""
        fields = {"org": str(self.org_id)}
        if self.kind == "incoming":
            fields |= {"year": str(self.year), "series": self.series}
        return fields

    @property
    def filename(self) -> str:
        if self.kind == "incoming":
            return f"so-van-ban-den-{self.year}{'-mat' if self.series == 'mat' else ''}.pdf"
        return f"so-van-ban-di-{self.year}.pdf"

    @classmethod
    def of(cls, job: prints.RegisterPrint) -> Register:
        return cls(kind=job.kind, series=job.series, org_id=job.organization_id, year=job.year)


async def _size(session: AsyncSession, register: Register) -> int:
    if register.kind == "incoming":
        return await incoming.register_size(session, organization_id=register.org_id, year=register.year, series=register.series)
    return await outgoing.register_size(session, organization_id=register.org_id, year=register.year)


async def panel(session: AsyncSession, register: Register, *, size: int) -> dict[str, Any]:
    """The page's context for the print panel and the archive section (`size`: the book's rows now)."""
    return {
        "register": register,
        "print_job": await prints.latest(
            session, kind=register.kind, series=register.series, organization_id=register.org_id, year=register.year, purpose=prints.PRINT
        ),
        "archive_job": await prints.latest(
            session,
            kind=register.kind,
            series=register.series,
            organization_id=register.org_id,
            year=register.year,
            purpose=prints.ARCHIVE,
        ),
        "book_size": size,
    }


async def card(request: Request, session: AsyncSession, principal: Principal, print_id: int) -> Response:
    """The panel of one print as it is now (what the page swaps in at each live event)."""
    job = await prints.visible(session, principal=principal, print_id=print_id)
    register = Register.of(job)
    context: dict[str, Any] = {"register": register, "job": job, "book_size": await _size(session, register)}
    if job.purpose == prints.ARCHIVE:
        context["archived"] = await register_archive.find(
            session, organization_id=job.organization_id, kind=job.kind, series=job.series, year=job.year
        )
        context["can_archive"] = principal.has_role(Role.clerk, job.organization_id) and job.year < vn_today().year
        return render(request, "registers/_archive_card.html", context)
    return render(request, "registers/_print_card.html", context)
