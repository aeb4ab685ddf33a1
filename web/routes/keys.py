"""Signer certificates and signing keys: administrators register, confirm and revoke the
certificates that count as a person's or an organisation's signature and unlock keys locked
by wrong PINs; a person proposes the certificate of a first signature made with a token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from services.authz import Principal, require
from services.directory import service as directory
from services.directory.models import Organization, Role, User
from services.errors import InvalidInput
from services.i18n import _l
from services.keys import certificates, pins
from services.keys.models import CertSource
from services.numbers import is_digits
from services.uploads import PDF, check_upload
from web.deps import AdminUser, SessionDep, SignedIn
from web.templating import render

router = APIRouter(tags=["keys"])
CERT_MAX_BYTES = certificates.MAX_CERT_BYTES


def _owner(value: str) -> tuple[int | None, int | None]:
    kind, _, raw = (value or "").partition(":")
    if kind not in ("user", "org") or not is_digits(raw):
        raise InvalidInput(_l("Choose the certificate's owner."))
    return (int(raw), None) if kind == "user" else (None, int(raw))


async def _admin_scope(session, principal: Principal, *, user_id: int | None, organization_id: int | None) -> None:
    if user_id is not None:
        await directory.admin_get_user(session, principal=principal, user_id=user_id)
    else:
        require(principal, [Role.admin], organization_id, "organization")


@router.get("/admin/certificates")
async def admin_page(request: Request, principal: AdminUser, session: SessionDep) -> Response:
    scope = principal.orgs_with(Role.admin)
    orgs = await directory.list_orgs(session, org_ids=scope)
    users = await directory.list_users(session, org_ids=scope)
    rows = await certificates.listing(session, user_ids={u.id for u in users}, organization_ids={o.id for o in orgs})
    return render(
        request,
        "admin/certificates.html",
        {
            "rows": rows,
            "users": users,
            "orgs": orgs,
            "guards": await pins.troubled(session, organization_ids=scope),
            "user_names": {u.id: f"{u.full_name} ({u.username})" for u in users},
            "org_names": {o.id: o.name for o in orgs},
            "max_failures": request.app.state.settings.pin_max_failures,
        },
    )


@router.post("/admin/certificates")
async def admin_register(
    request: Request,
    principal: AdminUser,
    session: SessionDep,
    owner: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    user_id, organization_id = _owner(owner)
    await _admin_scope(session, principal, user_id=user_id, organization_id=organization_id)
    data = await file.read(CERT_MAX_BYTES + 1) if file is not None else b""
    await certificates.register(
        session, actor=principal.actor, der_or_pem=data, source=CertSource.admin, user_id=user_id, organization_id=organization_id
    )
    return RedirectResponse("/admin/certificates?ok=registered", status_code=303)


@router.post("/admin/certificates/{cert_id}/confirm")
async def admin_confirm(request: Request, principal: AdminUser, session: SessionDep, cert_id: int) -> Response:
    row = await certificates.get(session, cert_id=cert_id)
    await _admin_scope(session, principal, user_id=row.user_id, organization_id=row.organization_id)
    await certificates.confirm(session, actor=principal.actor, cert_id=cert_id)
    return RedirectResponse("/admin/certificates?ok=confirmed", status_code=303)


@router.post("/admin/certificates/{cert_id}/revoke")
async def admin_revoke(
    request: Request, principal: AdminUser, session: SessionDep, cert_id: int, reason: Annotated[str, Form()] = ""
) -> Response:
    row = await certificates.get(session, cert_id=cert_id)
    await _admin_scope(session, principal, user_id=row.user_id, organization_id=row.organization_id)
    await certificates.revoke(session, actor=principal.actor, cert_id=cert_id, reason=reason)
    return RedirectResponse("/admin/certificates?ok=revoked", status_code=303)


@router.post("/admin/keys/unlock")
async def admin_unlock(request: Request, principal: AdminUser, session: SessionDep, key: Annotated[str, Form()] = "") -> Response:
    guard = await pins.state(session, key=key)
    if guard is None:
        raise InvalidInput(_l("Unknown key."))
    await _admin_scope(
        session, principal, user_id=guard.user_id, organization_id=None if guard.user_id is not None else guard.organization_id
    )
    await pins.unlock(session, actor=principal.actor, key=key)
    return RedirectResponse("/admin/certificates?ok=unlocked", status_code=303)


@router.post("/account/certificates")
async def propose(
    request: Request, principal: SignedIn, session: SessionDep, file: Annotated[UploadFile | None, File()] = None
) -> Response:
    """The person uploads a PDF signed with their token: its newest valid signature's certificate
    is registered for them, pending until an administrator confirms it."""
    from signing.service import validate

    settings = request.app.state.settings
    limit = settings.upload_max_bytes
    if file is None or not file.filename:
        raise InvalidInput(_l("Choose a PDF you signed with your token."))
    upload = check_upload(filename=file.filename, data=await file.read(limit + 1), allowed={PDF}, max_bytes=limit)
    await session.commit()  # validation fetches revocation data: no transaction stays open meanwhile
    report = await validate(settings=settings, pdf=upload.data)
    if not report.signatures:
        raise InvalidInput(_l("The file carries no digital signature."))
    newest = report.signatures[-1]
    if not newest.ok:
        raise InvalidInput(_l("The signature is not valid: {verdict_en}", verdict_en=newest.verdict_en, verdict_vi=newest.verdict_vi))
    der = _signing_certificate(upload.data, newest.field_name)
    await certificates.register(session, actor=principal.actor, der_or_pem=der, source=CertSource.self, user_id=principal.user.id)
    return RedirectResponse("/account?ok=certificate", status_code=303)


def _signing_certificate(pdf: bytes, field_name: str) -> bytes:
    from signing.pades import open_pdf

    for sig in open_pdf(pdf).embedded_regular_signatures:
        if str(sig.field_name) == field_name:
            return bytes(sig.signer_cert.dump())
    raise InvalidInput(_l("The signature's certificate cannot be read."))


async def my_keys(session, user: User) -> dict[str, object]:
    """What the account page shows about one's certificates and key."""
    org = await session.get(Organization, user.organization_id)
    return {
        "certificates": await certificates.listing(session, user_ids={user.id}),
        "guard": await pins.state(session, key=f"person:{user.username}"),
        "org": org,
    }
