"""Incoming documents (văn bản đến) over the public API: the same service functions and access
rules as the pages (web/routes/incoming.py), answered as JSON.

Every action answers the document as it now is, with its ETag; send that ETag back as If-Match
so a change made meanwhile by someone else is not overwritten (409).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services import textsearch
from services.authz import Principal
from services.blobs import BlobStore
from services.directory.models import LEADERS, Organization, Role
from services.incoming import service as incoming
from services.incoming.models import IncomingDocument
from services.outbox.service import tell
from web.api_v1.common import Answer, Cursor, IdempotencyKey, IfMatch, check_revision, declare_action, etag, once
from web.deps import Access, SessionDep, SignedIn
from web.routes.incoming import check_files

router = APIRouter(prefix="/api/v1/incoming", tags=["api v1: incoming documents"])
Clerk = Annotated[Principal, Depends(Access(Role.clerk))]
Leader = Annotated[Principal, Depends(Access(*LEADERS))]
PAGE_MAX = 100


# --- what is answered ------------------------------------------------------------------------------


class IncomingFileOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    is_main: bool
    signatures_ok: bool | None = Field(description="PDF signatures checked on arrival: true valid, false failed, null none or not a PDF")
    download_url: str
    page_image_url: str | None = Field(description="PNG of page {page} (1-based) of a PDF")


class IncomingSummary(BaseModel):
    id: int
    organization_id: int
    status: str
    arrival_number: int | None
    arrival_label: str = Field(description='The register number as printed ("07", "03/M" for the secret series)')
    arrival_date: date | None
    issuer_name: str
    number_notation: str
    document_date: date | None
    doc_type: str
    subject: str
    urgency: str
    secrecy: str
    due_date: date | None
    lead_user_id: int | None
    lead_unit_id: int | None
    revision: int
    etag: str
    page_url: str


class IncomingAssignmentOut(BaseModel):
    role: str = Field(description="lead, co (co-handler) or info (for information)")
    user_id: int | None
    unit_id: int | None
    active: bool


class IncomingNoteOut(BaseModel):
    kind: str
    author_name: str | None
    body: str
    at: datetime


class IncomingOut(IncomingSummary):
    source: str
    doc_due_date: date | None
    receiving_unit_id: int | None
    instruction: str | None
    result: str | None
    return_reason: str | None
    registered_at: datetime | None
    directed_at: datetime | None
    completed_at: datetime | None
    files: list[IncomingFileOut]
    assignments: list[IncomingAssignmentOut]
    notes: list[IncomingNoteOut]


class IncomingPage(BaseModel):
    items: list[IncomingSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
    total: int | None = Field(None, description="How many documents the queue holds (queues only)")


def _summary_fields(doc: IncomingDocument) -> dict[str, Any]:
    return {
        "id": doc.id,
        "organization_id": doc.organization_id,
        "status": doc.status,
        "arrival_number": doc.arrival_number,
        "arrival_label": doc.arrival_label,
        "arrival_date": doc.arrival_date,
        "issuer_name": doc.issuer_name,
        "number_notation": doc.number_notation,
        "document_date": doc.document_date,
        "doc_type": doc.doc_type,
        "subject": doc.subject,
        "urgency": doc.urgency,
        "secrecy": doc.secrecy,
        "due_date": doc.due_date,
        "lead_user_id": doc.lead_user_id,
        "lead_unit_id": doc.lead_unit_id,
        "revision": doc.revision,
        "etag": _etag(doc),
        "page_url": f"/incoming/{doc.id}",
    }


def _etag(doc: IncomingDocument) -> str:
    return etag("incoming", doc.id, doc.revision)


def _full(doc: IncomingDocument) -> IncomingOut:
    files = [
        IncomingFileOut(
            id=f.id,
            filename=f.filename,
            content_type=f.content_type,
            size=f.size,
            sha256=f.sha256,
            is_main=f.is_main,
            signatures_ok=f.signatures_ok,
            download_url=f"/incoming/{doc.id}/files/{f.id}",
            page_image_url=f"/incoming/{doc.id}/files/{f.id}/pages/{{page}}.png" if f.content_type == "application/pdf" else None,
        )
        for f in doc.files
    ]
    return IncomingOut(
        **_summary_fields(doc),
        source=doc.source,
        doc_due_date=doc.doc_due_date,
        receiving_unit_id=doc.receiving_unit_id,
        instruction=doc.instruction,
        result=doc.result,
        return_reason=doc.return_reason,
        registered_at=doc.registered_at,
        directed_at=doc.directed_at,
        completed_at=doc.completed_at,
        files=files,
        assignments=[IncomingAssignmentOut(role=a.role, user_id=a.user_id, unit_id=a.unit_id, active=a.active) for a in doc.assignments],
        notes=[IncomingNoteOut(kind=n.kind, author_name=n.author_name, body=n.body, at=n.at) for n in doc.notes],
    )


async def _answer(session: AsyncSession, principal: Principal, document_id: int, status_code: int = 200) -> Answer:
    """The document as the caller now sees it, after the action's changes (same transaction)."""
    doc, _ = await incoming.get_for(session, principal=principal, document_id=document_id)
    headers = {"ETag": _etag(doc)}
    if status_code == 201:
        headers["Location"] = f"/api/v1/incoming/{doc.id}"
    return Answer(_full(doc), status_code, headers)


async def _current(session: AsyncSession, principal: Principal, document_id: int, if_match: str | None) -> None:
    """404 for a document the caller may not see; 409 when If-Match names an older revision."""
    doc, _ = await incoming.get_for(session, principal=principal, document_id=document_id)
    check_revision(if_match, _etag(doc))


# --- reading ---------------------------------------------------------------------------------------


# The search's cursor is the last document's id (and its rank when words were searched): any
# value of the pattern is meaningful; past the end is an empty page. The queues page by offset.
SearchCursor = Annotated[
    str | None, Query(pattern=r"^[0-9]{1,9}(\.[01])?$", description="`next_cursor` of the previous page; absent for the first")
]


class Queue(StrEnum):
    to_register = "to-register"
    to_direct = "to-direct"
    in_progress = "in-progress"
    done = "done"


@router.get("", response_model=IncomingPage)
async def search(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200, description="Words of the subject, notation or issuer, any order, accents optional")] = "",
    status: Annotated[str | None, Query(description="A status, or overdue / due_soon")] = None,
    date_from: Annotated[date | None, Query(description="Arrival date from")] = None,
    date_to: Annotated[date | None, Query(description="Arrival date to")] = None,
    issuer: Annotated[str | None, Query(max_length=200)] = None,
    doc_type: Annotated[str | None, Query(max_length=8)] = None,
    urgency: Annotated[str | None, Query(max_length=16)] = None,
    due: Annotated[Literal["overdue", "due_soon", "has_due", "none"] | None, Query()] = None,
    cursor: SearchCursor = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 30,
) -> IncomingPage:
    """Every incoming document the caller may see, filtered as on the search page; newest first,
    or best match first when `q` is given."""
    before, _, rank = (cursor or "").partition(".")
    filters = incoming.SearchFilters(
        status=status, date_from=date_from, date_to=date_to, issuer=issuer, doc_type=doc_type, urgency=urgency, due=due, text=q or None
    )
    docs = await incoming.search(
        session,
        principal=principal,
        filters=filters,
        before_id=int(before) if before else None,
        before_rank=int(rank or 0),
        limit=limit + 1,
        soon_days=request.app.state.settings.incoming_reminder_working_days,
    )
    more, docs = len(docs) > limit, docs[:limit]
    words = textsearch.Query.parse(q)
    following = None
    if more and docs:
        following = f"{docs[-1].id}.{textsearch.rank_of(docs[-1], words)}" if words else str(docs[-1].id)
    return IncomingPage(items=[IncomingSummary(**_summary_fields(d)) for d in docs], next_cursor=following)


@router.get("/queues/{queue}", response_model=IncomingPage)
async def queue(
    principal: SignedIn,
    session: SessionDep,
    queue: Queue,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 30,
) -> IncomingPage:
    """The caller's work queues, most pressing first, as on the pages: documents to register
    (clerks, newest first), to direct (leaders, most urgent first), in progress (handlers, by due
    date), done (newest completion first); `total` is the queue's length (not for done)."""
    after = int(cursor) if cursor else None
    if queue is Queue.to_register:
        docs = await incoming.clerk_queue(session, principal=principal, after=after, limit=limit + 1)
    elif queue is Queue.to_direct:
        docs = await incoming.leader_queue(session, principal=principal, after=after, limit=limit + 1)
    elif queue is Queue.in_progress:
        docs = [d for d, _ in await incoming.my_tasks(session, principal=principal, after=after, limit=limit + 1)]
    else:
        docs = await incoming.done_list(session, principal=principal, after=after, limit=limit + 1)
    page = docs[:limit]
    following = str(page[-1].id) if len(docs) > limit else None
    counted = {Queue.to_register: "to_register", Queue.to_direct: "to_direct", Queue.in_progress: "my_tasks"}.get(queue)
    total = (await incoming.queue_counts(session, principal=principal))[counted] if counted else None
    return IncomingPage(items=[IncomingSummary(**_summary_fields(d)) for d in page], next_cursor=following, total=total)


@router.get("/{document_id}", response_model=IncomingOut)
async def document(principal: SignedIn, session: SessionDep, document_id: int) -> Response:
    """One document with its files, handlers and notes; the ETag header is its revision."""
    answer = await _answer(session, principal, document_id)
    return Response(answer.model.model_dump_json(), headers=answer.headers, media_type="application/json")


# --- registration ----------------------------------------------------------------------------------


class Metadata(BaseModel):
    """What the clerk types when registering, as on the registration page."""

    issuer_name: str = Field("", max_length=255, description="Empty when issuer_org_id names an organisation of the system")
    issuer_org_id: int | None = None
    number_notation: str = Field(max_length=64, description='Số, ký hiệu — e.g. "15/KH-UBND"')
    document_date: date | None = None
    doc_type: str = Field(max_length=8, description="Code of the document type (CV, QĐ, KH, TB…)")
    subject: str = Field(max_length=2000)
    urgency: Literal["normal", "urgent", "very_urgent", "flash"] = "normal"
    secrecy: Literal["normal", "secret", "top_secret", "absolute"] = "normal"
    doc_due_date: date | None = Field(None, description="The reply due date the letter asks for")
    arrival_date: date | None = Field(None, description="Today when empty")
    receiving_unit_id: int | None = None
    backdate_reason: str = Field("", max_length=2000, description="Needed when the arrival date is before the register's last entry")


async def _meta(session: AsyncSession, body: Metadata) -> incoming.Metadata:
    issuer_name = body.issuer_name
    if body.issuer_org_id and not issuer_name.strip():
        org = await session.get(Organization, body.issuer_org_id)
        issuer_name = org.name if org is not None else ""
    return incoming.Metadata(**{**body.model_dump(), "issuer_name": issuer_name})


class Registration(Metadata):
    organization_id: int = Field(description="The organisation whose register takes the document")
    allow_duplicate: bool = Field(False, description="Register even if the same notation and date are already registered")


@router.post("", status_code=201, response_model=IncomingOut)
async def register(
    request: Request,
    principal: Clerk,
    session: SessionDep,
    form: Annotated[Registration, Form()],
    files: Annotated[list[UploadFile], File(description="PDF, DOCX or scans; checked by content")] = [],  # FastAPI's way to declare files
    key: IdempotencyKey = None,
) -> Response:
    """Register a paper or e-mailed document (multipart form: the metadata fields and `files`):
    numbered in the register, then routed to the leader as from the page."""
    await session.commit()  # checking the uploads' signatures waits on OCSP: no transaction stays open
    checked = await check_files(request, files)
    meta = Metadata.model_validate(form.model_dump(exclude={"organization_id", "allow_duplicate"}))

    async def act() -> Answer:
        doc = await incoming.register(
            session,
            principal=principal,
            organization_id=form.organization_id,
            meta=await _meta(session, meta),
            files=checked,
            blobs=BlobStore.for_settings(request.app.state.settings),
            allow_duplicate=form.allow_duplicate,
        )
        await tell(session, "incoming", doc.id)
        return await _answer(session, principal, doc.id, 201)

    return await once(request, session, principal, key, act)


class RegisterExisting(BaseModel):
    metadata: Metadata
    allow_duplicate: bool = False


@router.post("/{document_id}/register", response_model=IncomingOut)
async def register_existing(
    request: Request,
    principal: Clerk,
    session: SessionDep,
    document_id: int,
    body: RegisterExisting,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Register a document that arrived from another system or was returned to the clerk."""

    async def act() -> Answer:
        doc, _ = await incoming.get_for(session, principal=principal, document_id=document_id)
        check_revision(if_match, _etag(doc))
        await incoming.register(
            session,
            principal=principal,
            organization_id=doc.organization_id,
            meta=await _meta(session, body.metadata),
            files=[],
            blobs=BlobStore.for_settings(request.app.state.settings),
            document_id=document_id,
            allow_duplicate=body.allow_duplicate,
        )
        return await _told(session, principal, document_id)

    return await once(request, session, principal, key, act)


async def _told(session: AsyncSession, principal: Principal, document_id: int) -> Answer:
    await tell(session, "incoming", document_id)
    return await _answer(session, principal, document_id)


async def _change(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    document_id: int,
    key: str | None,
    if_match: str | None,
    change: Callable[[], Awaitable[object]],
    *,
    told: bool = True,
) -> Response:
    """One action on a document: refused if If-Match is stale, done once per Idempotency-Key,
    the workflow told through the outbox, the document answered as it now is."""

    async def act() -> Answer:
        await _current(session, principal, document_id, if_match)
        await change()
        return await (_told if told else _answer)(session, principal, document_id)

    return await once(request, session, principal, key, act)


# --- actions on a document -------------------------------------------------------------------------


class Reason(BaseModel):
    reason: str = Field(max_length=2000)


class Note(BaseModel):
    body: str = Field(max_length=20000)


class Direction(BaseModel):
    instruction: str = Field(max_length=20000, description="Bút phê: the leader's instruction")
    lead_user_id: int | None = Field(None, description="The lead handler (a person)…")
    lead_unit_id: int | None = Field(None, description="…or a unit, whose head then leads")
    co_user_ids: list[int] = []
    co_unit_ids: list[int] = []
    info_user_ids: list[int] = []
    due_date: date | None = None
    due_working_days: int | None = Field(None, ge=1, le=365, description="Instead of due_date: working days from today")


class Extension(BaseModel):
    new_due: date
    reason: str = Field(max_length=2000)


class Delegation(BaseModel):
    user_id: int = Field(description="The colleague who leads the handling from now on")


class Completion(BaseModel):
    result: str = Field(max_length=20000)


class RecallAnswer(BaseModel):
    decision: Literal["accept", "refuse"]
    reason: str = Field("", max_length=2000)


class NoDirection(BaseModel):
    note: str = Field("", max_length=2000)


class Reply(BaseModel):
    outgoing_id: int | None = Field(description="The outgoing document that answers this one; null unlinks")


Change = Callable[[AsyncSession, Principal, int, Any], Awaitable[object]]


def _action(name: str, who: object, body: type[BaseModel], change: Change, summary: str, *, told: bool = True) -> None:
    """Declare `POST /api/v1/incoming/{document_id}/<name>`: the page's action of the same name,
    with `who`'s access rule, a `body` model, and `change` calling the service."""

    async def endpoint(request, principal, session, document_id, body, key=None, if_match=None):  # typed below, for FastAPI
        return await _change(
            request, session, principal, document_id, key, if_match, lambda: change(session, principal, document_id, body), told=told
        )

    declare_action(
        router,
        endpoint,
        path=f"/{{document_id}}/{name}",
        name=name,
        summary=summary,
        who=who,
        object_id="document_id",
        body=body,
        response_model=IncomingOut,
    )


_action(
    "accept",
    Clerk,
    Reason,
    lambda s, p, d, b: incoming.accept_despite_signatures(s, principal=p, document_id=d, reason=b.reason),
    "Register despite failed signature checks, with the reason on record.",
)
_action(
    "return-sender",
    Clerk,
    Reason,
    lambda s, p, d, b: incoming.return_to_sender(s, principal=p, document_id=d, reason=b.reason),
    "Send a document from another system back to its sender, with the reason.",
)
_action(
    "recall-answer",
    Clerk,
    RecallAnswer,
    lambda s, p, d, b: incoming.answer_recall(s, principal=p, document_id=d, decision=b.decision, reason=b.reason),
    "Agree to or refuse a partner's recall of a document it sent by edXML.",
    told=False,
)
_action(
    "return-clerk",
    SignedIn,
    Reason,
    lambda s, p, d, b: incoming.return_to_clerk(s, principal=p, document_id=d, reason=b.reason),
    "Give the document back to the clerk (wrong addressee, incomplete), with the reason.",
)
_action(
    "direct",
    Leader,
    Direction,
    lambda s, p, d, b: incoming.direct(
        s,
        principal=p,
        document_id=d,
        instruction=b.instruction,
        handlers=incoming.Handlers(
            lead_user_id=b.lead_user_id,
            lead_unit_id=b.lead_unit_id,
            co_user_ids=b.co_user_ids,
            co_unit_ids=b.co_unit_ids,
            info_user_ids=b.info_user_ids,
        ),
        due_date=b.due_date,
        due_working_days=None if b.due_date else b.due_working_days,
    ),
    "The leader's direction: instruction, lead, co-handlers, for information, due date. On a document already directed it reassigns.",
)
_action(
    "no-direction",
    Leader,
    NoDirection,
    lambda s, p, d, b: incoming.mark_no_direction(s, principal=p, document_id=d, note=b.note),
    "Read; nothing to handle (filed).",
)
_action(
    "extend",
    Leader,
    Extension,
    lambda s, p, d, b: incoming.extend_due(s, principal=p, document_id=d, new_due=b.new_due, reason=b.reason),
    "Move the handling due date, with the reason.",
)
_action(
    "delegate",
    SignedIn,
    Delegation,
    lambda s, p, d, b: incoming.delegate(s, principal=p, document_id=d, user_id=b.user_id),
    "The lead hands the handling to a colleague of the unit.",
)
_action(
    "progress",
    SignedIn,
    Note,
    lambda s, p, d, b: incoming.record_progress(s, principal=p, document_id=d, body=b.body),
    "A progress note by the lead (starts the handling).",
)
_action(
    "opinion",
    SignedIn,
    Note,
    lambda s, p, d, b: incoming.add_opinion(s, principal=p, document_id=d, body=b.body),
    "A co-handler's opinion for the lead.",
)
_action(
    "complete",
    SignedIn,
    Completion,
    lambda s, p, d, b: incoming.complete(s, principal=p, document_id=d, result=b.result),
    "The lead closes the handling with its result.",
)
_action(
    "reply",
    SignedIn,
    Reply,
    lambda s, p, d, b: incoming.link_reply(s, principal=p, document_id=d, outgoing_id=b.outgoing_id),
    "Link the outgoing document that answers this one.",
)
