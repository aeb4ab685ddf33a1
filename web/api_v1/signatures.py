"""Checking a signed PDF over the public API (the "Kiểm tra chữ ký" page's job): every signature,
its signer, certificate chain, revocation and time stamp, as one report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile

from services.uploads import PDF
from signing.validation import ValidationReport
from web.deps import SessionDep, SignedIn
from web.routes.signing import _read, verify_upload

router = APIRouter(prefix="/api/v1/signatures", tags=["api v1: signatures"])


@router.post("/verify", response_model=ValidationReport)
async def verify(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="The signed PDF")],
) -> ValidationReport:
    """Validate every signature of a PDF (intact, trusted chain, not revoked, time stamp); nothing
    is kept but the audit entry of the check."""
    upload = await _read(file, request, {PDF})
    return await verify_upload(session, request.app.state.settings, principal, upload)
