"""Pages of incoming documents (văn bản đến) and the public-holiday admin page.

Each action changes the database through services.incoming in the request's transaction and
queues a "changed" command for the document's workflow in the same transaction (the outbox);
the workflow owns the deadlines and tells the next actor.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import date
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services import calendar, previews, textsearch
from services.authz import Principal, require
from services.blobs import BlobStore
from services.directory.models import DOCUMENT_READERS, LEADERS, Organization, Role, Unit, User
from services.documents import register_prints
from services.errors import DomainError, InvalidInput, NotFound
from services.i18n import Message, _l
from services.incoming import handling
from services.incoming import service as incoming
from services.incoming.models import DOC_TYPES, SECRECY, URGENCY, IncomingDocument, IncomingFile, Status
from services.numbers import is_digits
from services.outbox.service import tell
from services.outgoing.models import OutgoingDocument
from services.outgoing.service import DRAFT_ROLES
from services.uploads import DOCX, JPEG, PDF, PNG, TIFF, OfficeLimits, check_upload
from signing.uploads import validate_upload
from web import i18n, live
from web import register_archive as closing
from web import register_prints as prints_panel
from web.deps import MAX_ID, Access, AdminUser, SessionDep, SignedIn, writes_on_read
from web.form_values import form_id, form_ids
from web.register_book import BOOK_PAGE, book_page
from web.templating import render

log = logging.getLogger(__name__)
router = APIRouter(tags=["incoming"])
Clerk = Annotated[Principal, Depends(Access(Role.clerk))]
Leader = Annotated[Principal, Depends(Access(*LEADERS))]
Reader = Annotated[Principal, Depends(Access(*DOCUMENT_READERS))]
ALLOWED = {PDF, DOCX, PNG, JPEG, TIFF}


# --- helpers ------------------------------------------------------------------------------------


def _date(value: str | None, label: Message = _l("Date"), required: bool = False) -> date | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise InvalidInput(_l("{label}: enter a date.", label=label))
        return None
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            from datetime import datetime

            parsed = datetime.strptime(value, fmt).date()
        except ValueError:
            continue
        return calendar.check_plausible(parsed, label)
    raise InvalidInput(_l("{label}: write the date as dd/mm/yyyy.", label=label))


def _done(document_id: int, flash: str = "saved") -> RedirectResponse:
    return RedirectResponse(f"/incoming/{document_id}?ok={flash}", status_code=303)


def _soon(request: Request) -> int:
    return request.app.state.settings.incoming_reminder_working_days


async def _decorate(session: AsyncSession, request: Request, docs: list[IncomingDocument]) -> list[dict[str, Any]]:
    """Rows for the lists: the document, the status label key, the lead's name, the issuer org."""
    today = calendar.vn_today()
    holidays = await calendar.holiday_set(session, today)
    lead_ids = {d.lead_user_id for d in docs if d.lead_user_id}
    names = dict((await session.execute(select(User.id, User.full_name).where(User.id.in_(lead_ids)))).all()) if lead_ids else {}
    return [
        {"doc": d, "status": incoming.display_status(d, today, holidays, _soon(request)), "lead": names.get(d.lead_user_id or 0)}
        for d in docs
    ]


def _queue_page(request: Request, rows: list[dict[str, Any]], counts: dict[str, int], queue: str | None) -> dict[str, Any]:
    """A page of a queue (fetched one row longer than shown): its rows, the queue's length when
    counted, and the links to the next page and back to the first."""
    shown = rows[: incoming.QUEUE_PAGE]
    more = len(rows) > incoming.QUEUE_PAGE
    page: dict[str, Any] = {
        "rows": shown,
        "next_url": f"{request.url.path}?after={shown[-1]['doc'].id}" if more else None,
        "first_url": request.url.path if "after" in request.query_params else None,
        "next_label": "Next page ›",
    }
    if queue is not None:
        page["total"] = counts[queue]
    return page


QueueAfter = Annotated[int | None, Query(ge=1, le=MAX_ID, description="The last document of the page before")]


async def _org_choices(session: AsyncSession, principal: Principal, roles: tuple[Role, ...]) -> list[Organization]:
    ids = principal.orgs_with(*roles)
    if not ids:
        return []
    return list((await session.scalars(select(Organization).where(Organization.id.in_(ids)).order_by(Organization.id))).all())


async def _form_context(session: AsyncSession, principal: Principal, org_id: int) -> dict[str, Any]:
    units = list((await session.scalars(select(Unit).where(Unit.organization_id == org_id).order_by(Unit.name))).all())
    orgs = list((await session.scalars(select(Organization).where(Organization.active.is_(True)).order_by(Organization.id))).all())
    return {"units": units, "issuer_orgs": orgs, "doc_types": DOC_TYPES, "urgencies": URGENCY, "secrecies": SECRECY}


def _meta_from_form(form: dict[str, Any]) -> incoming.Metadata:
    issuer_org_id = form_id(form.get("issuer_org_id"))
    return incoming.Metadata(
        issuer_name=form.get("issuer_name") or "",
        issuer_org_id=issuer_org_id,
        number_notation=form.get("number_notation") or "",
        document_date=_date(form.get("document_date"), _l("Document date")),
        doc_type=form.get("doc_type") or "",
        subject=form.get("subject") or "",
        urgency=form.get("urgency") or "normal",
        secrecy=form.get("secrecy") or "normal",
        doc_due_date=_date(form.get("doc_due_date"), _l("Reply due date")),
        arrival_date=_date(form.get("arrival_date"), _l("Arrival date")),
        receiving_unit_id=form_id(form.get("receiving_unit_id")),
        backdate_reason=str(form.get("backdate_reason") or ""),
    )


async def _fill_issuer(session: AsyncSession, form: dict[str, Any]) -> None:
    """An issuer chosen from the system's organisations gives its name."""
    org_id = form_id(form.get("issuer_org_id"))
    if org_id and not (form.get("issuer_name") or "").strip():
        org = await session.get(Organization, org_id)
        if org is not None:
            form["issuer_name"] = org.name


async def check_files(request: Request, uploads: list[UploadFile]) -> list[incoming.NewFile]:
    """Check every upload by content first (nothing is stored when one is refused), then validate signatures."""
    settings = request.app.state.settings
    checked = []
    for upload in uploads:
        if upload is None or not upload.filename:
            continue
        data = await upload.read(settings.upload_max_bytes + 1)
        checked.append(
            check_upload(
                filename=upload.filename, data=data, allowed=ALLOWED, max_bytes=settings.upload_max_bytes, office=OfficeLimits.of(settings)
            )
        )
    files = []
    for item in checked:
        report, ok = (None, None)
        if item.content_type == PDF:
            report, ok = await asyncio.to_thread(validate_upload, settings, item.data)
        files.append(
            incoming.NewFile(filename=item.filename, content_type=item.content_type, data=item.data, validation=report, signatures_ok=ok)
        )
    return files


async def _tabs(request: Request, session: AsyncSession, principal: Principal, active: str) -> dict[str, Any]:
    waiting = getattr(request.state, "waiting", None)  # the navigation's counts of this request, when read
    counts = waiting.incoming if waiting is not None else await incoming.queue_counts(session, principal=principal)
    return {
        "tab": active,
        "counts": counts,
        "is_clerk": bool(principal.orgs_with(Role.clerk)),
        "is_leader": bool(principal.orgs_with(*LEADERS)),
        "is_reader": bool(principal.orgs_with(*DOCUMENT_READERS)),
    }


# --- live channels -------------------------------------------------------------------------------


async def _doc_channel(viewer: live.Viewer, ident: str) -> bool:
    document_id = live.channel_id(ident)
    if document_id is None:
        return False
    try:
        await incoming.get_for(viewer.session(), principal=await viewer.principal(), document_id=document_id)
    except NotFound:
        return False
    return True


async def _sender_channel(viewer: live.Viewer, ident: str) -> bool:
    return live.channel_id(ident) in (await viewer.principal()).visible_orgs()


live.CHANNEL_RULES["incoming"] = _doc_channel
live.CHANNEL_RULES["incomingsender"] = _sender_channel


# --- queues and lists ----------------------------------------------------------------------------


@router.get("/incoming")
async def incoming_home(request: Request, principal: SignedIn, session: SessionDep) -> Response:
    if principal.orgs_with(Role.clerk):
        return RedirectResponse("/incoming/to-register", status_code=303)
    if principal.orgs_with(*LEADERS):
        return RedirectResponse("/incoming/to-direct", status_code=303)
    return RedirectResponse("/incoming/tasks", status_code=303)


@router.get("/incoming/to-register")
async def to_register(request: Request, principal: Clerk, session: SessionDep, after: QueueAfter = None) -> Response:
    docs = await incoming.clerk_queue(session, principal=principal, after=after, limit=incoming.QUEUE_PAGE + 1)
    tabs = await _tabs(request, session, principal, "to_register")
    return render(
        request,
        "incoming/list.html",
        {
            **tabs,
            "title": "To register",
            **_queue_page(request, await _decorate(session, request, docs), tabs["counts"], "to_register"),
            "empty": "Nothing waits for registration. Register a paper or e-mailed document with the button above.",
        },
    )


@router.get("/incoming/to-direct")
async def to_direct(request: Request, principal: Leader, session: SessionDep, after: QueueAfter = None) -> Response:
    docs = await incoming.leader_queue(session, principal=principal, after=after, limit=incoming.QUEUE_PAGE + 1)
    tabs = await _tabs(request, session, principal, "to_direct")
    return render(
        request,
        "incoming/list.html",
        {
            **tabs,
            "title": "Awaiting direction",
            **_queue_page(request, await _decorate(session, request, docs), tabs["counts"], "to_direct"),
            "empty": "No document awaits your direction.",
        },
    )


@router.get("/incoming/tasks")
async def my_tasks(request: Request, principal: SignedIn, session: SessionDep, after: QueueAfter = None) -> Response:
    pairs = await incoming.my_tasks(session, principal=principal, after=after, limit=incoming.QUEUE_PAGE + 1)
    rows = await _decorate(session, request, [d for d, _ in pairs])
    for row, (_, role) in zip(rows, pairs):
        row["role"] = role
    tabs = await _tabs(request, session, principal, "tasks")
    return render(
        request,
        "incoming/list.html",
        {
            **tabs,
            "title": "In progress",
            **_queue_page(request, rows, tabs["counts"], "my_tasks"),
            "show_role": True,
            "empty": "No incoming document is assigned to you.",
        },
    )


@router.get("/incoming/done")
async def done(request: Request, principal: SignedIn, session: SessionDep, after: QueueAfter = None) -> Response:
    docs = await incoming.done_list(session, principal=principal, after=after, limit=incoming.QUEUE_PAGE + 1)
    tabs = await _tabs(request, session, principal, "done")
    return render(
        request,
        "incoming/list.html",
        {
            **tabs,
            "title": "Done",
            **_queue_page(request, await _decorate(session, request, docs), tabs["counts"], None),
            "empty": "No completed document yet.",
        },
    )


@router.get("/incoming/search")
async def search(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    status: str = "",
    date_from: str = "",
    date_to: str = "",
    issuer: str = "",
    doc_type: str = "",
    urgency: str = "",
    due: str = "",
    q: str = "",
    before: int | None = None,
    rank: int = Query(0, ge=0, le=1),
) -> Response:
    filters = incoming.SearchFilters(
        status=status or None,
        date_from=_date(date_from),
        date_to=_date(date_to),
        issuer=issuer or None,
        doc_type=doc_type or None,
        urgency=urgency or None,
        due=due or None,
        text=q or None,
    )
    limit = 30
    docs = await incoming.search(
        session, principal=principal, filters=filters, before_id=before, before_rank=rank, limit=limit + 1, soon_days=_soon(request)
    )
    more = len(docs) > limit
    docs = docs[:limit]
    params = {
        k: v
        for k, v in {
            "status": status,
            "date_from": date_from,
            "date_to": date_to,
            "issuer": issuer,
            "doc_type": doc_type,
            "urgency": urgency,
            "due": due,
            "q": q,
        }.items()
        if v
    }
    from urllib.parse import urlencode

    words = textsearch.Query.parse(q)
    cursor = {"before": docs[-1].id, **({"rank": textsearch.rank_of(docs[-1], words)} if words else {})} if docs else {}
    next_url = f"/incoming/search?{urlencode({**params, **cursor})}" if more and docs else None
    return render(
        request,
        "incoming/list.html",
        {
            **await _tabs(request, session, principal, "search"),
            "title": "Search incoming documents",
            "rows": await _decorate(session, request, docs),
            "search": True,
            "f": params,
            "next_url": next_url,
            "statuses": [s.value for s in Status] + ["due_soon", "overdue"],
            "doc_types": DOC_TYPES,
            "urgencies": URGENCY,
            "empty": "No document matches these filters. Widen the period or clear a filter.",
        },
    )


# --- registration -------------------------------------------------------------------------------


@router.get("/incoming/new")
async def new_form(request: Request, principal: Clerk, session: SessionDep) -> Response:
    orgs = await _org_choices(session, principal, (Role.clerk,))
    org_id = orgs[0].id
    return render(
        request,
        "incoming/new.html",
        {
            **await _tabs(request, session, principal, "to_register"),
            **await _form_context(session, principal, org_id),
            "orgs": orgs,
            "org_id": org_id,
            "form": {"arrival_date": calendar.vn_today().isoformat(), "doc_type": "CV"},
            "duplicates": [],
            "error": None,
        },
    )


@router.get("/incoming/check-duplicate")
async def check_duplicate(
    request: Request,
    principal: Clerk,
    session: SessionDep,
    org_id: int = Query(...),
    number_notation: str = "",
    document_date: str = "",
    issuer_name: str = "",
    issuer_org_id: str = "",
) -> Response:
    """The duplicate check the registration form runs before saving (JSON)."""

    require(principal, [Role.clerk], org_id, "organization")
    found = await incoming.find_duplicates(
        session,
        organization_id=org_id,
        number_notation=number_notation,
        document_date=_date(document_date),
        issuer_name=issuer_name,
        issuer_org_id=form_id(issuer_org_id),
    )
    return JSONResponse(
        {
            "duplicates": [
                {
                    "id": d.id,
                    "arrival_number": d.arrival_label,
                    "number_notation": d.number_notation,
                    "subject": d.subject,
                    "issuer": d.issuer_name,
                    "arrival_date": i18n.fmt_date(d.arrival_date),
                    "url": f"/incoming/{d.id}",
                }
                for d in found
            ]
        }
    )


@router.post("/incoming")
async def create(
    request: Request,
    principal: Clerk,
    session: SessionDep,
    files: Annotated[list[UploadFile], File()] = [],  # FastAPI's way to declare a list of files
) -> Response:
    form = dict((await request.form()).items())
    form.pop("files", None)
    org_id = form_id(form.get("organization_id")) or 0
    allow_duplicate = form.get("allow_duplicate") == "on"
    duplicates: list[IncomingDocument] = []
    try:
        await _fill_issuer(session, form)
        # Checking the uploads' signatures waits on OCSP: no transaction stays open meanwhile
        # (nothing was written yet; registering begins a new one).
        await session.commit()
        checked = await check_files(request, files)
        async with session.begin_nested():
            doc = await incoming.register(
                session,
                principal=principal,
                organization_id=org_id,
                meta=_meta_from_form(form),
                files=checked,
                blobs=BlobStore.for_settings(request.app.state.settings),
                allow_duplicate=allow_duplicate,
            )
    except DomainError as exc:
        if "duplicates" in exc.details:
            found = [await session.get(IncomingDocument, i) for i in cast(list[int], exc.details["duplicates"])]
            duplicates = [d for d in found if d]
        if exc.details.get("backdate"):
            form["backdate_needed"] = "1"  # the reason field appears with the message
        orgs = await _org_choices(session, principal, (Role.clerk,))
        if org_id not in {o.id for o in orgs}:
            raise
        return render(
            request,
            "incoming/new.html",
            {
                **await _tabs(request, session, principal, "to_register"),
                **await _form_context(session, principal, org_id),
                "orgs": orgs,
                "org_id": org_id,
                "form": form,
                "duplicates": duplicates,
                "error": exc.text(i18n.current_locale.get()),
            },
            status_code=exc.status_code,
        )
    await tell(session, "incoming", doc.id)
    return _done(doc.id, "held" if doc.status == Status.arrived.value else "registered")


@router.post("/incoming/{document_id}/register")
async def register_existing(
    request: Request,
    principal: Clerk,
    session: SessionDep,
    document_id: int,
) -> Response:
    """Register a document that arrived from the system or was returned to the clerk."""
    form = dict((await request.form()).items())
    doc, _ = await incoming.get_for(session, principal=principal, document_id=document_id)
    await _fill_issuer(session, form)
    await incoming.register(
        session,
        principal=principal,
        organization_id=doc.organization_id,
        meta=_meta_from_form(form),
        files=[],
        blobs=BlobStore.for_settings(request.app.state.settings),
        document_id=document_id,
        allow_duplicate=form.get("allow_duplicate") == "on",
    )
    await tell(session, "incoming", document_id)
    return _done(document_id, "registered")


@router.post("/incoming/{document_id}/accept")
async def accept(
    request: Request, principal: Clerk, session: SessionDep, document_id: int, reason: Annotated[str, Form()] = ""
) -> Response:
    await incoming.accept_despite_signatures(session, principal=principal, document_id=document_id, reason=reason)
    await tell(session, "incoming", document_id)
    return _done(document_id, "registered")


@router.post("/incoming/{document_id}/return-sender")
async def return_sender(
    request: Request, principal: Clerk, session: SessionDep, document_id: int, reason: Annotated[str, Form()] = ""
) -> Response:
    await incoming.return_to_sender(session, principal=principal, document_id=document_id, reason=reason)
    await tell(session, "incoming", document_id)
    return _done(document_id, "returned")


@router.post("/incoming/{document_id}/recall-answer")
async def recall_answer(
    request: Request,
    principal: Clerk,
    session: SessionDep,
    document_id: int,
    decision: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    """The clerk agrees to (15) or refuses (16) a partner's recall of a document it sent by edXML."""
    await incoming.answer_recall(session, principal=principal, document_id=document_id, decision=decision, reason=reason)
    return _done(document_id, "recall_answered")


# --- direction and handling ------------------------------------------------------------------------


@router.post("/incoming/{document_id}/return-clerk")
async def return_clerk(
    request: Request, principal: SignedIn, session: SessionDep, document_id: int, reason: Annotated[str, Form()] = ""
) -> Response:
    await incoming.return_to_clerk(session, principal=principal, document_id=document_id, reason=reason)
    await tell(session, "incoming", document_id)
    return _done(document_id, "returned")


@router.post("/incoming/{document_id}/direct")
async def direct(
    request: Request,
    principal: Leader,
    session: SessionDep,
    document_id: int,
    instruction: Annotated[str, Form()] = "",
    lead: Annotated[str, Form()] = "",
    co_users: Annotated[list[str], Form()] = [],
    co_units: Annotated[list[str], Form()] = [],
    info_users: Annotated[list[str], Form()] = [],
    due_days: Annotated[str, Form()] = "",
    due_date: Annotated[str, Form()] = "",
) -> Response:
    await incoming.get_for(session, principal=principal, document_id=document_id)  # 404 before the form is read
    kind, _, ident = lead.partition(":")
    if not is_digits(ident) or kind not in ("user", "unit"):
        raise InvalidInput(_l("Choose the lead handler."))
    handlers = incoming.Handlers(
        lead_user_id=int(ident) if kind == "user" else None,
        lead_unit_id=int(ident) if kind == "unit" else None,
        co_user_ids=form_ids(co_users),
        co_unit_ids=form_ids(co_units),
        info_user_ids=form_ids(info_users),
    )
    explicit = _date(due_date, _l("Handling due date"))
    await incoming.direct(
        session,
        principal=principal,
        document_id=document_id,
        instruction=instruction,
        handlers=handlers,
        due_date=explicit,
        due_working_days=None if explicit else form_id(due_days),
    )
    await tell(session, "incoming", document_id)
    return _done(document_id, "directed")


@router.post("/incoming/{document_id}/no-direction")
async def no_direction(
    request: Request, principal: Leader, session: SessionDep, document_id: int, note: Annotated[str, Form()] = ""
) -> Response:
    await incoming.mark_no_direction(session, principal=principal, document_id=document_id, note=note)
    await tell(session, "incoming", document_id)
    return _done(document_id)


@router.post("/incoming/{document_id}/extend")
async def extend(
    request: Request,
    principal: Leader,
    session: SessionDep,
    document_id: int,
    new_due: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    await incoming.get_for(session, principal=principal, document_id=document_id)  # 404 before the form is read
    due = _date(new_due, _l("New due date"), required=True)
    assert due is not None
    await incoming.extend_due(session, principal=principal, document_id=document_id, new_due=due, reason=reason)
    await tell(session, "incoming", document_id)
    return _done(document_id)


@router.post("/incoming/{document_id}/delegate")
async def delegate(
    request: Request, principal: SignedIn, session: SessionDep, document_id: int, user_id: Annotated[str, Form()] = ""
) -> Response:
    await incoming.delegate(session, principal=principal, document_id=document_id, user_id=form_id(user_id))
    await tell(session, "incoming", document_id)
    return _done(document_id)


@router.post("/incoming/{document_id}/progress")
async def progress(
    request: Request, principal: SignedIn, session: SessionDep, document_id: int, body: Annotated[str, Form()] = ""
) -> Response:
    await incoming.record_progress(session, principal=principal, document_id=document_id, body=body)
    await tell(session, "incoming", document_id)
    return _done(document_id)


@router.post("/incoming/{document_id}/opinion")
async def opinion(
    request: Request, principal: SignedIn, session: SessionDep, document_id: int, body: Annotated[str, Form()] = ""
) -> Response:
    await incoming.add_opinion(session, principal=principal, document_id=document_id, body=body)
    await tell(session, "incoming", document_id)
    return _done(document_id)


@router.post("/incoming/{document_id}/complete")
async def complete(
    request: Request, principal: SignedIn, session: SessionDep, document_id: int, result: Annotated[str, Form()] = ""
) -> Response:
    await incoming.complete(session, principal=principal, document_id=document_id, result=result)
    await tell(session, "incoming", document_id)
    return _done(document_id, "completed")


@router.post("/incoming/{document_id}/reply")
async def link_reply(
    request: Request, principal: SignedIn, session: SessionDep, document_id: int, outgoing_id: Annotated[str, Form()] = ""
) -> Response:
    await incoming.link_reply(session, principal=principal, document_id=document_id, outgoing_id=form_id(outgoing_id))
    await tell(session, "incoming", document_id)
    return _done(document_id, "reply")


# --- register and statistics --------------------------------------------------------------------------


@router.post("/incoming/book/print")
async def register_book_print(
    request: Request,
    principal: Reader,
    session: SessionDep,
    year: Annotated[int, Form(ge=1900, le=9999)],
    org: Annotated[str, Form()] = "",
    series: Annotated[str, Form()] = "chung",
) -> Response:
    """Print the whole book as PDF in the background; the page follows the print and offers the file."""
    org_id = form_id(org) or principal.me.organization_id
    await register_prints.start(session, principal=principal, kind="incoming", series=series, organization_id=org_id, year=year)
    return RedirectResponse(f"{prints_panel.Register('incoming', series, org_id, year).page_url}#register-print", status_code=303)


@router.post("/incoming/book/archive")
async def register_book_archive(
    request: Request,
    principal: Clerk,
    session: SessionDep,
    year: Annotated[int, Form(ge=1900, le=9999)],
    org: Annotated[str, Form()] = "",
    series: Annotated[str, Form()] = "chung",
) -> Response:
    """Close a past year's incoming register (one series): its book printed, time-stamped and kept,
    in the background."""
    org_id = form_id(org) or principal.me.organization_id
    await register_prints.start(
        session, principal=principal, kind="incoming", series=series, organization_id=org_id, year=year, purpose=register_prints.ARCHIVE
    )
    return RedirectResponse(f"{prints_panel.Register('incoming', series, org_id, year).page_url}#register-archive", status_code=303)


@router.get("/incoming/book/archive.pdf")
async def register_book_archive_file(
    request: Request, principal: Reader, session: SessionDep, year: int, org: int | None = None, series: str = "chung"
) -> Response:
    org_id = org or principal.me.organization_id
    readers = principal.orgs_with(*DOCUMENT_READERS) if series == "chung" else principal.orgs_with(Role.clerk, Role.leader)
    if org_id not in readers:
        raise NotFound(_l("register not found"))
    name = f"so-van-ban-den-{year}{'-mat' if series == 'mat' else ''}-luu-tru.pdf"
    return await closing.archived_file(request, session, kind="incoming", series=series, org_id=org_id, year=year, name=name)


@router.get("/incoming/book")
async def register_book(
    request: Request,
    principal: Reader,
    session: SessionDep,
    year: int | None = None,
    org: int | None = None,
    series: str = "chung",
    format: str = "html",
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    start: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    """The register book, a page at a time (from number `start`, or after number `after`); the
    DOCX (`format=docx`) is the whole book, and so is the PDF, which is printed in the background
    (`POST /incoming/book/print`; `format=pdf` shows the page with its print panel)."""
    after = start - 1 if start else after
    orgs = await _org_choices(session, principal, DOCUMENT_READERS)
    org_id = org or orgs[0].id
    year = year or calendar.vn_today().year
    if series not in ("chung", "mat"):
        raise InvalidInput(_l("Unknown register."))
    printing = format == "docx"
    rows = await incoming.register_rows(
        session,
        principal=principal,
        organization_id=org_id,
        year=year,
        series=series,
        after=0 if printing else after,
        limit=None if printing else BOOK_PAGE + 1,
    )
    organization = await session.get(Organization, org_id)
    assert organization is not None
    title = organization.name + (" — Sổ văn bản mật" if series == "mat" else "")
    if printing:
        from services.documents.registers_print import build_register_docx

        await session.rollback()  # no snapshot held while the DOCX is built (seconds for a year)
        data = await asyncio.to_thread(build_register_docx, kind="incoming", org_name=title, year=year, rows=rows)
        name = f"so-van-ban-den-{year}{'-mat' if series == 'mat' else ''}.docx"
        return Response(
            data,
            media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    from services.documents import register_archive

    size = await incoming.register_size(session, organization_id=org_id, year=year, series=series)
    return render(
        request,
        "incoming/book.html",
        {
            **await _tabs(request, session, principal, "book"),
            "rows": rows[:BOOK_PAGE],
            "book": book_page(
                rows,
                after=after,
                size=size,
                base=f"/incoming/book?org={org_id}&year={year}&series={series}",
                cursor=lambda row: str(row["number"]),
            ),
            "year": year,
            **await prints_panel.panel(session, prints_panel.Register("incoming", series, org_id, year), size=size),
            "archived": await register_archive.find(session, organization_id=org_id, kind="incoming", series=series, year=year),
            "can_archive": principal.has_role(Role.clerk, org_id) and year < calendar.vn_today().year,
            "org": organization,
            "orgs": orgs,
            "series": series,
            "years": list(range(calendar.vn_today().year, calendar.vn_today().year - 5, -1)),
        },
    )


@router.get("/incoming/stats")
async def stats(request: Request, principal: Reader, session: SessionDep, year: int | None = None, org: int | None = None) -> Response:
    orgs = await _org_choices(session, principal, DOCUMENT_READERS)
    org_id = org or orgs[0].id
    year = year or calendar.vn_today().year
    rows = await incoming.unit_statistics(session, principal=principal, organization_id=org_id, year=year)
    return render(
        request,
        "incoming/stats.html",
        {
            **await _tabs(request, session, principal, "stats"),
            "rows": rows,
            "year": year,
            "org_id": org_id,
            "orgs": orgs,
            "total": handling.Tally(**{k: sum(getattr(r, k) for r in rows) for k in ("on_time", "late", "overdue_open", "open")}),
        },
    )


# --- the document page -------------------------------------------------------------------------------


async def _preview_pages(blobs: BlobStore, pdf: IncomingFile | None, limits: previews.Limits) -> tuple[int, int]:
    """(pages shown in the viewer, pages in the file); (0, 0) when there is nothing to show."""
    if pdf is None or not blobs.exists(pdf.sha256):
        return 0, 0
    try:
        total = await asyncio.to_thread(previews.page_count, blobs, pdf.sha256, limits)
    except DomainError:
        return 0, 0
    return min(total, previews.MAX_PAGES), total


@router.get("/incoming/{document_id}")
async def document_page(request: Request, principal: SignedIn, session: SessionDep, document_id: int) -> Response:
    doc, roles = await incoming.get_for(session, principal=principal, document_id=document_id)
    settings = request.app.state.settings
    blobs = BlobStore.for_settings(settings)
    today = calendar.vn_today()
    holidays = await calendar.holiday_set(session, today)
    user_ids = {doc.lead_user_id, doc.directed_by_id, doc.registered_by_id, doc.returned_by_id, *(a.user_id for a in doc.assignments)} - {
        None
    }
    people = {u.id: u for u in (await session.scalars(select(User).where(User.id.in_(user_ids)))).all()} if user_ids else {}
    units = {u.id: u for u in (await session.scalars(select(Unit).where(Unit.organization_id == doc.organization_id))).all()}
    org = await session.get(Organization, doc.organization_id)
    reports = []
    for f in doc.files:
        data = json.loads(f.validation) if f.validation and f.validation != "null" else None
        reports.append((f, data))
    main_pdf = next((f for f in sorted(doc.files, key=lambda f: not f.is_main) if f.content_type == PDF), None)
    ctx: dict[str, Any] = {
        **await _tabs(request, session, principal, ""),
        "doc": doc,
        "roles": roles,
        "org": org,
        "people": people,
        "units": units,
        "status": incoming.display_status(doc, today, holidays, _soon(request)),
        "reports": reports,
        "main_pdf": main_pdf,
        "preview_pages": await _preview_pages(blobs, main_pdf, previews.Limits.of(request.app.state.settings)),
        "main_image": next((f for f in doc.files if f.content_type in (PNG, JPEG)), None),
        "trail": await incoming.trail(session, document_id=doc.id),
        "active": [a for a in doc.assignments if a.active],
        "working_days_left": calendar.working_days_between(today, doc.due_date, holidays) if doc.due_date else None,
        "recall_request": await incoming.recall_waiting(session, doc),
    }
    if "clerk" in roles and doc.status in (Status.arrived.value, Status.returned.value):
        ctx.update(await _form_context(session, principal, doc.organization_id))
        ctx["form"] = {
            "issuer_name": doc.issuer_name,
            "issuer_org_id": doc.issuer_org_id or "",
            "number_notation": doc.number_notation,
            "document_date": doc.document_date.isoformat() if doc.document_date else "",
            "doc_type": doc.doc_type,
            "subject": doc.subject,
            "urgency": doc.urgency,
            "secrecy": doc.secrecy,
            "doc_due_date": doc.doc_due_date.isoformat() if doc.doc_due_date else "",
            "arrival_date": (doc.arrival_date or today).isoformat(),
            "receiving_unit_id": doc.receiving_unit_id or "",
        }
        floor = await incoming.register_floor(session, organization_id=doc.organization_id, series=incoming.series_of(doc.secrecy))
        if doc.arrival_number is None and (doc.arrival_date or today) < floor:
            ctx["form"]["backdate_needed"] = "1"  # arrived before the register's last entry: say why
        ctx["duplicates"] = await incoming.find_duplicates(
            session,
            organization_id=doc.organization_id,
            number_notation=doc.number_notation,
            document_date=doc.document_date,
            issuer_name=doc.issuer_name,
            issuer_org_id=doc.issuer_org_id,
            exclude_id=doc.id,
        )
    ctx["reply"] = await session.get(OutgoingDocument, doc.reply_outgoing_id) if doc.reply_outgoing_id else None
    if roles & {"lead", "leader"} and doc.status in incoming.REPLY_STATUSES:
        ctx["reply_candidates"] = await incoming.reply_candidates(session, organization_id=doc.organization_id)
        ctx["can_draft"] = doc.organization_id in principal.orgs_with(*DRAFT_ROLES)
    if roles & {"leader", "unit_head"}:
        ctx["staff"] = await incoming.people_of(session, organization_id=doc.organization_id)
        ctx["co_staff"] = [p for p in ctx["staff"] if p.id != principal.user.id]  # phối hợp: never oneself
        ctx["default_due_days"] = settings.incoming_default_due_working_days
        ctx["today_iso"] = today.isoformat()
    return render(request, "incoming/document.html", ctx)


@router.get("/incoming/{document_id}/files/{file_id}")
@writes_on_read
async def file_view(
    request: Request, principal: SignedIn, session: SessionDep, document_id: int, file_id: int, download: bool = False
) -> Response:
    doc, _ = await incoming.get_for(session, principal=principal, document_id=document_id)
    row = next((f for f in doc.files if f.id == file_id), None)
    if row is None:
        raise NotFound(_l("file not found"))
    data = BlobStore.for_settings(request.app.state.settings).get(row.sha256)
    await incoming.record_file_view(session, principal=principal, doc=doc, file=row)
    from urllib.parse import quote

    inline = row.content_type in (PDF, PNG, JPEG) and not download
    disposition = f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(row.filename)}"
    return Response(
        data,
        media_type=row.content_type,
        headers={
            "Content-Disposition": disposition,
            "Cache-Control": "private, no-store",
            # The PDF viewer embeds this file in the document page (same origin only).
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'",
        },
    )


@router.get("/incoming/{document_id}/files/{file_id}/pages/{page}.png")
@writes_on_read
async def file_page(request: Request, principal: SignedIn, session: SessionDep, document_id: int, file_id: int, page: int) -> Response:
    """One page of a PDF as an image, for the viewer on the document page (opening it is a file view)."""
    doc, _ = await incoming.get_for(session, principal=principal, document_id=document_id)
    row = next((f for f in doc.files if f.id == file_id and f.content_type == PDF), None)
    if row is None:
        raise NotFound(_l("file not found"))
    blobs = BlobStore.for_settings(request.app.state.settings)
    data = await asyncio.to_thread(previews.page_png, blobs, row.sha256, page, previews.Limits.of(request.app.state.settings))
    if page == 1:
        await incoming.record_file_view(session, principal=principal, doc=doc, file=row)
    return Response(data, media_type=PNG, headers={"Cache-Control": "private, max-age=3600"})


# --- public holidays (admin) ------------------------------------------------------------------------


@router.get("/admin/holidays")
async def holidays_page(
    request: Request, principal: AdminUser, session: SessionDep, year: Annotated[int | None, Query(ge=1900, le=2200)] = None
) -> Response:  # a date's range; 500 before
    year = year or calendar.vn_today().year
    return render(
        request,
        "incoming/holidays.html",
        {
            "holidays": await calendar.list_holidays(session, year=year),
            "year": year,
            "kept": await calendar.is_kept(session, year),
            "years": list(range(calendar.vn_today().year - 1, calendar.vn_today().year + 3)),
        },
    )


@router.post("/admin/holidays")
async def holiday_add(
    request: Request, principal: AdminUser, session: SessionDep, day: Annotated[str, Form()] = "", name: Annotated[str, Form()] = ""
) -> Response:
    when = _date(day, _l("Holiday date"), required=True)
    assert when is not None
    await calendar.add_holiday(session, actor=principal.actor, day=when, name=name)
    return RedirectResponse(f"/admin/holidays?year={when.year}&ok=added", status_code=303)


@router.post("/admin/holidays/remove")
async def holiday_remove(request: Request, principal: AdminUser, session: SessionDep, day: Annotated[str, Form()] = "") -> Response:
    when = _date(day, _l("Holiday date"), required=True)
    assert when is not None
    await calendar.remove_holiday(session, actor=principal.actor, day=when)
    return RedirectResponse(f"/admin/holidays?year={when.year}&ok=removed", status_code=303)


# Keep the file model import used (type hints in templates); silence linters about unused names.
__all__ = ["router", "IncomingFile"]
