"""Outgoing documents (văn bản đi) over the public API: drafting, versions, review, signing with
the PIN or by uploading the PDF signed with an external token, issuing (number, date, seal),
cancelling, recalling, replacing, edXML import — the same service functions and access rules as
the pages (web/routes/outgoing.py, web/outgoing_signing.py), answered as JSON.

Every action answers the document as it now is, with its ETag (its last change); send it back
as If-Match so a change made meanwhile by someone else is not overwritten (409).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services import textsearch
from services.authz import Principal
from services.directory.models import Role
from services.errors import InvalidInput
from services.i18n import _l
from services.incoming import service as incoming
from services.outbox.service import tell
from services.outgoing import edxml, exchange
from services.outgoing import service as outgoing
from services.outgoing.models import Decision, OutgoingDocument, ReviewMode, Secrecy, Urgency
from services.uploads import DOCX, PDF, XML
from web import outgoing_signing as flow
from web.api_v1.common import Answer, IdempotencyKey, IfMatch, check_revision, declare_action, etag, once
from web.deps import Access, SessionDep, SignedIn
from web.i18n import VN_TZ
from web.routes.outgoing import ATTACHMENT_TYPES, _answered, _draft_org, _group_orgs, _read

router = APIRouter(prefix="/api/v1/outgoing", tags=["api v1: outgoing documents"])
Member = Annotated[Principal, Depends(Access(*Role))]
Drafter = Annotated[Principal, Depends(Access(*outgoing.DRAFT_ROLES))]
Clerk = Annotated[Principal, Depends(Access(Role.clerk))]
Signer = Annotated[Principal, Depends(Access(*outgoing.SIGNER_ROLES))]
PAGE_MAX = 100


# --- what is answered ------------------------------------------------------------------------------


class OutgoingSummary(BaseModel):
    id: int
    organization_id: int
    status: str
    doc_type: str
    subject: str
    urgency: str
    secrecy: str
    due_date: dt.date | None
    drafter_id: int
    signer_id: int
    notation: str | None = Field(description='Số, ký hiệu once issued — e.g. "12/KH-HLHPN"')
    number: int | None
    issue_date: dt.date | None
    revision: int = Field(description="Changes with every change of the document (microseconds of its last change)")
    etag: str
    page_url: str


class VersionOut(BaseModel):
    number: int
    source: str = Field(description="template (from the fields) or upload (a DOCX)")
    filename: str
    note: str | None
    created_by_id: int
    created_at: dt.datetime
    docx_url: str


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    download_url: str


class ReviewOut(BaseModel):
    round: int
    position: int
    reviewer_id: int
    decision: str
    comment: str | None
    due_at: dt.datetime | None
    decided_at: dt.datetime | None


class RecipientOut(BaseModel):
    id: int
    organization_id: int | None
    name: str
    external: bool
    delivered_at: dt.datetime | None
    incoming_id: int | None
    status_code: str | None = Field(description="edXML status (01…16) as last seen")
    status_at: dt.datetime | None


class OutgoingOut(OutgoingSummary):
    body: str
    unit_id: int | None
    authority_prefix: str | None
    authority_line: str | None
    review_round: int
    review_mode: str
    signed_at: dt.datetime | None
    sign_method: str | None
    issued_at: dt.datetime | None
    closing_reason: str | None
    replaces_id: int | None
    replaced_by_id: int | None
    actions: list[str] = Field(
        description="What the caller may do now: edit, submit, attach, review, sign, return, issue, cancel, recall, replace"
    )
    pdf_url: str | None = Field(description="The latest PDF: issued, else signed, else the one to sign")
    pdf_to_sign_url: str | None = Field(description="The exact PDF the signer signs (sign with a token, then upload it)")
    page_image_url: str | None = Field(description="PNG of page {page} (1-based) of the latest PDF")
    edxml_url: str | None = Field(description="Once issued: its edXML package, for a recipient outside the system")
    versions: list[VersionOut]
    attachments: list[AttachmentOut]
    reviews: list[ReviewOut]
    recipients: list[RecipientOut]


class OutgoingPage(BaseModel):
    items: list[OutgoingSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


def _revision(doc: OutgoingDocument) -> int:
    # Every change of an outgoing document stamps updated_at (services.outgoing.service._event).
    return int(doc.updated_at.replace(tzinfo=dt.UTC).timestamp() * 1_000_000)


def _etag(doc: OutgoingDocument) -> str:
    return etag("outgoing", doc.id, _revision(doc))


def _summary_fields(doc: OutgoingDocument) -> dict[str, Any]:
    return {
        "id": doc.id,
        "organization_id": doc.organization_id,
        "status": doc.status.value,
        "doc_type": doc.doc_type,
        "subject": doc.subject,
        "urgency": doc.urgency.value,
        "secrecy": doc.secrecy.value,
        "due_date": doc.due_date,
        "drafter_id": doc.drafter_id,
        "signer_id": doc.signer_id,
        "notation": doc.notation,
        "number": doc.number,
        "issue_date": doc.issue_date,
        "revision": _revision(doc),
        "etag": _etag(doc),
        "page_url": f"/outgoing/{doc.id}",
    }


async def _full(session: AsyncSession, principal: Principal, doc: OutgoingDocument) -> OutgoingOut:
    reviews = await outgoing.reviews(session, document_id=doc.id)
    base = f"/outgoing/{doc.id}"
    latest = doc.issued_pdf_sha or doc.leader_pdf_sha or doc.prepared_pdf_sha
    return OutgoingOut(
        **_summary_fields(doc),
        body=doc.body,
        unit_id=doc.unit_id,
        authority_prefix=doc.authority_prefix,
        authority_line=doc.authority_line,
        review_round=doc.review_round,
        review_mode=doc.review_mode.value,
        signed_at=doc.signed_at,
        sign_method=doc.sign_method,
        issued_at=doc.issued_at,
        closing_reason=doc.closing_reason,
        replaces_id=doc.replaces_id,
        replaced_by_id=doc.replaced_by_id,
        actions=sorted(outgoing.allowed_actions(doc, principal, reviews)),
        pdf_url=f"{base}/pdf" if latest else None,
        pdf_to_sign_url=f"{base}/pdf?kind=prepared" if doc.prepared_pdf_sha else None,
        page_image_url=f"{base}/pdf/{latest}/pages/{{page}}.png" if latest else None,
        edxml_url=f"{base}/edxml" if doc.issued_pdf_sha else None,
        versions=[
            VersionOut(
                number=v.number,
                source=v.source,
                filename=v.filename,
                note=v.note,
                created_by_id=v.created_by_id,
                created_at=v.created_at,
                docx_url=f"{base}/versions/{v.number}/docx",
            )
            for v in await outgoing.versions(session, document_id=doc.id)
        ],
        attachments=[
            AttachmentOut(id=a.id, filename=a.filename, content_type=a.content_type, size=a.size, download_url=f"{base}/attachments/{a.id}")
            for a in await outgoing.attachments(session, document_id=doc.id)
        ],
        reviews=[
            ReviewOut(
                round=r.round,
                position=r.position,
                reviewer_id=r.reviewer_id,
                decision=r.decision.value,
                comment=r.comment,
                due_at=r.due_at,
                decided_at=r.decided_at,
            )
            for r in reviews
        ],
        recipients=[
            RecipientOut(
                id=r.id,
                organization_id=r.organization_id,
                name=r.name,
                external=r.external,
                delivered_at=r.delivered_at,
                incoming_id=r.incoming_id,
                status_code=r.status_code,
                status_at=r.status_at,
            )
            for r in await outgoing.refresh_statuses(session, doc=doc)  # as reported back, as the page shows
        ],
    )


async def _answer(session: AsyncSession, principal: Principal, document_id: int, status_code: int = 200) -> Answer:
    """The document as the caller now sees it, after the action's changes (same transaction)."""
    doc = await outgoing.get_for(session, principal=principal, document_id=document_id)
    headers = {"ETag": _etag(doc)}
    if status_code == 201:
        headers["Location"] = f"/api/v1/outgoing/{doc.id}"
    return Answer(await _full(session, principal, doc), status_code, headers)


async def _current(session: AsyncSession, principal: Principal, document_id: int, if_match: str | None) -> OutgoingDocument:
    """The document, 404 when the caller may not see it, 409 when If-Match names an older change."""
    doc = await outgoing.get_for(session, principal=principal, document_id=document_id)
    check_revision(if_match, _etag(doc))
    return doc


# --- reading ---------------------------------------------------------------------------------------

Tab = Literal["drafts", "review", "sign", "issue", "issued"]


@router.get("", response_model=OutgoingPage)
async def lists(
    principal: Member,
    session: SessionDep,
    tab: Annotated[Tab, Query(description="The caller's list, as the tabs of the page")] = "issued",
    q: Annotated[str, Query(max_length=200, description="Words of the subject, notation or recipients, any order, accents optional")] = "",
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,9}(\.[01])?$", description="`next_cursor` of the previous page; absent for the first")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 30,
) -> OutgoingPage:
    """Drafts (mine), to review, to sign, to issue (clerks), issued (everything the caller may see);
    newest first, or best match first when `q` is given."""
    before, _, rank = (cursor or "").partition(".")
    docs = await outgoing.queue(
        session,
        principal=principal,
        name=tab,
        before=int(before) if before else None,
        q=q or None,
        before_rank=int(rank or 0),
        limit=limit + 1,
    )
    more, docs = len(docs) > limit, docs[:limit]
    words = textsearch.Query.parse(q)
    following = None
    if more and docs:
        following = f"{docs[-1].id}.{textsearch.rank_of(docs[-1], words)}" if words else str(docs[-1].id)
    return OutgoingPage(items=[OutgoingSummary(**_summary_fields(d)) for d in docs], next_cursor=following)


@router.get("/{document_id}", response_model=OutgoingOut)
async def document(principal: SignedIn, session: SessionDep, document_id: int) -> Response:
    """One document with its versions, attachments, reviews and recipients' statuses; the ETag
    header is its last change."""
    answer = await _answer(session, principal, document_id)
    return Response(answer.model.model_dump_json(), headers=answer.headers, media_type="application/json")


# --- drafting --------------------------------------------------------------------------------------


class Draft(BaseModel):
    """The draft's fields, as on the drafting page (multipart form: these fields, then `docx` to
    use your own DOCX instead of the template, and attachments in `files`)."""

    doc_type: str = Field(max_length=8, description="Code of the document type (CV, KH, TB, QĐ…)")
    subject: str = Field(max_length=500)
    body: str = Field("", max_length=100000, description="The text, when the template makes the document")
    signer_id: int | None = Field(None, description="The leader who signs")
    recipient_org_ids: list[int] = Field([], description="Organisations of the system that receive it")
    groups: list[Literal["children", "district", "commune"]] = Field(
        [], description="Shortcuts: every direct subordinate, every district, every commune below"
    )
    external_recipients: list[str] = Field([], description="Outside bodies, one per entry")
    authority_prefix: str = Field("", max_length=8, description="TM., KT., Q., TL., TUQ. or empty")
    authority_line: str = Field("", max_length=128)
    unit_id: int | None = Field(None, description="The drafting unit")
    urgency: Urgency = Urgency.normal
    secrecy: Secrecy = Secrecy.normal
    due_date: dt.date | None = Field(None, description="The recipients' handling deadline, if any")


class NewDraft(Draft):
    reply_to: int | None = Field(None, description="The incoming document this one answers (linked to it)")


class DraftChange(Draft):
    note: str = Field("", max_length=500, description="What this version changes")


async def _fields(session: AsyncSession, principal: Principal, org_id: int, form: Draft) -> outgoing.DraftFields:
    ids = set(form.recipient_org_ids) | await _group_orgs(session, principal, org_id, list(form.groups))
    return outgoing.DraftFields(
        doc_type=form.doc_type,
        subject=form.subject,
        body=form.body,
        signer_id=form.signer_id,
        recipient_org_ids=sorted(ids),
        external_recipients=form.external_recipients,
        authority_prefix=form.authority_prefix,
        authority_line=form.authority_line,
        unit_id=form.unit_id,
        urgency=form.urgency,
        secrecy=form.secrecy,
        due_date=form.due_date,
    )


@router.post("", status_code=201, response_model=OutgoingOut)
async def create(
    request: Request,
    principal: Drafter,
    session: SessionDep,
    form: Annotated[NewDraft, Form()],
    docx: Annotated[UploadFile | None, File(description="Your own DOCX instead of the template")] = None,
    files: Annotated[list[UploadFile], File(description="Attachments: PDF, DOCX, PNG, JPEG, TIFF")] = [],  # FastAPI's way to declare files
    key: IdempotencyKey = None,
) -> Response:
    """Draft a new outgoing document (version 1 made from the template or your DOCX)."""
    upload = await _read(docx, request, {DOCX})
    extra = [u for u in [await _read(f, request, ATTACHMENT_TYPES) for f in files] if u]

    async def act() -> Answer:
        answered = await _answered(session, principal, form.reply_to)
        org_id = answered.organization_id if answered else _draft_org(principal)
        doc = await outgoing.create_draft(
            session,
            settings=request.app.state.settings,
            actor=principal.actor,
            organization_id=org_id,
            fields=await _fields(session, principal, org_id, form),
            upload=upload,
            files=extra,
        )
        if answered is not None:
            await incoming.link_reply(session, principal=principal, document_id=answered.id, outgoing_id=doc.id)
        await tell(session, "outgoing", doc.id, "changed", "created")
        return await _answer(session, principal, doc.id, 201)

    return await once(request, session, principal, key, act)


@router.post("/{document_id}/edit", response_model=OutgoingOut)
async def edit(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    document_id: int,
    form: Annotated[DraftChange, Form()],
    docx: Annotated[UploadFile | None, File(description="Your own DOCX instead of the template")] = None,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Save the draft's fields as a new version (the drafter, while a draft or returned)."""
    upload = await _read(docx, request, {DOCX})

    async def act() -> Answer:
        doc = await _current(session, principal, document_id, if_match)
        fields = await _fields(session, principal, doc.organization_id, form)
        settings = request.app.state.settings
        await outgoing.update_draft(
            session, settings=settings, actor=principal.actor, doc=doc, fields=fields, note=form.note or None, upload=upload
        )
        await tell(session, "outgoing", doc.id, "changed", "version")
        return await _answer(session, principal, doc.id)

    return await once(request, session, principal, key, act)


@router.post("/{document_id}/attachments", response_model=OutgoingOut)
async def attach(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    document_id: int,
    files: Annotated[list[UploadFile], File(description="PDF, DOCX, PNG, JPEG, TIFF; checked by content")],
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Attach files to the draft (the drafter)."""
    uploads = [u for u in [await _read(f, request, ATTACHMENT_TYPES) for f in files] if u]

    async def act() -> Answer:
        doc = await _current(session, principal, document_id, if_match)
        if "attach" not in outgoing.allowed_actions(doc, principal, []):
            raise InvalidInput(_l("Only the drafter can attach files."))
        for upload in uploads:
            await outgoing.add_attachment(session, settings=request.app.state.settings, actor=principal.actor, doc=doc, upload=upload)
        return await _answer(session, principal, doc.id)

    return await once(request, session, principal, key, act)


@router.post("/{document_id}/attachments/{attachment_id}/remove", response_model=OutgoingOut)
async def detach(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    document_id: int,
    attachment_id: int,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Remove an attachment from the draft."""

    async def act() -> Answer:
        doc = await _current(session, principal, document_id, if_match)
        await outgoing.remove_attachment(session, actor=principal.actor, doc=doc, attachment_id=attachment_id)
        return await _answer(session, principal, doc.id)

    return await once(request, session, principal, key, act)


# --- review, signing, issuing and after ------------------------------------------------------------


class Submission(BaseModel):
    reviewer_ids: list[int] = Field([], description="Who initials it, in order for a sequential review; none sends it to the signer")
    mode: ReviewMode = ReviewMode.sequential
    review_due: dt.date | None = Field(None, description="Reviews due by 17:00 (Vietnam) that day")


class ReviewDecision(BaseModel):
    decision: Literal["initialled", "commented", "returned"] = Field(
        "initialled", description="initialled (ký nháy), commented (góp ý), returned (trả lại)"
    )
    comment: str = Field("", max_length=20000)


class Comment(BaseModel):
    comment: str = Field("", max_length=20000)


class Reason(BaseModel):
    reason: str = Field("", max_length=2000)


class Pin(BaseModel):
    pin: str = Field("", max_length=64, description="The organisation's seal PIN (never stored)")


Change = Callable[[AsyncSession, Principal, OutgoingDocument, Any, Request], Awaitable[object]]


def _action(name: str, who: object, body: type[BaseModel], change: Change, summary: str, *, commits: bool = False) -> None:
    """Declare `POST /api/v1/outgoing/{document_id}/<name>`: the page's action of the same name,
    with `who`'s access rule, a JSON `body`, and `change` calling the service; the workflow is
    told `name` through the outbox, as the page does."""

    async def endpoint(request, principal, session, document_id, body, key=None, if_match=None):  # typed below, for FastAPI
        async def act() -> Answer:
            doc = await _current(session, principal, document_id, if_match)
            await change(session, principal, doc, body, request)
            return await _answer(session, principal, document_id)

        return await once(request, session, principal, key, act, commits=commits)

    declare_action(
        router,
        endpoint,
        path=f"/{{document_id}}/{name}",
        name=name,
        summary=summary,
        who=who,
        object_id="document_id",
        body=body,
        response_model=OutgoingOut,
    )


async def _submit(session: AsyncSession, principal: Principal, doc: OutgoingDocument, body: Submission, _: Request) -> None:
    due_at = None
    if body.review_due:
        due_at = dt.datetime.combine(body.review_due, dt.time(17, 0), tzinfo=VN_TZ).astimezone(dt.UTC)
    await outgoing.submit(session, actor=principal.actor, doc=doc, reviewer_ids=body.reviewer_ids, mode=body.mode, due_at=due_at)
    await tell(session, "outgoing", doc.id, "changed", "submitted")


async def _review(session: AsyncSession, principal: Principal, doc: OutgoingDocument, body: ReviewDecision, _: Request) -> None:
    await outgoing.decide(session, actor=principal.actor, doc=doc, decision=Decision(body.decision), comment=body.comment)
    await tell(session, "outgoing", doc.id, "changed", "reviewed")


async def _return(session: AsyncSession, principal: Principal, doc: OutgoingDocument, body: Comment, _: Request) -> None:
    await outgoing.return_for_revision(session, actor=principal.actor, doc=doc, comment=body.comment)
    await tell(session, "outgoing", doc.id, "changed", "returned")


async def _issue(session: AsyncSession, principal: Principal, doc: OutgoingDocument, body: Pin, request: Request) -> None:
    settings = request.app.state.settings
    key = await flow.open_seal_key(session, settings, principal, doc, body.pin) if flow.seal_needed(principal, doc) else None
    await flow.finish_issue(session, settings, principal, doc, key=key)


async def _cancel(session: AsyncSession, principal: Principal, doc: OutgoingDocument, body: Reason, _: Request) -> None:
    await outgoing.cancel(session, actor=principal.actor, principal=principal, doc=doc, reason=body.reason)
    await tell(session, "outgoing", doc.id, "changed", "cancelled")


async def _recall(session: AsyncSession, principal: Principal, doc: OutgoingDocument, body: Reason, request: Request) -> None:
    await outgoing.recall(
        session, settings=request.app.state.settings, principal=principal, actor=principal.actor, doc=doc, reason=body.reason
    )
    await tell(session, "outgoing", doc.id, "changed", "recalled")


_action("submit", SignedIn, Submission, _submit, "Send the draft for review (reviewers in order, or together), or straight to the signer.")
_action("review", SignedIn, ReviewDecision, _review, "A reviewer's decision on the current version: initial, comment, or return it.")
_action("return", Signer, Comment, _return, "The signer returns the document to the drafter for revision, with the reason.")
_action(
    "issue",
    Clerk,
    Pin,
    _issue,
    "The clerk issues it: number and date taken in the register, the seal applied, sent to the recipients.",
    commits=True,
)
_action("cancel", SignedIn, Reason, _cancel, "Cancel a document not yet issued, with the reason.")
_action("recall", SignedIn, Reason, _recall, "Recall an issued document (thu hồi): recipients are told, with the reason.")


@router.post("/{document_id}/replace", status_code=201, response_model=OutgoingOut)
async def replace(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    document_id: int,
    body: Reason,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Replace an issued document (thay thế): it is closed, and a new draft that replaces it is
    answered (201, Location)."""

    async def act() -> Answer:
        doc = await _current(session, principal, document_id, if_match)
        settings = request.app.state.settings
        new = await outgoing.replace(session, settings=settings, principal=principal, actor=principal.actor, doc=doc, reason=body.reason)
        await tell(session, "outgoing", doc.id, "changed", "replaced")
        await tell(session, "outgoing", new.id, "changed", "created")
        return await _answer(session, principal, new.id, 201)

    return await once(request, session, principal, key, act)


@router.post("/{document_id}/sign", response_model=OutgoingOut)
async def sign(
    request: Request,
    principal: Signer,
    session: SessionDep,
    document_id: int,
    pin: Annotated[str, Form(max_length=64, description="Your signing PIN (never stored); empty when uploading")] = "",
    signed_file: Annotated[
        UploadFile | None, File(description="Instead of the PIN: the PDF at `pdf_to_sign_url`, signed with your token (signature added)")
    ] = None,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """The signer signs (multipart form): with the PIN on the server's key, or by uploading the
    exact PDF to sign with their signature added (a USB token, a script with a PKCS#12 file).
    The signature is checked to be theirs before it counts."""
    upload = await _read(signed_file, request, {PDF})

    async def act() -> Answer:
        await _current(session, principal, document_id, if_match)
        settings = request.app.state.settings
        doc = await flow.ready_to_sign(session, principal, document_id)
        signer = await flow.open_leader_key(session, settings, principal, doc, pin) if upload is None else None
        await flow.finish_signing(session, settings, principal, doc, key=signer, upload=upload)
        return await _answer(session, principal, document_id)

    return await once(request, session, principal, key, act, commits=True)


# --- edXML -----------------------------------------------------------------------------------------


class Imported(BaseModel):
    incoming_id: int | None = Field(description="The incoming document registered from a document package")
    document_id: str = Field(description="The package's document id (edXML); for a status, the id of the document it answers")
    outgoing_id: int | None = Field(None, description="For a status: our issued document it answers")
    status_code: str | None = Field(None, description="For a status: the code its recipient row now shows")


@router.post("/edxml/import", response_model=Imported)
async def edxml_import(
    request: Request,
    principal: Clerk,
    session: SessionDep,
    package: Annotated[UploadFile, File(description="An edXML package received outside the exchange")],
    organization_id: Annotated[int | None, Form(description="The receiving organisation, when the package names several")] = None,
    key: IdempotencyKey = None,
) -> Response:
    """Import an edXML package received outside the exchange: a document becomes an incoming
    document (a clerk of the receiving organisation); a status package from an outside recipient
    shows on its row of the document we issued (a clerk of the issuing organisation)."""
    upload = await _read(package, request, {XML})
    if upload is None:
        raise InvalidInput(_l("Choose the edXML file."))
    settings = request.app.state.settings

    async def act() -> Answer:
        if edxml.is_status(upload.data):
            doc, row, status = await exchange.import_status(session, settings=settings, principal=principal, data=upload.data)
            return Answer(Imported(incoming_id=None, document_id=status.response_for, outgoing_id=doc.id, status_code=row.status_code))
        copy, parsed = await exchange.import_package(
            session, settings=settings, principal=principal, data=upload.data, organization_id=organization_id
        )
        return Answer(Imported(incoming_id=getattr(copy, "id", None), document_id=str(parsed.document_id)))

    return await once(request, session, principal, key, act)
