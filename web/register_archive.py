"""The archived book of a closed register, downloaded from its page (the outgoing register and
each incoming series share it). Closing one runs in the background like a print
(services.documents.register_prints, web/register_prints.py)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.blobs import BlobStore
from services.documents import register_archive
from services.errors import NotFound
from services.i18n import _l
from services.uploads import PDF


async def archived_file(request: Request, session: AsyncSession, *, kind: str, series: str, org_id: int, year: int, name: str) -> Response:
    """The archived book of a closed register, shown inline."""
    row = await register_archive.find(session, organization_id=org_id, kind=kind, series=series, year=year)
    if row is None:
        raise NotFound(_l("register not found"))
    data = BlobStore.for_settings(request.app.state.settings).get(row.pdf_sha256)
    return Response(data, media_type=PDF, headers={"Content-Disposition": f'inline; filename="{name}"'})
