"""Report requests (yêu cầu báo cáo) and their submissions over the public API: the same service
functions and access rules as the pages (web/routes/reports.py), answered as JSON.

A target's part (one organisation's answer) has a revision: its actions (submit, decide, assign)
answer it with its ETag and take If-Match (409 when stale). A request itself has no revision
column, so its actions (extend, close, restart) carry no ETag; each answers the request as it
now is.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field, Json
from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from services.calendar import check_plausible
from services.directory.models import LEADERS, Organization, Role, User
from services.i18n import _l
from services.outbox.service import tell
from services.reports import service as reports
from services.reports.models import FieldKind, ReportRequest, ReportTarget, RequestStatus
from web.api_v1.common import Answer, Cursor, IdempotencyKey, IfMatch, check_revision, etag, once, window
from web.deps import SessionDep, SignedIn
from web.routes.reports import STATES
from web.routes.reports import _targets_changed as targets_changed  # the page's outbox messages, not a copy
from web.routes.reports import _upload as checked_upload  # the page's check of a file by its content

router = APIRouter(prefix="/api/v1/reports", tags=["api v1: report requests"])
PAGE_MAX = 100
JSON = "application/json"
Kind = Literal["integer", "decimal", "text", "percent"]
State = Literal["overdue", "missing", "awaiting_approval", "waiting", "pending", "late", "on_time"]
assert set(get_args(Kind)) == {k.value for k in FieldKind} and get_args(State) == STATES  # kept in step with the model and page


# --- what is answered ------------------------------------------------------------------------------


class ProgressOut(BaseModel):
    total: int
    delivered: int
    submitted: int
    on_time: int
    late: int
    missing: int = Field(description="Past the deadline (or closed) without a report")
    waiting: int
    awaiting_approval: int
    percent: int


class FieldOut(BaseModel):
    id: int = Field(description="The key of this figure in a submission's `figures`")
    position: int
    name: str
    unit: str
    kind: Kind
    required: bool


class TargetRowOut(BaseModel):
    target_id: int
    organization_id: int
    organization: str
    level: str
    state: str = Field(description="overdue, missing, awaiting_approval, waiting, pending, late or on_time")
    deadline: dt.datetime
    submitted_at: dt.datetime | None
    versions: int = Field(description="Reports handed in (resubmissions count)")
    assignee: str | None
    url: str = Field(description="The target's part in this API")


class RequestSummary(BaseModel):
    id: int
    organization_id: int = Field(description="The requesting organisation")
    organization: str
    notation: str | None = Field(description="The letter's number and notation, once issued")
    title: str
    status: Literal["awaiting_letter", "open", "completed", "closed"]
    deadline: dt.datetime
    requires_approval: bool
    scope_label: str
    target_count: int
    created_at: dt.datetime
    closed_at: dt.datetime | None
    progress: ProgressOut
    page_url: str


class RequestOut(RequestSummary):
    instructions: str
    created_by_id: int
    closed_by_id: int | None
    close_reason: str | None
    letter_outgoing_id: int | None = Field(description="The request's letter, an outgoing document signed and issued before it opens")
    fields: list[FieldOut]
    targets: list[TargetRowOut]
    can_manage: bool = Field(description="The caller may extend, close or restart it")
    letter_url: str
    template_url: str | None
    export_urls: dict[str, str] = Field(description="Consolidated downloads: csv, xlsx, zip")


class RequestPage(BaseModel):
    items: list[RequestSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
    total: int


class SubmissionOut(BaseModel):
    id: int
    version: int
    status: Literal["awaiting_approval", "rejected", "submitted", "superseded"]
    filename: str | None
    content_type: str | None
    size: int
    sha256: str | None
    figures: dict[str, str] = Field(description="Field id → value")
    note: str
    created_by: str | None
    created_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    decision_note: str | None
    submitted_at: dt.datetime | None
    download_url: str | None


class TargetSummary(BaseModel):
    request_id: int
    organization_id: int
    status: Literal["pending", "delivered", "awaiting_approval", "submitted", "missing"]
    state: str = Field(description="As the requester's table shows it")
    deadline: dt.datetime
    submitted_at: dt.datetime | None
    assignee_id: int | None
    revision: int
    etag: str
    url: str


class ReceivedItem(BaseModel):
    request_id: int
    title: str
    notation: str | None
    requester_id: int
    requester: str
    request_status: str
    target: TargetSummary


class ReceivedPage(BaseModel):
    items: list[ReceivedItem]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
    total: int


class TargetOut(TargetSummary):
    organization: str
    request_title: str
    request_status: str
    requester_id: int
    requester: str
    instructions: str
    requires_approval: bool
    fields: list[FieldOut]
    delivered_at: dt.datetime | None
    first_submitted_at: dt.datetime | None
    on_time: bool | None
    incoming_id: int | None = Field(description="The request as it arrived in the target's incoming register")
    assignee: str | None
    can_submit: bool
    can_decide: bool = Field(description="The caller leads the target: approves or returns an officer's report")
    can_assign: bool
    submissions: list[SubmissionOut] = Field(description="Newest first")


def _fields(req: ReportRequest) -> list[FieldOut]:
    return [FieldOut(id=f.id, position=f.position, name=f.name, unit=f.unit, kind=f.kind, required=f.required) for f in req.fields]


def _target_etag(target: ReportTarget) -> str:
    return etag("report-target", target.id, target.revision)


def _target_url(request_id: int, organization_id: int) -> str:
    return f"/api/v1/reports/{request_id}/targets/{organization_id}"


def _summary_fields(req: ReportRequest, organization: str, progress: reports.Progress) -> dict[str, Any]:
    return {
        "id": req.id,
        "organization_id": req.organization_id,
        "organization": organization,
        "notation": req.notation,
        "title": req.title,
        "status": req.status,
        "deadline": req.deadline,
        "requires_approval": req.requires_approval,
        "scope_label": req.scope_label,
        "target_count": req.target_count,
        "created_at": req.created_at,
        "closed_at": req.closed_at,
        "progress": ProgressOut(**progress.as_dict()),
        "page_url": f"/reports/{req.id}",
    }


async def _request_answer(
    session: AsyncSession, principal: Principal, request_id: int, status_code: int = 200, state: str | None = None
) -> Answer:
    """The request as its requester now sees it (404 for anyone else, targets included)."""
    req = await reports.request_for(session, principal=principal, request_id=request_id)
    org = await session.get(Organization, req.organization_id)
    rows = await reports.target_rows(session, request_id=req.id, state=state)
    out = RequestOut(
        **_summary_fields(req, org.name if org else "", await reports.progress(session, request_id=req.id)),
        instructions=req.instructions,
        created_by_id=req.created_by_id,
        closed_by_id=req.closed_by_id,
        close_reason=req.close_reason,
        letter_outgoing_id=req.letter_outgoing_id,
        fields=_fields(req),
        targets=[
            TargetRowOut(
                target_id=r.target_id,
                organization_id=r.organization_id,
                organization=r.organization,
                level=r.level,
                state=r.state,
                deadline=r.deadline,
                submitted_at=r.submitted_at,
                versions=r.versions,
                assignee=r.assignee,
                url=_target_url(req.id, r.organization_id),
            )
            for r in rows
        ],
        can_manage=reports.can_manage(principal, req),
        letter_url=f"/reports/{req.id}/files/letter",
        template_url=f"/reports/{req.id}/files/template" if req.template_sha256 else None,
        export_urls={fmt: f"/reports/{req.id}/export.{fmt}" for fmt in ("csv", "xlsx", "zip")},
    )
    headers = {"Location": f"/api/v1/reports/{req.id}"} if status_code == 201 else {}
    return Answer(out, status_code, headers)


def _target_summary_fields(req: ReportRequest, target: ReportTarget) -> dict[str, Any]:
    return {
        "request_id": req.id,
        "organization_id": target.organization_id,
        "status": target.status,
        "state": reports.target_state(target),
        "deadline": target.deadline,
        "submitted_at": target.submitted_at,
        "assignee_id": target.assignee_id,
        "revision": target.revision,
        "etag": _target_etag(target),
        "url": _target_url(req.id, target.organization_id),
    }


async def _target_answer(session: AsyncSession, principal: Principal, request_id: int, organization_id: int) -> Answer:
    """One target's part as the caller now sees it: its own members, or the requester."""
    req, target = await reports.target_for(session, principal=principal, request_id=request_id, organization_id=organization_id)
    await session.refresh(target)  # bulk updates (extend, close) bypass the loaded object
    org = await session.get(Organization, organization_id)
    requester = await session.get(Organization, req.organization_id)
    assignee = await session.get(User, target.assignee_id) if target.assignee_id else None
    my_roles = principal.roles.get(organization_id, set())
    submissions = [
        SubmissionOut(
            id=s.id,
            version=s.version,
            status=s.status,
            filename=s.filename,
            content_type=s.content_type,
            size=s.size,
            sha256=s.sha256,
            figures=reports.figures_of(s),
            note=s.note,
            created_by=maker,
            created_at=s.created_at,
            decided_by=decider,
            decided_at=s.decided_at,
            decision_note=s.decision_note,
            submitted_at=s.submitted_at,
            download_url=f"/reports/{req.id}/targets/{organization_id}/submissions/{s.id}/file" if s.sha256 else None,
        )
        for s, maker, decider in await reports.submissions_of(session, target_id=target.id)
    ]
    out = TargetOut(
        **_target_summary_fields(req, target),
        organization=org.name if org else "",
        request_title=req.title,
        request_status=req.status,
        requester_id=req.organization_id,
        requester=requester.name if requester else "",
        instructions=req.instructions,
        requires_approval=req.requires_approval,
        fields=_fields(req),
        delivered_at=target.delivered_at,
        first_submitted_at=target.first_submitted_at,
        on_time=target.on_time,
        incoming_id=target.incoming_id,
        assignee=assignee.full_name if assignee else None,
        # The target page's rules for its buttons.
        can_submit=reports._may_submit(principal, target) and req.status != "closed" and target.status != "missing",
        can_decide=bool(my_roles & set(LEADERS)),
        can_assign=bool(my_roles & {*LEADERS, Role.clerk}),
        submissions=submissions,
    )
    return Answer(out, 200, {"ETag": out.etag})


def _json(answer: Answer) -> Response:
    return Response(answer.model.model_dump_json(), status_code=answer.status_code, headers=answer.headers, media_type=JSON)


# --- lists -----------------------------------------------------------------------------------------

Limit = Annotated[int, Query(ge=1, le=PAGE_MAX)]


@router.get("", response_model=RequestPage)
async def sent(
    principal: SignedIn,
    session: SessionDep,
    status: Annotated[Literal["awaiting_letter", "open", "completed", "closed"] | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 30,
) -> RequestPage:
    """Requests sent by the caller's organisations, newest first, with their progress (the
    page's "sent" tab)."""
    cards = await reports.list_requests(session, principal=principal, status=status)
    page, following = window(cards, cursor, limit)
    items = [RequestSummary(**_summary_fields(c.request, c.organization, c.progress)) for c in page]
    return RequestPage(items=items, next_cursor=following, total=len(cards))


@router.get("/received", response_model=ReceivedPage)
async def received(principal: SignedIn, session: SessionDep, cursor: Cursor = None, limit: Limit = 30) -> ReceivedPage:
    """Requests addressed to the caller's organisations (their part only), unanswered first (the
    page's "received" tab)."""
    rows = await reports.list_received(session, principal=principal)
    page, following = window(rows, cursor, limit)
    items = [
        ReceivedItem(
            request_id=req.id,
            title=req.title,
            notation=req.notation,
            requester_id=req.organization_id,
            requester=name,
            request_status=req.status,
            target=TargetSummary(**_target_summary_fields(req, target)),
        )
        for req, target, name in page
    ]
    return ReceivedPage(items=items, next_cursor=following, total=len(rows))


# --- the requester's part --------------------------------------------------------------------------


class NewRequest(BaseModel):
    """What the requester fills in on the new request page (multipart form)."""

    organization_id: int = Field(description="The requesting organisation (one with levels below it)")
    title: str = Field(max_length=500)
    instructions: str = Field("", max_length=20000)
    deadline_date: dt.date
    deadline_time: dt.time = Field(dt.time(17, 0), description="Vietnamese time of the deadline")
    scope: Literal["children", "under", "subtree", "pick"] = Field(
        "children", description="children: the level below; under: the units of `under_id`; subtree: everything below; pick: `target_ids`"
    )
    under_id: int | None = None
    target_ids: list[int] = []
    requires_approval: bool = Field(False, description="An officer's report waits for the approval of the target's leader")
    field_name: list[str] = Field([], description="The figures every target fills in, one name each…")
    field_unit: list[str] = Field([], description="…its unit…")
    field_kind: list[Kind] = Field([], description="…and its type, in the same order")


@router.post("", status_code=201, response_model=RequestOut)
async def create(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    form: Annotated[NewRequest, Form()],
    template: Annotated[UploadFile | None, File(description="A template for the targets: PDF, DOCX or XLSX, checked by content")] = None,
    key: IdempotencyKey = None,
) -> Response:
    """Create a request for the levels below: its letter goes to the leader for signature, and
    the request opens (reaches its targets) when the letter is issued."""
    upload = await checked_upload(template, request)

    async def act() -> Answer:
        fields = [
            reports.FieldSpec(name=n, unit=u, kind=k) for n, u, k in zip(form.field_name, form.field_unit, form.field_kind) if n.strip()
        ]
        deadline = reports.deadline_from(check_plausible(form.deadline_date, _l("Deadline")), form.deadline_time)
        ids, label = await reports.resolve_targets(
            session, organization_id=form.organization_id, mode=form.scope, under_id=form.under_id, picked=form.target_ids
        )
        req = await reports.create_request(
            session,
            principal=principal,
            settings=request.app.state.settings,
            organization_id=form.organization_id,
            title=form.title,
            instructions=form.instructions,
            deadline=deadline,
            target_ids=ids,
            scope_label=label,
            fields=fields,
            requires_approval=form.requires_approval,
            template=upload,
        )
        assert req.letter_outgoing_id is not None  # create_request drafts the letter with the request
        await tell(session, "outgoing", req.letter_outgoing_id, "changed", "submitted")
        return await _request_answer(session, principal, req.id, 201)

    return await once(request, session, principal, key, act)


@router.get("/{request_id}", response_model=RequestOut)
async def one_request(
    principal: SignedIn,
    session: SessionDep,
    request_id: int,
    state: Annotated[State | None, Query(description="Only the targets in this state")] = None,
) -> Response:
    """One request with its figures and every target's progress, overdue first (the requester's
    page; a target's members read their own part instead)."""
    return _json(await _request_answer(session, principal, request_id, state=state))


class Extension(BaseModel):
    deadline_date: dt.date
    deadline_time: dt.time = Field(dt.time(17, 0), description="Vietnamese time of the new deadline")
    organization_id: int | None = Field(None, description="Only this target; absent: every target without a report")
    reason: str = Field("", max_length=2000)


@router.post("/{request_id}/extend", response_model=RequestOut)
async def extend(
    request: Request, principal: SignedIn, session: SessionDep, request_id: int, body: Extension, key: IdempotencyKey = None
) -> Response:
    """Move the deadline of one target or of every target still owing its report."""

    async def act() -> Answer:
        await reports.request_for(session, principal=principal, request_id=request_id)  # 404 before the body's checks
        deadline = reports.deadline_from(check_plausible(body.deadline_date, _l("New due date")), body.deadline_time)
        changed = await reports.extend(
            session, principal=principal, request_id=request_id, deadline=deadline, organization_id=body.organization_id, reason=body.reason
        )
        if body.organization_id is None:
            await tell(session, "report-request", request_id, "deadline_changed")
        else:
            await targets_changed(session, request_id, changed)
        return await _request_answer(session, principal, request_id)

    return await once(request, session, principal, key, act)


class Closing(BaseModel):
    reason: str = Field("", max_length=2000)


@router.post("/{request_id}/close", response_model=RequestOut)
async def close(
    request: Request, principal: SignedIn, session: SessionDep, request_id: int, body: Closing, key: IdempotencyKey = None
) -> Response:
    """Close the request: targets without a report are missing (before its letter went out: withdrawn)."""

    async def act() -> Answer:
        await reports.close(session, principal=principal, request_id=request_id, reason=body.reason)
        await tell(session, "report-request", request_id, "wake")
        return await _request_answer(session, principal, request_id)

    return await once(request, session, principal, key, act)


@router.post("/{request_id}/restart", response_model=RequestOut)
async def restart(request: Request, principal: SignedIn, session: SessionDep, request_id: int, key: IdempotencyKey = None) -> Response:
    """Start the fan-out again if it never started (harmless: targets are never duplicated)."""

    async def act() -> Answer:
        req = await reports.request_for(session, principal=principal, request_id=request_id)
        if not reports.can_manage(principal, req):
            raise reports.NotFound(_l("Report request not found."))
        if req.status == RequestStatus.open.value:  # before its letter is issued there is nothing to send
            await tell(session, "report-request", req.id, None)
        return await _request_answer(session, principal, request_id)

    return await once(request, session, principal, key, act)


# --- a target's part -------------------------------------------------------------------------------


@router.get("/{request_id}/targets/{organization_id}", response_model=TargetOut)
async def target(principal: SignedIn, session: SessionDep, request_id: int, organization_id: int) -> Response:
    """One organisation's part: its deadline, who prepares it, every report it handed in; the
    ETag header is its revision."""
    return _json(await _target_answer(session, principal, request_id, organization_id))


async def _current_target(session: AsyncSession, principal: Principal, request_id: int, organization_id: int, if_match: str | None) -> None:
    """404 for a part the caller may not see; 409 when If-Match names an older revision."""
    _, target = await reports.target_for(session, principal=principal, request_id=request_id, organization_id=organization_id)
    check_revision(if_match, _target_etag(target))


async def _target_told(session: AsyncSession, principal: Principal, request_id: int, organization_id: int) -> Answer:
    """The target's workflow looks again (the request's too once every report is in), as from the page."""
    req = await reports.get_request(session, request_id=request_id)
    await targets_changed(session, request_id, [organization_id], req.status == RequestStatus.completed.value)
    return await _target_answer(session, principal, request_id, organization_id)


@router.post("/{request_id}/targets/{organization_id}/submit", response_model=TargetOut)
async def submit(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    request_id: int,
    organization_id: int,
    note: Annotated[str, Form(max_length=5000)] = "",
    figures: Annotated[
        Json[dict[str, str | int | float]] | None, Form(description='JSON object: field id → value, e.g. {"12": 120}; absent: none')
    ] = None,
    file: Annotated[
        UploadFile | None, File(description="The report: PDF, DOCX or XLSX, checked by content; absent keeps the last one")
    ] = None,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Hand in the organisation's report (multipart form). With approval required, an officer's
    report waits for the leader; a resubmission keeps the earlier versions."""
    upload = await checked_upload(file, request)

    async def act() -> Answer:
        await _current_target(session, principal, request_id, organization_id, if_match)
        await reports.submit(
            session,
            principal=principal,
            settings=request.app.state.settings,
            request_id=request_id,
            organization_id=organization_id,
            file=upload,
            figures={k: str(v) for k, v in (figures or {}).items()},
            note=note,
        )
        return await _target_told(session, principal, request_id, organization_id)

    return await once(request, session, principal, key, act)


class Decision(BaseModel):
    submission_id: int = Field(description="The report awaiting approval")
    decision: Literal["approve", "return"]
    note: str = Field("", max_length=2000, description="Needed to return it: what to correct")


@router.post("/{request_id}/targets/{organization_id}/decide", response_model=TargetOut)
async def decide(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    request_id: int,
    organization_id: int,
    body: Decision,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """The target's leader approves an officer's report (it is submitted) or returns it."""

    async def act() -> Answer:
        await _current_target(session, principal, request_id, organization_id, if_match)
        await reports.decide(
            session,
            principal=principal,
            request_id=request_id,
            organization_id=organization_id,
            submission_id=body.submission_id,
            approve=body.decision == "approve",
            note=body.note,
        )
        return await _target_told(session, principal, request_id, organization_id)

    return await once(request, session, principal, key, act)


class Assignment(BaseModel):
    user_id: int = Field(description="The officer of the organisation who prepares the report")


@router.post("/{request_id}/targets/{organization_id}/assign", response_model=TargetOut)
async def assign(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    request_id: int,
    organization_id: int,
    body: Assignment,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """The target's leader or clerk names who prepares the report."""

    async def act() -> Answer:
        await _current_target(session, principal, request_id, organization_id, if_match)
        await reports.assign(session, principal=principal, request_id=request_id, organization_id=organization_id, user_id=body.user_id)
        return await _target_answer(session, principal, request_id, organization_id)  # the page tells no workflow

    return await once(request, session, principal, key, act)
