"""Closing a register from its page (the outgoing register and each incoming series share it):
the checks, the book printed and time-stamped with no transaction open, then the record in a
short write of its own; and the archived book's download."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from services import calendar
from services.authz import Principal, require
from services.blobs import BlobStore
from services.directory.models import Role
from services.documents import register_archive
from services.documents.registers_print import RegisterKind
from services.errors import Conflict, NotFound
from services.i18n import _l
from services.uploads import PDF
from web.deps import write_apart

Book = Callable[[], Awaitable[tuple[str, Sequence[Mapping[str, object]]]]]


async def close(
    request: Request, session: AsyncSession, principal: Principal, *, kind: RegisterKind, series: str, org_id: int, year: int, book: Book
) -> None:
    """Archive the register of a closed year; `book` reads its title and rows (in the snapshot)."""
    from signing.register_archive import archived_book

    require(principal, [Role.clerk], org_id, "register")
    today = calendar.vn_today()
    register_archive.check_closable(kind=kind, series=series, year=year, today=today)
    if await register_archive.find(session, organization_id=org_id, kind=kind, series=series, year=year):
        raise Conflict(_l("The register of {year} is already archived.", year=year))
    title, rows = await book()
    await session.rollback()  # LibreOffice and the time stamp come with no transaction open
    settings = request.app.state.settings
    pdf = await archived_book(settings=settings, kind=kind, org_name=title, year=year, rows=rows)
    sha = BlobStore.for_settings(settings).put(pdf)

    async def recorded(write: AsyncSession) -> None:
        await register_archive.archive(
            write,
            principal=principal,
            organization_id=org_id,
            kind=kind,
            series=series,
            year=year,
            entries=len(rows),
            pdf_sha256=sha,
            today=today,
        )

    await write_apart(request, recorded)


async def archived_file(request: Request, session: AsyncSession, *, kind: str, series: str, org_id: int, year: int, name: str) -> Response:
    """The archived book of a closed register, shown inline."""
    row = await register_archive.find(session, organization_id=org_id, kind=kind, series=series, year=year)
    if row is None:
        raise NotFound(_l("register not found"))
    data = BlobStore.for_settings(request.app.state.settings).get(row.pdf_sha256)
    return Response(data, media_type=PDF, headers={"Content-Disposition": f'inline; filename="{name}"'})
