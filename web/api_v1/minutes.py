"""Minutes (biên bản) over the public API: the same service functions and access rules as the
minutes pages (web/routes/minutes.py), answered as JSON.

The minutes' text is saved whole with a revision number; the ETag names that revision. A save or
a closing based on an older revision is refused with 409 (the problem's `current_etag` and
`current_revision` say where the text now is): read it again, merge, and save on the new ETag.
Unlike the browser editor, which keeps a refused save as a conflict copy, an API client keeps its
own text: a refused save leaves nothing behind.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.minutes import service as minutes_service
from meetings.minutes.models import EDITABLE, Minutes, MinutesStatus
from services.authz import Principal
from services.directory.models import User
from services.errors import Conflict, InvalidInput, NotFound
from services.i18n import _l
from services.outbox.service import tell
from services.tasks import service as tasks
from services.tasks.models import OwnerKind
from web import minutes_signing
from web.api_v1.common import Answer, IdempotencyKey, IfMatch, check_revision, etag, once
from web.deps import SessionDep, SignedIn

router = APIRouter(prefix="/api/v1", tags=["api v1: minutes"])
PAGE_MAX = 100


# --- what is answered ------------------------------------------------------------------------------


class MinutesTaskOut(BaseModel):
    id: int
    item_id: int | None = Field(description="The agenda item whose conclusion gave the task")
    title: str
    owner: str
    due_date: date
    status: str
    progress: int
    page_url: str


class MinutesFilesOut(BaseModel):
    docx_url: str | None
    pdf_url: str | None = Field(description="The prepared PDF, unsigned")
    signed_url: str | None = Field(description="The latest signed PDF")


class MinutesOut(BaseModel):
    id: int
    meeting_id: int
    organization_id: int
    status: str = Field(description="draft, rendering, awaiting_secretary, awaiting_chair, returned, signed or distributed")
    revision: int
    etag: str
    content: dict[str, Any] = Field(description="opening, items {agenda item id: discussion, opinions, conclusion}, closing")
    editable: bool = Field(description="The caller may write the minutes now")
    my_turn: Literal["secretary", "chair"] | None = Field(description="The caller's signature is awaited")
    updated_at: datetime
    updated_by: str
    round: int = Field(description="How many times the minutes were closed for signing")
    closed_revision: int | None
    secretary_due: date | None
    chair_due: date | None
    secretary_signed_at: datetime | None
    chair_signed_at: datetime | None
    return_comment: str | None
    verify_error: str | None
    number: int | None
    notation: str | None
    issued_on: date | None
    distributed_at: datetime | None
    files: MinutesFilesOut
    tasks: list[MinutesTaskOut]
    page_url: str


class RevisionOut(BaseModel):
    id: int
    number: int | None = Field(description="Null for a refused (stale) save kept by the editor page")
    base_number: int
    kind: str = Field(description="saved or conflict")
    saved_by: str
    saved_at: datetime


class RevisionContentOut(RevisionOut):
    content: dict[str, Any]


class RevisionPage(BaseModel):
    items: list[RevisionOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


def _etag(minutes: Minutes) -> str:
    return etag("minutes", minutes.id, minutes.revision)


async def _name(session: AsyncSession, user_id: int | None) -> str:
    user = await session.get(User, user_id) if user_id else None
    return user.full_name if user else ""


def _my_turn(minutes: Minutes, acc: minutes_service.MinutesAccess, user_id: int) -> Literal["secretary", "chair"] | None:
    if minutes.status == MinutesStatus.awaiting_secretary and user_id == acc.meeting.secretary_id and not minutes.secretary_pdf_sha:
        return "secretary"
    if minutes.status == MinutesStatus.awaiting_chair and user_id == acc.meeting.chair_id and not minutes.chair_pdf_sha:
        return "chair"
    return None


async def _full(session: AsyncSession, principal: Principal, minutes: Minutes, acc: minutes_service.MinutesAccess) -> MinutesOut:
    base = f"/minutes/{minutes.id}/file"
    signed = minutes.final_pdf_sha or minutes.chair_pdf_sha or minutes.secretary_pdf_sha
    return MinutesOut(
        id=minutes.id,
        meeting_id=minutes.meeting_id,
        organization_id=minutes.organization_id,
        status=minutes.status.value,
        revision=minutes.revision,
        etag=_etag(minutes),
        content=minutes_service.content_of(minutes),
        editable=acc.can_edit and minutes.status in EDITABLE,
        my_turn=_my_turn(minutes, acc, principal.user.id),
        updated_at=minutes.updated_at,
        updated_by=await _name(session, minutes.updated_by),
        round=minutes.round,
        closed_revision=minutes.closed_revision,
        secretary_due=minutes.secretary_due,
        chair_due=minutes.chair_due,
        secretary_signed_at=minutes.secretary_signed_at,
        chair_signed_at=minutes.chair_signed_at,
        return_comment=minutes.return_comment,
        verify_error=minutes.verify_error,
        number=minutes.number,
        notation=minutes.notation,
        issued_on=minutes.issued_on,
        distributed_at=minutes.distributed_at,
        files=MinutesFilesOut(
            docx_url=f"{base}/docx" if minutes.docx_sha else None,
            pdf_url=f"{base}/pdf" if minutes.pdf_sha else None,
            signed_url=f"{base}/signed" if signed else None,
        ),
        tasks=[
            MinutesTaskOut(**card, page_url=f"/tasks/{card['id']}")
            for card in await minutes_service.task_cards(session, minutes_id=minutes.id)
        ],
        page_url=f"/meetings/{minutes.meeting_id}/minutes",
    )


async def _answer(session: AsyncSession, principal: Principal, minutes_id: int) -> Answer:
    """The minutes as the caller now sees them, after the action's changes (same transaction)."""
    await session.flush()
    minutes, acc = await minutes_service.get_for(session, principal=principal, minutes_id=minutes_id)
    await session.refresh(minutes)  # saves change the row by an UPDATE statement
    return Answer(await _full(session, principal, minutes, acc), 200, {"ETag": _etag(minutes)})


def _respond(answer: Answer) -> Response:
    return Response(answer.model.model_dump_json(), status_code=answer.status_code, headers=answer.headers, media_type="application/json")


def _based_on(minutes: Minutes, if_match: str | None, revision: int | None) -> int:
    """The revision the caller's change is based on: the If-Match ETag's, else the body's."""
    if if_match is not None:
        tag = if_match.strip().removeprefix("W/")
        if tag == "*":
            return minutes.revision
        named = re.fullmatch(rf'"minutes-{minutes.id}-r([0-9]{{1,9}})"', tag)
        if named is None:
            check_revision(if_match, _etag(minutes))  # not this object's ETag: 409
        return int(named.group(1)) if named else minutes.revision
    if revision is None:
        raise InvalidInput(_l("Send the revision your change is based on: the If-Match header or the revision field."))
    return revision


def _stale(minutes: Minutes, message: Any) -> Conflict:
    return Conflict(message, current_etag=_etag(minutes), current_revision=minutes.revision)


# --- reading ---------------------------------------------------------------------------------------


@router.get("/meetings/{meeting_id}/minutes", response_model=MinutesOut)
async def of_meeting(principal: SignedIn, session: SessionDep, meeting_id: int) -> Response:
    """A meeting's minutes (404 until an editor starts them); the ETag header is the revision."""
    await minutes_service.access(session, principal, meeting_id)
    found = await minutes_service.find(session, meeting_id=meeting_id)
    if found is None:
        raise NotFound(_l("The minutes of this meeting have not been started."))
    return _respond(await _answer(session, principal, found.id))


@router.get("/minutes/{minutes_id}", response_model=MinutesOut)
async def minutes(principal: SignedIn, session: SessionDep, minutes_id: int) -> Response:
    """The minutes: text, status, signatures, files, tasks; the ETag header is the revision."""
    return _respond(await _answer(session, principal, minutes_id))


Cursor = Annotated[str | None, Query(pattern=r"^[0-9]{1,9}$", description="`next_cursor` of the previous page; absent for the first")]


def _revision_fields(row: Any, name: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "number": row.number,
        "base_number": row.base_number,
        "kind": row.kind,
        "saved_by": name,
        "saved_at": row.saved_at,
    }


@router.get("/minutes/{minutes_id}/revisions", response_model=RevisionPage)
async def revisions(
    principal: SignedIn, session: SessionDep, minutes_id: int, cursor: Cursor = None, limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 30
) -> RevisionPage:
    """Every saved revision, newest first, and the refused saves the editor page kept."""
    await minutes_service.get_for(session, principal=principal, minutes_id=minutes_id)
    rows = await minutes_service.revisions(session, minutes_id=minutes_id)
    start = int(cursor or 0)
    page = rows[start : start + limit]
    following = str(start + limit) if len(rows) > start + limit else None
    return RevisionPage(items=[RevisionOut(**_revision_fields(r, n)) for r, n in page], next_cursor=following)


@router.get("/minutes/{minutes_id}/revisions/{revision_id}", response_model=RevisionContentOut)
async def revision(principal: SignedIn, session: SessionDep, minutes_id: int, revision_id: int) -> RevisionContentOut:
    """One revision with its text."""
    await minutes_service.get_for(session, principal=principal, minutes_id=minutes_id)
    row = await minutes_service.revision(session, minutes_id=minutes_id, revision_id=revision_id)
    text = {**minutes_service.empty_content(), **json.loads(row.content)}
    return RevisionContentOut(**_revision_fields(row, await _name(session, row.saved_by)), content=text)


# --- writing ---------------------------------------------------------------------------------------


@router.post("/meetings/{meeting_id}/minutes/start", response_model=MinutesOut)
async def start(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int, key: IdempotencyKey = None) -> Response:
    """The meeting's minutes, created on first use by an editor once the meeting is open."""

    async def act() -> Answer:
        started = await minutes_service.start(session, principal=principal, meeting_id=meeting_id)
        return await _answer(session, principal, started.id)

    return await once(request, session, principal, key, act)


class Text(BaseModel):
    content: dict[str, Any] = Field(
        description="The whole text: opening, items {agenda item id: {discussion, opinions, conclusion}}, closing"
    )
    base_revision: int | None = Field(None, description="Instead of If-Match: the revision you edited")


@router.post("/minutes/{minutes_id}/save", response_model=MinutesOut)
async def save(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    minutes_id: int,
    body: Text,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Save the whole text, based on the revision named by If-Match (or `base_revision`); 409 if
    someone saved since."""

    async def act() -> Answer:
        current, _ = await minutes_service.editor_for(session, principal=principal, minutes_id=minutes_id)
        base = _based_on(current, if_match, body.base_revision)
        result = await minutes_service.save(session, principal=principal, minutes_id=minutes_id, base_revision=base, content=body.content)
        if not result.saved:
            raise _stale(current, result.notice)
        return await _answer(session, principal, minutes_id)

    return await once(request, session, principal, key, act)


class Closing(BaseModel):
    revision: int | None = Field(None, description="Instead of If-Match: the revision you reviewed")


@router.post("/minutes/{minutes_id}/close", response_model=MinutesOut)
async def close(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    minutes_id: int,
    body: Closing,
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> Response:
    """Finish writing and submit for signatures: the Biên bản is produced, then the secretary and
    the chair sign in turn."""

    async def act() -> Answer:
        current, _ = await minutes_service.editor_for(session, principal=principal, minutes_id=minutes_id)  # 404/403 first
        closed = await minutes_service.close(
            session,
            settings=request.app.state.settings,
            principal=principal,
            minutes_id=minutes_id,
            revision=_based_on(current, if_match, body.revision),
        )
        await tell(session, "minutes", closed.id, "closed", closed.round)
        return await _answer(session, principal, minutes_id)

    return await once(request, session, principal, key, act)


class Pin(BaseModel):
    pin: str = Field(max_length=64, description="The signer's PIN")


@router.post("/minutes/{minutes_id}/sign", response_model=MinutesOut)
async def sign(
    request: Request, principal: SignedIn, session: SessionDep, minutes_id: int, body: Pin, key: IdempotencyKey = None
) -> Response:
    """The awaited signer (the secretary, then the chair) signs the Biên bản with their PIN."""
    settings = request.app.state.settings

    async def act() -> Answer:
        turn = await minutes_signing.prepare(session, settings, principal, minutes_id)
        signer = await minutes_signing.open_key(session, settings, principal, minutes_id, body.pin)
        await minutes_signing.finish(session, settings, principal, turn, signer)
        return await _answer(session, principal, minutes_id)

    return await once(request, session, principal, key, act, commits=True)


class Comment(BaseModel):
    comment: str = Field(max_length=5000, description="Why, so the secretary can revise")


@router.post("/minutes/{minutes_id}/return", response_model=MinutesOut)
async def refuse(
    request: Request, principal: SignedIn, session: SessionDep, minutes_id: int, body: Comment, key: IdempotencyKey = None
) -> Response:
    """A signer sends the minutes back to the secretary with a comment."""

    async def act() -> Answer:
        await minutes_service.refuse(session, principal=principal, minutes_id=minutes_id, comment=body.comment)
        await tell(session, "minutes", minutes_id, "returned")
        return await _answer(session, principal, minutes_id)

    return await once(request, session, principal, key, act)


class NewTask(BaseModel):
    item_id: int = Field(description="The agenda item whose conclusion gives the task")
    title: str = Field(max_length=500)
    owner_kind: Literal["user", "unit", "organization"] = Field(description="A person, a unit, or a whole body")
    owner_id: int
    due_date: date
    description: str = Field("", max_length=20000)


@router.post("/minutes/{minutes_id}/tasks", response_model=MinutesOut)
async def add_task(
    request: Request, principal: SignedIn, session: SessionDep, minutes_id: int, body: NewTask, key: IdempotencyKey = None
) -> Response:
    """A task from an item's conclusion; its owner finds it among their tasks."""

    async def act() -> Answer:
        task = await minutes_service.add_task(
            session,
            principal=principal,
            minutes_id=minutes_id,
            agenda_item_id=body.item_id,
            new=tasks.NewTask(
                title=body.title,
                due_date=body.due_date,
                owner_kind=OwnerKind(body.owner_kind),
                owner_id=body.owner_id,
                description=body.description,
            ),
        )
        await tell(session, "task", task.id)
        return await _answer(session, principal, minutes_id)

    return await once(request, session, principal, key, act)
