"""Outgoing documents (Văn bản đi): lists per role, drafting, review, signing with the PIN,
issuing with number and seal, dispatch statuses, edXML export/import, the register.

Signing happens here, where the signer typed the PIN (never stored, never sent to a workflow);
after each change the document's workflow is poked once the request's transaction committed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services import textsearch
from services.audit import service as audit
from services.authz import Principal, require
from services.blobs import BlobStore
from services.directory import service as directory
from services.directory.models import Level, Organization, Role, Unit, User
from services.documents import register_prints
from services.errors import DomainError, Forbidden, InvalidInput, NotFound
from services.i18n import _l
from services.incoming import service as incoming
from services.numbers import is_digits
from services.outbox.service import tell
from services.outgoing import drafting, edxml, exchange
from services.outgoing import service as outgoing
from services.outgoing.models import Decision, ReviewMode, Secrecy, Urgency
from services.uploads import DOCX, JPEG, PDF, PNG, TIFF, XML, CheckedUpload, OfficeLimits, check_upload
from web import outgoing_signing as flow
from web import page_images, pin_form
from web import register_archive as closing
from web import register_prints as prints_panel
from web.deps import MAX_ID, Access, SessionDep, SignedIn, write_apart, writes_on_read
from web.form_values import form_id, form_ids
from web.i18n import VN_TZ
from web.live import Viewer, channel_id
from web.register_book import BOOK_PAGE, book_page
from web.templating import render

log = logging.getLogger(__name__)
router = APIRouter(prefix="/outgoing", tags=["outgoing"])
Member = Annotated[Principal, Depends(Access(*Role))]
Drafter = Annotated[Principal, Depends(Access(*outgoing.DRAFT_ROLES))]
Clerk = Annotated[Principal, Depends(Access(Role.clerk))]
Signer = Annotated[Principal, Depends(Access(*outgoing.SIGNER_ROLES))]
ATTACHMENT_TYPES = {PDF, DOCX, PNG, JPEG, TIFF}
TABS = ("drafts", "review", "sign", "issue", "issued")


# --------------------------------------------------------------------------- helpers


async def _read(upload: UploadFile | None, request: Request, allowed: set[str]) -> CheckedUpload | None:
    if upload is None or not upload.filename:
        return None
    settings = request.app.state.settings
    limit = settings.upload_max_bytes
    return check_upload(
        filename=upload.filename, data=await upload.read(limit + 1), allowed=allowed, max_bytes=limit, office=OfficeLimits.of(settings)
    )


def _date(value: object) -> dt.date | None:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(_l("Invalid date (dd/mm/yyyy).")) from None


def _done(document_id: int, flash: str = "saved") -> RedirectResponse:
    return RedirectResponse(f"/outgoing/{document_id}?ok={flash}", status_code=303)


async def _group_orgs(session, principal: Principal, own_org_id: int, groups: list[str]) -> set[int]:
    """Shortcuts of the recipient picker: all districts, all communes, direct subordinates."""
    orgs = (await session.scalars(select(Organization).where(Organization.active.is_(True)))).all()
    below = principal.tree.subtree(own_org_id) - {own_org_id}
    result: set[int] = set()
    for org in orgs:
        if "children" in groups and org.parent_id == own_org_id:
            result.add(org.id)
        if "district" in groups and org.level == Level.district and org.id in below:
            result.add(org.id)
        if "commune" in groups and org.level == Level.commune and org.id in below:
            result.add(org.id)
    return result


async def _fields_from_form(session, principal: Principal, org_id: int, form) -> outgoing.DraftFields:
    ids = set(form_ids(form.getlist("recipient_org_ids")))
    ids |= await _group_orgs(session, principal, org_id, [str(g) for g in form.getlist("groups")])
    try:
        urgency = Urgency(form.get("urgency") or "normal")
        secrecy = Secrecy(form.get("secrecy") or "normal")
    except ValueError:
        raise InvalidInput(_l("Invalid urgency or secrecy.")) from None
    return outgoing.DraftFields(
        doc_type=str(form.get("doc_type") or ""),
        subject=str(form.get("subject") or ""),
        body=str(form.get("body") or ""),
        signer_id=form_id(form.get("signer_id")),
        recipient_org_ids=sorted(ids),
        external_recipients=str(form.get("external_recipients") or "").splitlines(),
        authority_prefix=str(form.get("authority_prefix") or ""),
        authority_line=str(form.get("authority_line") or ""),
        unit_id=form_id(form.get("unit_id")),
        urgency=urgency,
        secrecy=secrecy,
        due_date=_date(form.get("due_date")),
    )


async def _form_context(session, principal: Principal, org_id: int) -> dict[str, object]:
    orgs = await directory.list_orgs(session)
    by_id = {o.id: o for o in orgs}
    return {
        "org_id": org_id,
        "types": outgoing.all_type_codes(),
        "skeletons": drafting.SKELETONS,
        "signers": await outgoing.signers_of(session, organization_id=org_id),
        "units": await directory.units_of(session, org_id=org_id),
        "tree": [(o, directory.org_depth(o, by_id)) for o in orgs if o.id != org_id and o.active],
        "prefixes": drafting.AUTHORITY_PREFIXES,
        "urgencies": list(Urgency),
        "secrecies": list(Secrecy),
    }


def _draft_org(principal: Principal) -> int:
    scope = principal.orgs_with(*outgoing.DRAFT_ROLES)
    if principal.me.organization_id in scope:
        return principal.me.organization_id
    return min(scope)


async def _answered(session, principal: Principal, value: object):
    """The incoming document a new draft replies to (`reply_to`), checked like its own page."""
    reply_to = form_id(str(value or ""))
    if reply_to is None:
        return None
    doc, _ = await incoming.get_for(session, principal=principal, document_id=reply_to)
    if doc.organization_id not in principal.orgs_with(*outgoing.DRAFT_ROLES):
        raise Forbidden(_l("You do not draft for this organisation."))
    return doc


# --------------------------------------------------------------------------- lists


@router.get("")
async def lists(
    request: Request,
    principal: Member,
    session: SessionDep,
    tab: str = "",
    before: int | None = None,
    q: str = "",
    rank: int = Query(0, ge=0, le=1),
) -> Response:
    counts = await outgoing.queue_counts(session, principal=principal)
    if tab not in TABS:
        tab = next(
            (t for t in ("sign", "issue", "review") if counts.get(t)), "drafts" if principal.orgs_with(*outgoing.DRAFT_ROLES) else "issued"
        )
    docs = await outgoing.queue(session, principal=principal, name=tab, before=before, q=q or None, before_rank=rank)
    words = textsearch.Query.parse(q)
    due = await outgoing.review_due(session, principal=principal, document_ids=[d.id for d in docs]) if tab == "review" else {}
    if tab == "review":
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        docs.sort(key=lambda d: due.get(d.id) or far)
    orgs = {
        o.id: o
        for o in (await session.scalars(select(Organization).where(Organization.id.in_({d.organization_id for d in docs} or {0})))).all()
    }
    users = {
        u.id: u
        for u in (
            await session.scalars(select(User).where(User.id.in_({d.signer_id for d in docs} | {d.drafter_id for d in docs} or {0})))
        ).all()
    }
    now = dt.datetime.now(dt.UTC)
    return render(
        request,
        "outgoing/list.html",
        {
            "tab": tab,
            "docs": docs,
            "counts": counts,
            "orgs": orgs,
            "users": users,
            "due": due,
            "now": now,
            "q": q,
            "next_before": docs[-1].id if len(docs) == 30 else None,
            "type_name": drafting.type_name,
            "next_rank": textsearch.rank_of(docs[-1], words) if words and docs else 0,
            "can_draft": bool(principal.orgs_with(*outgoing.DRAFT_ROLES)),
            "is_clerk": bool(principal.orgs_with(Role.clerk)),
        },
    )


# --------------------------------------------------------------------------- edXML import


@router.get("/edxml/import")
async def edxml_form(request: Request, principal: Clerk, session: SessionDep) -> Response:
    orgs = await directory.list_orgs(session, org_ids=principal.orgs_with(Role.clerk))
    return render(request, "outgoing/import.html", {"orgs": orgs})


@router.post("/edxml/import")
async def edxml_import(
    request: Request,
    principal: Clerk,
    session: SessionDep,
    package: Annotated[UploadFile, File()],
    organization_id: Annotated[str, Form()] = "",
) -> Response:
    upload = await _read(package, request, {XML})
    if upload is None:
        raise InvalidInput(_l("Choose the edXML file."))
    settings = request.app.state.settings
    if edxml.is_status(upload.data):  # a partner's status on a document we issued
        doc, _row, _status = await exchange.import_status(session, settings=settings, principal=principal, data=upload.data)
        return _done(doc.id, "status")
    copy, parsed = await exchange.import_package(
        session, settings=settings, principal=principal, data=upload.data, organization_id=form_id(organization_id)
    )
    wants_json = "json" in request.headers.get("accept", "")
    if wants_json:
        from fastapi.responses import JSONResponse

        return JSONResponse({"incoming_id": getattr(copy, "id", None), "document_id": parsed.document_id})
    return RedirectResponse(f"/incoming/{getattr(copy, 'id', '')}?ok=imported", status_code=303)


# --------------------------------------------------------------------------- register


@router.get("/register/{year}")
async def register(
    request: Request,
    principal: Member,
    session: SessionDep,
    year: int,
    org: int | None = None,
    format: str = "html",
    after: Annotated[str, Query(max_length=40)] = "",
    start: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The register, a page at a time (`after=<series>.<number>`, or from number `start` of the
    general series); the DOCX (`format=docx`) is the whole book, and so is the PDF, which is
    printed in the background (`POST …/print`; `format=pdf` shows the page with its print panel)."""
    scope = principal.orgs_with(Role.clerk, Role.leader, Role.deputy_leader, Role.auditor, Role.admin)
    org_id = org or (principal.me.organization_id if principal.me.organization_id in scope else min(scope or {0}))
    require(principal, [Role.clerk, Role.leader, Role.deputy_leader, Role.auditor, Role.admin], org_id, "register")
    organization = await session.get(Organization, org_id)
    if organization is None:
        raise NotFound(_l("not found"))
    series, _, number = after.partition(".")
    cursor = ("chung", start - 1) if start else (series, int(number)) if is_digits(number) and int(number) <= MAX_ID else ("", 0)
    printing = format == "docx"
    rows = await outgoing.register_rows(
        session,
        organization_id=org_id,
        year=year,
        after=("", 0) if printing else cursor,
        limit=None if printing else BOOK_PAGE + 1,
    )
    if printing:
        from services.documents.registers_print import build_register_docx

        org_name, actor = organization.name, principal.actor  # read before the snapshot ends
        # Built with no transaction open (seconds for a year's register) and recorded afterwards in
        # a short write of its own.
        await session.rollback()
        data = await asyncio.to_thread(build_register_docx, kind="outgoing", org_name=org_name, year=year, rows=rows)

        async def recorded(write: AsyncSession) -> None:
            await audit.record(
                write,
                actor=actor,
                action="outgoing.register_print",
                object_type="register",
                object_id=f"outgoing-{org_id}-{year}",
                organization_id=org_id,
                details={"format": "docx"},
            )

        await write_apart(request, recorded)
        return _file(data, f"so-van-ban-di-{year}.docx", DOCX)
    orgs = await directory.list_orgs(session, org_ids=scope)
    from services.documents import register_archive

    size = await outgoing.register_size(session, organization_id=org_id, year=year)
    return render(
        request,
        "outgoing/register.html",
        {
            "rows": rows[:BOOK_PAGE],
            "book": book_page(
                rows,
                after=cursor != ("", 0),
                size=size,
                base=f"/outgoing/register/{year}?org={org_id}",
                cursor=lambda row: f"{row['series']}.{row['number']}",
            ),
            "year": year,
            **await prints_panel.panel(session, prints_panel.Register("outgoing", "chung", org_id, year), size=size),
            "archived": await register_archive.find(session, organization_id=org_id, kind="outgoing", series="chung", year=year),
            "can_archive": principal.has_role(Role.clerk, org_id) and year < dt.datetime.now(VN_TZ).year,
            "org": organization,
            "orgs": orgs,
            "years": range(dt.date.today().year, dt.date.today().year - 5, -1),
        },
    )


@router.post("/register/{year}/print")
async def register_print(request: Request, principal: Member, session: SessionDep, year: int, org: Annotated[str, Form()] = "") -> Response:
    """Print the whole register as PDF in the background; the page follows the print and offers the file."""
    org_id = form_id(org) or principal.me.organization_id
    await register_prints.start(session, principal=principal, kind="outgoing", series="chung", organization_id=org_id, year=year)
    return RedirectResponse(f"{prints_panel.Register('outgoing', 'chung', org_id, year).page_url}#register-print", status_code=303)


@router.post("/register/{year}/archive")
async def register_archive(
    request: Request, principal: Clerk, session: SessionDep, year: int, org: Annotated[str, Form()] = ""
) -> Response:
    """Close a past year's register: its book printed, time-stamped (B-LTA) and kept, in the background."""
    org_id = form_id(org) or principal.me.organization_id
    await register_prints.start(
        session, principal=principal, kind="outgoing", series="chung", organization_id=org_id, year=year, purpose=register_prints.ARCHIVE
    )
    return RedirectResponse(f"{prints_panel.Register('outgoing', 'chung', org_id, year).page_url}#register-archive", status_code=303)


@router.get("/register/{year}/archive.pdf")
async def register_archive_file(request: Request, principal: Member, session: SessionDep, year: int, org: int | None = None) -> Response:
    org_id = org or principal.me.organization_id
    require(principal, [Role.clerk, Role.leader, Role.deputy_leader, Role.auditor, Role.admin], org_id, "register")
    name = f"so-van-ban-di-{year}-luu-tru.pdf"
    return await closing.archived_file(request, session, kind="outgoing", series="chung", org_id=org_id, year=year, name=name)


@router.get("/register")
async def register_now(request: Request, principal: Member, year: int | None = None, org: int | None = None) -> Response:
    """The register of this year (or of the year and organisation chosen in the form)."""
    target = f"/outgoing/register/{year or dt.datetime.now(VN_TZ).year}"
    return RedirectResponse(target + (f"?org={org}" if org else ""), status_code=303)


# --------------------------------------------------------------------------- drafting


@router.get("/new")
async def new_form(request: Request, principal: Drafter, session: SessionDep, doc_type: str = "CV", reply_to: str = "") -> Response:
    answered = await _answered(session, principal, reply_to)
    org_id = answered.organization_id if answered else _draft_org(principal)
    ctx = await _form_context(session, principal, org_id)
    values: dict[str, object] = {
        "doc_type": doc_type,
        "body": drafting.SKELETONS.get(doc_type, ""),
        "authority_prefix": "TM.",
        "authority_line": "BAN THƯỜNG VỤ",
        "unit_id": principal.user.unit_id,
    }
    selected: set[int] = set()
    if answered is not None:
        # A reply goes back to the issuer: in the system when it is an organisation there.
        dated = f" ngày {answered.document_date:%d/%m/%Y}" if answered.document_date else ""
        values["subject"] = f"Trả lời văn bản số {answered.number_notation}{dated} của {answered.issuer_name}"
        issuer = answered.issuer_org_id or answered.sender_org_id
        if issuer:
            selected.add(issuer)
        else:
            values["external_recipients"] = answered.issuer_name
    ctx.update({"doc": None, "values": values, "selected": selected, "answered": answered})
    return render(request, "outgoing/form.html", ctx)


@router.post("")
async def create(
    request: Request,
    principal: Drafter,
    session: SessionDep,
    docx: Annotated[UploadFile | None, File()] = None,
    files: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    form = await request.form()
    answered = await _answered(session, principal, form.get("reply_to"))
    org_id = answered.organization_id if answered else _draft_org(principal)
    fields = await _fields_from_form(session, principal, org_id, form)
    upload = await _read(docx, request, {DOCX})
    extra = [u for u in [await _read(f, request, ATTACHMENT_TYPES) for f in files or []] if u]
    doc = await outgoing.create_draft(
        session,
        settings=request.app.state.settings,
        actor=principal.actor,
        organization_id=org_id,
        fields=fields,
        upload=upload,
        files=extra,
    )
    if answered is not None:
        await incoming.link_reply(session, principal=principal, document_id=answered.id, outgoing_id=doc.id)
    await tell(session, "outgoing", doc.id, "changed", "created")
    return _done(doc.id, "created")


async def _doc(session, principal: Principal, document_id: int):
    return await outgoing.get_for(session, principal=principal, document_id=document_id)


@router.get("/{document_id}/edit")
async def edit_form(request: Request, principal: SignedIn, session: SessionDep, document_id: int) -> Response:
    doc = await _doc(session, principal, document_id)
    if "edit" not in outgoing.allowed_actions(doc, principal, []):
        raise InvalidInput(_l("This draft cannot be edited now."))
    ctx = await _form_context(session, principal, doc.organization_id)
    rows = await outgoing.recipients(session, document_id=doc.id)
    ctx.update(
        {
            "doc": doc,
            "selected": {r.organization_id for r in rows if r.organization_id},
            "values": {
                "doc_type": doc.doc_type,
                "subject": doc.subject,
                "body": doc.body,
                "signer_id": doc.signer_id,
                "authority_prefix": doc.authority_prefix or "",
                "authority_line": doc.authority_line or "",
                "unit_id": doc.unit_id,
                "urgency": doc.urgency.value,
                "secrecy": doc.secrecy.value,
                "due_date": doc.due_date.isoformat() if doc.due_date else "",
                "external_recipients": "\n".join(r.name for r in rows if r.external),
            },
        }
    )
    return render(request, "outgoing/form.html", ctx)


@router.post("/{document_id}/edit")
async def save_edit(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    document_id: int,
    docx: Annotated[UploadFile | None, File()] = None,
) -> Response:
    doc = await _doc(session, principal, document_id)
    form = await request.form()
    fields = await _fields_from_form(session, principal, doc.organization_id, form)
    upload = await _read(docx, request, {DOCX})
    await outgoing.update_draft(
        session,
        settings=request.app.state.settings,
        actor=principal.actor,
        doc=doc,
        fields=fields,
        note=str(form.get("note") or "") or None,
        upload=upload,
    )
    await tell(session, "outgoing", doc.id, "changed", "version")
    return _done(doc.id)


@router.post("/{document_id}/attachments")
async def attach(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    document_id: int,
    files: Annotated[list[UploadFile], File()],
) -> Response:
    doc = await _doc(session, principal, document_id)
    if "attach" not in outgoing.allowed_actions(doc, principal, []):
        raise InvalidInput(_l("Only the drafter can attach files."))
    for item in files:
        upload = await _read(item, request, ATTACHMENT_TYPES)
        if upload:
            await outgoing.add_attachment(session, settings=request.app.state.settings, actor=principal.actor, doc=doc, upload=upload)
    return _done(doc.id)


@router.post("/{document_id}/attachments/{attachment_id}/remove")
async def detach(request: Request, principal: SignedIn, session: SessionDep, document_id: int, attachment_id: int) -> Response:
    doc = await _doc(session, principal, document_id)
    await outgoing.remove_attachment(session, actor=principal.actor, doc=doc, attachment_id=attachment_id)
    return _done(doc.id)


# --------------------------------------------------------------------------- the document page


@router.get("/{document_id}")
async def page(request: Request, principal: SignedIn, session: SessionDep, document_id: int) -> Response:
    return await _page(request, principal, session, document_id)


async def _page(
    request: Request, principal: Principal, session: AsyncSession, document_id: int, pin_error: pin_form.PinError | None = None
) -> Response:
    from signing.validation import ValidationReport

    doc = await _doc(session, principal, document_id)
    review_rows = await outgoing.reviews(session, document_id=doc.id)
    rows = await outgoing.refresh_statuses(session, doc=doc)
    ids = {doc.drafter_id, doc.signer_id, doc.issued_by_id} | {r.reviewer_id for r in review_rows}
    versions = await outgoing.versions(session, document_id=doc.id)
    ids |= {v.created_by_id for v in versions}
    users = {u.id: u for u in (await session.scalars(select(User).where(User.id.in_({i for i in ids if i} or {0})))).all()}
    org = await session.get(Organization, doc.organization_id)
    unit = await session.get(Unit, doc.unit_id) if doc.unit_id else None
    report = ValidationReport.model_validate_json(doc.validation_report) if doc.validation_report else None
    trail = await audit.search(session, filters=audit.AuditFilter(object_type="outgoing", object_id=str(doc.id)), limit=200)
    current = outgoing.current_reviews(doc, review_rows)
    colleagues = await outgoing.reviewers_of(session, organization_id=doc.organization_id)
    actions = outgoing.allowed_actions(doc, principal, review_rows)
    # The signer reads the exact PDF to sign, page by page, above the PIN field.
    to_sign = doc.prepared_pdf_sha if "sign" in actions else None
    return render(
        request,
        "outgoing/document.html",
        {
            "doc": doc,
            "org": org,
            "unit": unit,
            "users": users,
            "versions": versions,
            "reviews": review_rows,
            "current": current,
            "recipients": rows,
            "report": report,
            "trail": list(reversed(trail)),
            "attachments": await outgoing.attachments(session, document_id=doc.id),
            "actions": actions,
            "type_name": drafting.type_name,
            "to_sign": to_sign,
            "preview_pages": await page_images.count(request, to_sign),
            "pin_error": pin_error,
            "colleagues": [u for u in colleagues if u.id != doc.drafter_id],
            "status_codes": outgoing.STATUS_CODES,
            "error": None,
            "replaced_by": doc.replaced_by_id,
            "replaces": doc.replaces_id,
            "answers": await _answers(session, principal, doc.id),
        },
        status_code=pin_error.status_code if pin_error else 200,
    )


async def _answers(session, principal: Principal, outgoing_id: int) -> list[object]:
    """The incoming documents this one replies to that the viewer may open."""
    visible: list[object] = []
    for item in await incoming.answered_by(session, outgoing_id=outgoing_id):
        if await incoming.roles_on(session, principal, item):
            visible.append(item)
    return visible


@router.get("/{document_id}/versions/{number}/docx")
@writes_on_read
async def version_docx(request: Request, principal: SignedIn, session: SessionDep, document_id: int, number: int) -> Response:
    doc = await _doc(session, principal, document_id)
    version = await outgoing.version(session, document_id=doc.id, number=number)
    data = BlobStore.for_settings(request.app.state.settings).get(version.docx_sha)
    await audit.record(
        session,
        actor=principal.actor,
        action="outgoing.download",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"version": number, "kind": "docx"},
    )
    return _file(data, f"du-thao-{doc.id}-v{number}.docx", DOCX)


def _file(data: bytes, filename: str, content_type: str, inline: bool = False) -> Response:
    disposition = "inline" if inline else "attachment"
    return Response(
        data,
        media_type=content_type,
        headers={
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(filename)}",
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/{document_id}/diff")
async def diff(request: Request, principal: SignedIn, session: SessionDep, document_id: int, a: int = 0, b: int = 0) -> Response:
    doc = await _doc(session, principal, document_id)
    versions = await outgoing.versions(session, document_id=doc.id)
    if not versions:
        raise NotFound(_l("no versions"))
    new = next((v for v in versions if v.number == b), versions[-1])
    old = next((v for v in versions if v.number == a), versions[-2] if len(versions) > 1 else versions[0])
    return render(
        request,
        "outgoing/diff.html",
        {
            "doc": doc,
            "old": old,
            "new": new,
            "versions": versions,
            "lines": drafting.diff_lines(old.text, new.text),
        },
    )


@router.get("/{document_id}/pdf")
@writes_on_read
async def pdf(request: Request, principal: SignedIn, session: SessionDep, document_id: int, kind: str = "") -> Response:
    """The document as PDF: issued (with number and seal), leader-signed, or the one to sign."""
    doc = await _doc(session, principal, document_id)
    sha = (
        {"issued": doc.issued_pdf_sha, "signed": doc.leader_pdf_sha, "prepared": doc.prepared_pdf_sha}.get(kind)
        or doc.issued_pdf_sha
        or doc.leader_pdf_sha
        or doc.prepared_pdf_sha
    )
    if not sha:
        raise NotFound(_l("no PDF yet"))
    await audit.record(
        session,
        actor=principal.actor,
        action="outgoing.download",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"kind": kind or "pdf", "sha256": sha},
    )
    name = (doc.notation or f"du-thao-{doc.id}").replace("/", "_") + ".pdf"
    return _file(BlobStore.for_settings(request.app.state.settings).get(sha), name, PDF, inline=True)


@router.get("/{document_id}/pdf/{sha}/pages/{page}.png")
async def pdf_page(request: Request, principal: SignedIn, session: SessionDep, document_id: int, sha: str, page: int) -> Response:
    """One page of one of the document's PDFs (to sign, signed, issued) as an image."""
    doc = await _doc(session, principal, document_id)
    if sha not in {doc.prepared_pdf_sha, doc.leader_pdf_sha, doc.issued_pdf_sha} - {None}:
        raise NotFound(_l("no such PDF of this document"))
    return await page_images.png(request, sha, page)


@router.get("/{document_id}/attachments/{attachment_id}")
@writes_on_read
async def attachment(request: Request, principal: SignedIn, session: SessionDep, document_id: int, attachment_id: int) -> Response:
    doc = await _doc(session, principal, document_id)
    item = next((a for a in await outgoing.attachments(session, document_id=doc.id) if a.id == attachment_id), None)
    if item is None:
        raise NotFound(_l("attachment not found"))
    await audit.record(
        session,
        actor=principal.actor,
        action="outgoing.download",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"attachment": item.filename},
    )
    return _file(BlobStore.for_settings(request.app.state.settings).get(item.sealed_sha or item.sha), item.filename, item.content_type)


@router.get("/{document_id}/status")
async def status(request: Request, principal: SignedIn, session: SessionDep, document_id: int) -> Response:
    """Recipients' statuses as JSON (the page refreshes them without a reload)."""
    from fastapi.responses import JSONResponse

    doc = await _doc(session, principal, document_id)
    rows = await outgoing.refresh_statuses(session, doc=doc)
    return JSONResponse(
        {
            "status": doc.status.value,
            "prepared": bool(doc.prepared_pdf_sha),
            "recipients": [
                {
                    "id": r.id,
                    "code": r.status_code,
                    "delivered": r.delivered_at is not None,
                    "external": r.external,
                    "at": r.status_at.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M") if r.status_at else None,
                }
                for r in rows
            ],
        }
    )


# --------------------------------------------------------------------------- review


@router.post("/{document_id}/submit")
async def submit(request: Request, principal: SignedIn, session: SessionDep, document_id: int) -> Response:
    doc = await _doc(session, principal, document_id)
    form = await request.form()
    reviewers = form_ids(form.getlist("reviewer_ids"))
    due_at = None
    if due := _date(form.get("review_due")):
        due_at = dt.datetime.combine(due, dt.time(17, 0), tzinfo=VN_TZ).astimezone(dt.UTC)
    try:
        mode = ReviewMode(form.get("mode") or "sequential")
    except ValueError:
        raise InvalidInput(_l("Invalid review mode.")) from None
    await outgoing.submit(session, actor=principal.actor, doc=doc, reviewer_ids=reviewers, mode=mode, due_at=due_at)
    await tell(session, "outgoing", doc.id, "changed", "submitted")
    return _done(doc.id, "submitted")


@router.post("/{document_id}/review")
async def review(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    document_id: int,
    decision: Annotated[str, Form()] = "initialled",
    comment: Annotated[str, Form()] = "",
) -> Response:
    doc = await _doc(session, principal, document_id)
    try:
        choice = Decision(decision)
    except ValueError:
        raise InvalidInput(_l("Invalid decision.")) from None
    await outgoing.decide(session, actor=principal.actor, doc=doc, decision=choice, comment=comment)
    await tell(session, "outgoing", doc.id, "changed", "reviewed")
    return _done(doc.id, "reviewed")


@router.post("/{document_id}/return")
async def return_draft(
    request: Request,
    principal: Signer,
    session: SessionDep,
    document_id: int,
    comment: Annotated[str, Form()] = "",
) -> Response:
    doc = await _doc(session, principal, document_id)
    await outgoing.return_for_revision(session, actor=principal.actor, doc=doc, comment=comment)
    await tell(session, "outgoing", doc.id, "changed", "returned")
    return _done(doc.id, "returned")


# --------------------------------------------------------------------------- signing and issuing


@router.post("/{document_id}/sign")
async def sign(
    request: Request,
    principal: Signer,
    session: SessionDep,
    document_id: int,
    pin: Annotated[str, Form()] = "",
    signed_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The leader signs with the PIN, or uploads the PDF signed with an external token."""
    settings = request.app.state.settings
    doc = await flow.ready_to_sign(session, principal, document_id)
    upload = await _read(signed_file, request, {PDF})
    key = None
    if upload is None:
        try:
            key = await flow.open_leader_key(session, settings, principal, doc, pin)
        except DomainError as exc:
            if not pin_form.browser_form(request):
                raise
            error = await pin_form.refused(session, exc, form="sign")
            return error.apply(await _page(request, principal, session, document_id, pin_error=error))
    await flow.finish_signing(session, settings, principal, doc, key=key, upload=upload)
    return _done(doc.id, "signed")


@router.post("/{document_id}/issue")
async def issue(
    request: Request,
    principal: Clerk,
    session: SessionDep,
    document_id: int,
    pin: Annotated[str, Form()] = "",
) -> Response:
    """Number, date and seal in one step (web.outgoing_signing)."""
    settings = request.app.state.settings
    doc = await _doc(session, principal, document_id)
    key = None
    if flow.seal_needed(principal, doc):
        try:
            key = await flow.open_seal_key(session, settings, principal, doc, pin)
        except DomainError as exc:
            if not pin_form.browser_form(request):
                raise
            error = await pin_form.refused(session, exc, form="issue")
            return error.apply(await _page(request, principal, session, document_id, pin_error=error))
    await flow.finish_issue(session, settings, principal, doc, key=key)
    return _done(doc.id, "issued")


@router.post("/{document_id}/cancel")
async def cancel(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    document_id: int,
    reason: Annotated[str, Form()] = "",
) -> Response:
    doc = await _doc(session, principal, document_id)
    await outgoing.cancel(session, actor=principal.actor, principal=principal, doc=doc, reason=reason)
    await tell(session, "outgoing", doc.id, "changed", "cancelled")
    return _done(doc.id, "cancelled")


@router.post("/{document_id}/recall")
async def recall(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    document_id: int,
    reason: Annotated[str, Form()] = "",
) -> Response:
    doc = await _doc(session, principal, document_id)
    await outgoing.recall(session, settings=request.app.state.settings, principal=principal, actor=principal.actor, doc=doc, reason=reason)
    await tell(session, "outgoing", doc.id, "changed", "recalled")
    return _done(doc.id, "recalled")


@router.post("/{document_id}/replace")
async def replace(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    document_id: int,
    reason: Annotated[str, Form()] = "",
) -> Response:
    doc = await _doc(session, principal, document_id)
    new = await outgoing.replace(
        session, settings=request.app.state.settings, principal=principal, actor=principal.actor, doc=doc, reason=reason
    )
    await tell(session, "outgoing", doc.id, "changed", "replaced")
    await tell(session, "outgoing", new.id, "changed", "created")
    return _done(new.id, "created")


# --------------------------------------------------------------------------- edXML


@router.get("/{document_id}/edxml")
@writes_on_read
async def edxml_export(request: Request, principal: SignedIn, session: SessionDep, document_id: int) -> Response:
    doc = await _doc(session, principal, document_id)
    name, data = await exchange.export_package(session, settings=request.app.state.settings, actor=principal.actor, doc=doc)
    return _file(data, name, "application/xml")


# --------------------------------------------------------------------------- live channel


async def _may_follow(viewer: Viewer, ident: str) -> bool:
    """`outgoing-<id>` is readable by whoever may open the document's page."""
    from services.errors import DomainError

    document_id = channel_id(ident)
    if document_id is None:
        return False
    try:
        await outgoing.get_for(viewer.session(), principal=await viewer.principal(), document_id=document_id)
    except DomainError:
        return False
    return True


def _register_channel() -> None:
    from web.live import CHANNEL_RULES

    CHANNEL_RULES["outgoing"] = _may_follow


_register_channel()
