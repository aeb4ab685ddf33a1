"""Pages to sign a PDF with one's own key (or the organisation's seal) and to check signatures."""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import record
from services.authz import Principal, require
from services.blobs import BlobStore
from services.config import Settings
from services.directory.models import STAFF, Organization, Role
from services.errors import DomainError, Forbidden, InvalidInput, NotFound
from services.i18n import _l
from services.numbers import is_digits
from services.uploads import PDF, PNG, CheckedUpload, check_upload
from signing import service as signing
from signing.appearance import Appearance
from signing.pades import LEVELS
from signing.validation import ValidationReport
from web import pin_form
from web.deps import Access, SessionDep, SignedIn, writes_on_read
from web.templating import render

router = APIRouter(tags=["signing"])
Clerk = Annotated[Principal, Depends(Access(*STAFF))]
OrgAdmin = Annotated[Principal, Depends(Access(Role.admin, org_param="org_id"))]


def _download_token(secret: str, user_id: int, digest: str) -> str:
    return hmac.new(secret.encode(), f"{user_id}:{digest}".encode(), hashlib.sha256).hexdigest()[:32]


async def _read(upload: UploadFile, request: Request, allowed: set[str]):
    limit = request.app.state.settings.upload_max_bytes
    return check_upload(filename=upload.filename, data=await upload.read(limit + 1), allowed=allowed, max_bytes=limit)


async def _seal_orgs(session, principal: Principal) -> list[Organization]:
    ids = principal.orgs_with(Role.clerk)
    return list((await session.scalars(select(Organization).where(Organization.id.in_(ids)))).all()) if ids else []


@router.get("/signing")
async def signing_page(request: Request, principal: Clerk, session: SessionDep) -> Response:
    return await _page(request, principal, session)


async def _page(
    request: Request,
    principal: Principal,
    session: AsyncSession,
    form: dict[str, str] | None = None,
    pin_error: pin_form.PinError | None = None,
) -> Response:
    """The signing page; after a refused PIN, with its message and the choices made (not the PIN)."""
    settings = request.app.state.settings
    return render(
        request,
        "signing/index.html",
        {
            "levels": LEVELS,
            "default_level": await signing.org_level(session, settings=settings, organization_id=principal.me.organization_id),
            "seal_orgs": await _seal_orgs(session, principal),
            "form": form or {},
            "pin_error": pin_error,
        },
        status_code=pin_error.status_code if pin_error else 200,
    )


@router.post("/signing/sign")
async def sign(
    request: Request,
    principal: Clerk,
    session: SessionDep,
    file: Annotated[UploadFile, File()],
    pin: Annotated[str, Form()] = "",
    mode: Annotated[str, Form()] = "person",
    org_id: Annotated[str, Form()] = "",
    level: Annotated[str, Form()] = "B-LT",
    placement: Annotated[str, Form()] = "auto",
    notation: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    settings = request.app.state.settings
    upload = await _read(file, request, {PDF})
    if level not in LEVELS:
        raise InvalidInput(_l("Unknown signature level."))
    target = signing.SigningTarget("pdf", hashlib.sha256(upload.data).hexdigest()[:16])
    kept = {
        "mode": mode,
        "org_id": org_id,
        "level": level,
        "placement": placement,
        "notation": notation,
        "reason": reason,
        "filename": upload.filename,
    }

    async def open_key(**owner: Any) -> Any:
        """The key, or the page again with the refusal beside the PIN (the choices kept)."""
        try:
            if not pin:
                raise InvalidInput(_l("Enter your signing PIN."))
            return await signing.open_signer(session, settings=settings, actor=principal.actor, pin=pin, target=target, **owner), None
        except DomainError as exc:
            if not pin_form.browser_form(request):
                raise
            error = await pin_form.refused(session, exc, form="sign")
            return None, error.apply(await _page(request, principal, session, kept, error))

    if mode == "org":
        if not is_digits(org_id):
            raise InvalidInput(_l("Choose the organisation."))
        require(principal, [Role.clerk], int(org_id), "organization")
        org = await session.get(Organization, int(org_id))
        if org is None:
            raise NotFound(_l("Organisation not found."))
        image = await signing.profile_image(session, settings=settings, organization_id=org.id)
        if placement == "attachment":
            if not notation.strip():
                raise InvalidInput(_l("Enter the number/notation for the stamp."))
            looks = Appearance.attachment(notation=notation.strip())
        elif placement == "invisible":
            looks = None
        else:
            looks = Appearance.seal(org_name=org.name, image_png=image)
        key, again = await open_key(org=org)
        if again is not None:
            return again
        # Signing waits on OCSP and the time stamp: open_signer left no transaction open.
        signed = await signing.sign_as_org(
            settings=settings,
            signer=key,
            actor=principal.actor,
            org=org,
            pdf=upload.data,
            level=level,
            appearance=looks,
            field_name=f"Seal-{org.code}",
            reason=reason or None,
            target=target,
        )
        signer_label = org.name
    else:
        image = await signing.profile_image(session, settings=settings, user_id=principal.me.id)
        looks = None if placement == "invisible" else Appearance.signature(name=principal.me.full_name, image_png=image)
        key, again = await open_key(user=principal.user)
        if again is not None:
            return again
        # Signing waits on OCSP and the time stamp: open_signer left no transaction open.
        signed = await signing.sign_as_person(
            settings=settings,
            signer=key,
            actor=principal.actor,
            user=principal.user,
            pdf=upload.data,
            level=level,
            appearance=looks,
            field_name=f"Sig-{principal.me.username}",
            reason=reason or None,
            target=target,
        )
        signer_label = principal.me.full_name
    digest = BlobStore.for_settings(settings).put(signed)
    report = await signing.validate(settings=settings, pdf=signed)  # before the audit entry's transaction begins
    await record(
        session,
        actor=principal.actor,
        action="signing.sign",
        object_type="pdf",
        object_id=digest[:16],
        details={"file": upload.filename, "signed_sha256": digest, "level": level, "as": mode, "signer": signer_label},
    )
    token = _download_token(settings.ensure_secret_key(), principal.me.id, digest)
    name = upload.filename.rsplit(".", 1)[0] + "-da-ky.pdf"
    return render(
        request,
        "signing/result.html",
        {
            "report": report,
            "download": f"/signing/download/{digest}?t={token}&name={name}",
            "filename": name,
        },
    )


@router.get("/signing/download/{digest}")
@writes_on_read
async def download(
    request: Request, principal: SignedIn, session: SessionDep, digest: str, t: str = "", name: str = "da-ky.pdf"
) -> Response:
    expected = _download_token(request.app.state.settings.ensure_secret_key(), principal.me.id, digest)
    if not hmac.compare_digest(expected.encode(), t.encode()):  # str compare refuses non-ASCII (a 500)
        raise NotFound(_l("file not found"))
    data = BlobStore.for_settings(request.app.state.settings).get(digest)
    safe = "".join(c for c in name if c.isalnum() or c in "-_.") or "da-ky.pdf"
    return Response(data, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{safe}"'})


async def verify_upload(session: AsyncSession, settings: Settings, principal: Principal, upload: CheckedUpload) -> ValidationReport:
    """Every signature of an uploaded PDF checked (the page's and the API's); only the check is kept, in the audit trail."""
    await session.commit()  # validation waits on OCSP and CRLs: no transaction stays open
    report = await signing.validate(settings=settings, pdf=upload.data)
    await record(
        session,
        actor=principal.actor,
        action="signing.verify",
        object_type="pdf",
        object_id=hashlib.sha256(upload.data).hexdigest()[:16],
        details={"file": upload.filename, "signatures": len(report.signatures), "all_valid": report.all_valid},
    )
    return report


@router.post("/signing/verify")
async def verify(request: Request, principal: SignedIn, session: SessionDep, file: Annotated[UploadFile, File()]) -> Response:
    upload = await _read(file, request, {PDF})
    report = await verify_upload(session, request.app.state.settings, principal, upload)
    return render(request, "signing/result.html", {"report": report, "download": None, "filename": upload.filename})


@router.get("/signing/image/me.png")
async def my_image(request: Request, principal: SignedIn, session: SessionDep) -> Response:
    png = await signing.preview_png(session, settings=request.app.state.settings, user=principal.user)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/account/signature-image")
async def upload_my_image(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    file: Annotated[UploadFile | None, File()] = None,
    remove: Annotated[str, Form()] = "",
) -> Response:
    image = None if remove or file is None or not file.filename else (await _read(file, request, {PNG})).data
    if image is None and not remove:
        raise InvalidInput(_l("Choose a PNG image."))
    await signing.set_profile(
        session,
        settings=request.app.state.settings,
        actor=principal.actor,
        user_id=principal.me.id,
        image_png=image,
        remove_image=bool(remove),
    )
    return RedirectResponse("/account?ok=signature", status_code=303)


@router.get("/admin/orgs/{org_id}/seal.png")
async def seal_image(request: Request, principal: OrgAdmin, session: SessionDep, org_id: int) -> Response:
    org = await session.get(Organization, org_id)
    if org is None:
        raise NotFound(_l("Organisation not found."))
    png = await signing.preview_png(session, settings=request.app.state.settings, org=org)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.post("/admin/orgs/{org_id}/signing")
async def org_signing(
    request: Request,
    principal: OrgAdmin,
    session: SessionDep,
    org_id: int,
    level: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
    remove: Annotated[str, Form()] = "",
) -> Response:
    if not principal.orgs_with(Role.admin):
        raise Forbidden(_l("Admins only."))
    image = None if remove or file is None or not file.filename else (await _read(file, request, {PNG})).data
    await signing.set_profile(
        session,
        settings=request.app.state.settings,
        actor=principal.actor,
        organization_id=org_id,
        image_png=image,
        remove_image=bool(remove),
        pades_level=level or None,
    )
    return RedirectResponse(f"/admin/orgs/{org_id}?ok=signing", status_code=303)
