"""Register prints made in the background (web/register_prints.py): the panel of one print as it is
now, and its finished book. Starting one is the register page's own form (incoming, outgoing)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.authz import Principal
from services.blobs import BlobStore
from services.directory.models import Role
from services.documents import register_prints as prints
from services.errors import Conflict, NotFound
from services.i18n import _l
from services.uploads import PDF
from web import live
from web import register_prints as panel
from web.deps import Access, SessionDep

router = APIRouter(tags=["registers"])
# Whoever may print a register of some kind (services.documents.register_prints.READERS); the
# print's own register decides the rest.
PRINT_ROLES = sorted(set().union(*prints.READERS.values()), key=list(Role).index)
PrintReader = Annotated[Principal, Depends(Access(*PRINT_ROLES))]


async def _channel_rule(viewer: live.Viewer, ident: str) -> bool:
    """`print-<id>`: whoever may print the print's register."""
    job_id = live.channel_id(ident)
    if job_id is None:
        return False
    job = await viewer.session().get(prints.RegisterPrint, job_id)
    return job is not None and prints.may_read(await viewer.principal(), kind=job.kind, organization_id=job.organization_id)


live.CHANNEL_RULES["print"] = _channel_rule


@router.get("/registers/prints/{print_id}")
async def print_card(request: Request, principal: PrintReader, session: SessionDep, print_id: int) -> Response:
    """The print's panel as it is now (the register page swaps it in at each step of the print)."""
    return await panel.card(request, session, principal, print_id)


@router.get("/registers/prints/{print_id}/book.pdf")
async def print_file(request: Request, principal: PrintReader, session: SessionDep, print_id: int) -> Response:
    """The printed book (a print's, not an archive's: that one is the register's archived book)."""
    job = await prints.visible(session, principal=principal, print_id=print_id)
    if job.purpose != prints.PRINT:
        raise NotFound(_l("register not found"))
    if job.status != prints.DONE:
        raise Conflict(_l("The register is not printed yet. Wait for the print to finish, or print it again."))
    if not job.pdf_sha256:  # a newer print of the register took its place (and its file)
        raise NotFound(_l("A newer print of this register replaced this one. Download the newest from the register's page."))
    data = BlobStore.for_settings(request.app.state.settings).get(job.pdf_sha256)
    name = panel.Register.of(job).filename
    return Response(
        data,
        media_type=PDF,
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}", "Cache-Control": "private, no-store"},
    )
