"""Meetings (cuộc họp) over the public API: the same service functions and access rules as the
pages and the live room (web/routes/meetings.py), answered as JSON.

Every action answers the meeting as it now is. A meeting has no revision column, so it carries no
ETag and If-Match is not offered: the services refuse what the meeting's status no longer allows
(409), and each live action (a vote, a floor request) names the object it acts on.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import agenda, attendance, live, polls, scheduling, speakers
from meetings.access import ORGANISER_ROLES, MeetingAccess, access_for, get_meeting
from meetings.models import Meeting, MeetingMode, MeetingStatus, ParticipantRole
from services.authz import Principal
from services.calendar import check_plausible
from services.i18n import _l
from services.outbox.service import tell
from web import i18n
from web.api_v1.common import Answer, Cursor, IdempotencyKey, once
from web.deps import Access, SessionDep, SignedIn
from web.routes.meetings import (
    Ballot,
    FloorRef,
    FloorRequest,
    ItemRef,
    Mark,
    MoveItem,
    NewItem,
    NewPoll,
    PollRef,
    Reorder,
    Site,
    Substitute,
)

router = APIRouter(prefix="/api/v1/meetings", tags=["api v1: meetings"])
Organiser = Annotated[Principal, Depends(Access(*ORGANISER_ROLES))]
PAGE_MAX = 100


# --- what is answered ------------------------------------------------------------------------------


class MeetingSummary(BaseModel):
    id: int
    organization_id: int
    title: str
    status: str = Field(description="draft, scheduled, open, closed or cancelled")
    mode: str = Field(description="in_person, online or hybrid")
    place: str
    starts_at: datetime
    ends_at: datetime
    chair_id: int
    secretary_id: int | None
    page_url: str


class AgendaItemOut(BaseModel):
    id: int
    position: int
    title: str
    presenter: str
    planned_minutes: int
    status: str = Field(description="pending, running or done")
    started_at: datetime | None
    ended_at: datetime | None


class ParticipantOut(BaseModel):
    id: int
    user_id: int
    name: str
    position: str
    org: str
    role: str = Field(description="chair, secretary, member or guest")
    voting: bool
    unit_id: int | None = Field(description="The invited unit they attend for")
    attendance: str = Field(description="unknown, present or absent")
    in_room: bool
    reply: str = Field(description="none, accepted or declined")
    absence_reason: str
    checked_in_at: datetime | None
    left_at: datetime | None
    substitute_for_id: int | None = Field(description="The participant whose seat a substitute takes")
    authorisation: str


class UnitOut(BaseModel):
    id: int
    org_id: int
    name: str
    reply: str = Field(description="pending, answered or declined")
    site_present: bool
    attendees: int
    present: int


class DocumentOut(BaseModel):
    id: int
    title: str
    filename: str
    content_type: str
    size: int
    agenda_item_id: int | None
    restricted: bool = Field(description="Only the listed viewers (and the organisers) see it")
    download_url: str


class QuorumOut(BaseModel):
    participants: int
    present: int
    members: int = Field(description="Voting members invited by name")
    voting_present: int
    needed: int
    ratio: float
    met: bool


class SpeakerOut(BaseModel):
    id: int
    user_id: int
    name: str
    org: str
    agenda_item_id: int | None
    agenda_item: str
    note: str
    status: str
    requested_at: datetime | None
    granted_at: datetime | None


class SpeakersOut(BaseModel):
    speaking: SpeakerOut | None
    queue: list[SpeakerOut]


class PollOptionOut(BaseModel):
    id: int
    label: str
    key: str = Field(description="yes, no or abstain for the standard options")
    votes: int | None = Field(None, description="Once the poll is closed")


class PollResultOut(BaseModel):
    present: int | None
    members: int | None
    voted: int | None
    passed: bool | None
    winner_option_id: int | None
    base: int
    needed: int


class NamedVoteOut(BaseModel):
    name: str
    choice: str


class PollOut(BaseModel):
    id: int
    question: str
    agenda_item_id: int | None
    visibility: str
    threshold: str
    allow_change: bool
    status: str = Field(description="open or closed")
    turnout: int
    opened_at: datetime | None
    closed_at: datetime | None
    present_at_open: int | None
    members_at_open: int | None
    override_reason: str
    options: list[PollOptionOut]
    result: PollResultOut | None = None
    named: list[NamedVoteOut] | None = Field(None, description="Each person's choice, for named polls once closed")


class MyVoteOut(BaseModel):
    poll_id: int
    option_id: int | None = Field(description="Null in a secret poll: only that you voted is stored")


class LiveOut(BaseModel):
    """What the live room shows a participant."""

    speakers: SpeakersOut
    polls: list[PollOut]
    my_votes: list[MyVoteOut]


class MyStandingOut(BaseModel):
    participant_id: int | None
    is_chair: bool
    is_secretary: bool
    organiser: bool
    responder_unit_ids: list[int] = Field(description="Invited units the caller answers for")


class MeetingOut(MeetingSummary):
    description: str
    video_url: str | None = Field(description="A link the organisers gave; else the video room is derived")
    current_item_id: int | None
    schedule_version: int
    invitation_outgoing_id: int | None = Field(
        description="The giấy mời (an outgoing document, type GM) drafted once the meeting is scheduled: review, sign and issue it over /api/v1/outgoing"
    )
    opened_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    me: MyStandingOut
    agenda: list[AgendaItemOut]
    participants: list[ParticipantOut]
    units: list[UnitOut]
    documents: list[DocumentOut]
    quorum: QuorumOut
    live: LiveOut | None = Field(description="Speakers and votes, for participants (as the live room)")
    minutes_url: str = Field(description="The minutes of the meeting over the API, once started")


class MeetingPage(BaseModel):
    items: list[MeetingSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


def _summary(m: Meeting) -> MeetingSummary:
    return MeetingSummary(**_summary_fields(m))


def _summary_fields(m: Meeting) -> dict[str, Any]:
    return {
        "id": m.id,
        "organization_id": m.organization_id,
        "title": m.title,
        "status": m.status.value,
        "mode": m.mode.value,
        "place": m.place,
        "starts_at": m.starts_at,
        "ends_at": m.ends_at,
        "chair_id": m.chair_id,
        "secretary_id": m.secretary_id,
        "page_url": f"/meetings/{m.id}",
    }


async def _live(session: AsyncSession, acc: MeetingAccess) -> LiveOut | None:
    """The live state, for participants only (as /meetings/{id}/state.json)."""
    if not acc.is_participant:
        return None
    state = await live.snapshot(session, acc.meeting, user_id=acc.user_id)
    votes = [MyVoteOut(poll_id=int(p), option_id=v["option_id"]) for p, v in state["me"]["votes"].items()]
    return LiveOut(
        speakers=SpeakersOut.model_validate(state["speakers"]), polls=[PollOut.model_validate(p) for p in state["polls"]], my_votes=votes
    )


async def _full(session: AsyncSession, acc: MeetingAccess) -> MeetingOut:
    m = acc.meeting
    documents = [
        DocumentOut(
            id=d.id,
            title=d.title,
            filename=d.filename,
            content_type=d.content_type,
            size=d.size,
            agenda_item_id=d.agenda_item_id,
            restricted=d.restricted,
            download_url=f"/meetings/{m.id}/documents/{d.id}",
        )
        for d in await scheduling.visible_documents(session, acc)
    ]
    return MeetingOut(
        **_summary_fields(m),
        description=m.description,
        video_url=m.video_url,
        current_item_id=m.current_item_id,
        schedule_version=m.schedule_version,
        invitation_outgoing_id=m.invitation_outgoing_id,
        opened_at=m.opened_at,
        closed_at=m.closed_at,
        cancelled_at=m.cancelled_at,
        cancel_reason=m.cancel_reason,
        me=MyStandingOut(
            participant_id=acc.participant.id if acc.participant else None,
            is_chair=acc.is_chair,
            is_secretary=acc.is_secretary,
            organiser=acc.organiser,
            responder_unit_ids=[u.id for u in acc.responder_units],
        ),
        agenda=[AgendaItemOut.model_validate(i) for i in (await live.agenda_payload(session, m))["items"]],
        participants=[ParticipantOut.model_validate(p) for p in await live.participants_list(session, m.id)],
        units=[UnitOut.model_validate(u) for u in await live.sites_payload(session, m.id)],
        documents=documents,
        quorum=QuorumOut.model_validate(await live.quorum(session, m)),
        live=await _live(session, acc),
        minutes_url=f"/api/v1/meetings/{m.id}/minutes",
    )


async def _answer(session: AsyncSession, principal: Principal, meeting_id: int, status_code: int = 200) -> Answer:
    """The meeting as the caller now sees it, after the action's changes (same transaction)."""
    await session.flush()
    acc = await access_for(session, principal, meeting_id)
    headers = {"Location": f"/api/v1/meetings/{meeting_id}"} if status_code == 201 else {}
    return Answer(await _full(session, acc), status_code, headers)


def _moment(value: datetime) -> datetime:
    """A time without an offset is read as Vietnam time, as the pages' date-time fields are."""
    moment = value if value.tzinfo is not None else value.replace(tzinfo=i18n.VN_TZ)
    check_plausible(moment.date(), _l("Meeting date"))
    return moment


# --- reading ---------------------------------------------------------------------------------------


@router.get("", response_model=MeetingPage)
async def listing(
    principal: SignedIn,
    session: SessionDep,
    status: Annotated[MeetingStatus | None, Query()] = None,
    ends_after: Annotated[datetime | None, Query(description="Only meetings ending at or after this time")] = None,
    starts_before: Annotated[datetime | None, Query(description="Only meetings starting before this time")] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 30,
) -> MeetingPage:
    """Meetings the caller takes part in, organises or answers for (an invited unit), by start time."""
    start = int(cursor or 0)
    found = await scheduling.list_meetings(
        session,
        principal=principal,
        start=ends_after,
        end=starts_before,
        statuses=[status] if status else None,
        limit=start + limit + 1,
    )
    page = found[start : start + limit]
    following = str(start + limit) if len(found) > start + limit else None
    return MeetingPage(items=[_summary(m) for m in page], next_cursor=following)


@router.get("/{meeting_id}", response_model=MeetingOut)
async def meeting(principal: SignedIn, session: SessionDep, meeting_id: int) -> MeetingOut:
    """One meeting with its agenda, participants, invited units, documents and quorum; for a
    participant also the speakers and the votes of the live room."""
    return await _full(session, await access_for(session, principal, meeting_id))


# --- preparing a meeting ---------------------------------------------------------------------------

Mode = Literal["online", "in_person", "hybrid"]


class NewMeeting(BaseModel):
    organization_id: int = Field(description="The organising organisation (the caller organises for it)")
    title: str = Field(max_length=500)
    chair_id: int
    secretary_id: int | None = None
    starts_at: datetime = Field(description="ISO 8601; without an offset it is Vietnam time")
    ends_at: datetime
    mode: Mode = "online"
    place: str = Field("", max_length=255)
    description: str = Field("", max_length=20000)
    video_url: str = Field("", max_length=500)


@router.post("", status_code=201, response_model=MeetingOut)
async def create(request: Request, principal: Organiser, session: SessionDep, body: NewMeeting, key: IdempotencyKey = None) -> Response:
    """A draft meeting; its chair and secretary become participants. Schedule it to invite."""

    async def act() -> Answer:
        created = await scheduling.create_meeting(
            session,
            principal=principal,
            settings=request.app.state.settings,
            organization_id=body.organization_id,
            title=body.title,
            chair_id=body.chair_id,
            secretary_id=body.secretary_id,
            starts_at=_moment(body.starts_at),
            ends_at=_moment(body.ends_at),
            mode=MeetingMode(body.mode),
            place=body.place,
            description=body.description,
            video_url=body.video_url,
        )
        return await _answer(session, principal, created.id, 201)

    return await once(request, session, principal, key, act)


@router.post("/{meeting_id}/documents", response_model=MeetingOut)
async def add_document(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    meeting_id: int,
    file: Annotated[UploadFile, File(description="PDF, DOCX, PNG or JPEG; checked by content")],
    title: Annotated[str, Form(max_length=500)] = "",
    agenda_item_id: Annotated[int | None, Form()] = None,
    viewer_ids: Annotated[list[int] | None, Form(description="Only these people (and the organisers) see it")] = None,
    key: IdempotencyKey = None,
) -> Response:
    """Attach a document (multipart form), checked by content as on the page."""
    settings = request.app.state.settings
    data = await file.read(settings.upload_max_bytes + 1)

    async def act() -> Answer:
        await scheduling.add_document(
            session,
            principal=principal,
            settings=settings,
            meeting_id=meeting_id,
            filename=file.filename or "tai-lieu",
            data=data,
            title=title,
            agenda_item_id=agenda_item_id,
            viewer_ids=viewer_ids or [],
        )
        return await _answer(session, principal, meeting_id)

    return await once(request, session, principal, key, act)


# --- actions on a meeting, declared from a table ---------------------------------------------------


class Details(BaseModel):
    title: str = Field(max_length=500)
    mode: Mode = "online"
    place: str = Field("", max_length=255)
    description: str = Field("", max_length=20000)
    video_url: str = Field("", max_length=500)
    secretary_id: int | None = None


class People(BaseModel):
    user_ids: list[int] = Field(max_length=500)
    role: Literal["member", "guest"] = "member"


class Units(BaseModel):
    org_ids: list[int] = Field(max_length=500, description="Organisations below the organiser, invited as a whole")


class Attendees(BaseModel):
    user_ids: list[int] = Field(max_length=500, description="Who attends for the unit")
    note: str = Field("", max_length=2000)


class Delegate(BaseModel):
    participant_id: int
    present: bool = False


class Reason(BaseModel):
    reason: str = Field("", max_length=2000)


class Answering(BaseModel):
    answer: Literal["accept", "decline"]
    reason: str = Field("", max_length=2000, description="Why you will be absent (needed to decline)")


class Item(BaseModel):
    title: str = Field(max_length=500)
    planned_minutes: int = Field(10, ge=1, le=600)
    presenter_id: int | None = None
    presenter_name: str = Field("", max_length=255)


class Direction(BaseModel):
    direction: Literal["up", "down"] = "up"


class NewTime(BaseModel):
    starts_at: datetime = Field(description="ISO 8601; without an offset it is Vietnam time")
    ends_at: datetime
    reason: str = Field("", max_length=2000)


Change = Callable[[AsyncSession, Principal, int, dict[str, int], Any], Awaitable[object]]


def _action(path: str, body: type[BaseModel] | None, change: Change, summary: str) -> None:
    """Declare `POST /api/v1/meetings/{meeting_id}/<path>`: the page's action of the same path
    (its further ids are path parameters too), a `body` model, and `change` calling the service
    as the page does. Access is decided by the services, as for the pages: signed in is enough here."""
    names = [p.strip("{}") for p in path.split("/") if p.startswith("{")]

    async def endpoint(request: Request, principal: Principal, session: AsyncSession, meeting_id: int, **kw: Any) -> Response:
        key, content = kw.pop("key", None), kw.pop("body", None)

        async def act() -> Answer:
            await change(session, principal, meeting_id, kw, content)
            return await _answer(session, principal, meeting_id)

        return await once(request, session, principal, key, act)

    # FastAPI reads the parameters from the signature: the path's ids, the body, the key.
    params = [
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        inspect.Parameter("principal", inspect.Parameter.KEYWORD_ONLY, annotation=SignedIn),
        inspect.Parameter("session", inspect.Parameter.KEYWORD_ONLY, annotation=SessionDep),
        inspect.Parameter("meeting_id", inspect.Parameter.KEYWORD_ONLY, annotation=int),
        *(inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=int) for n in names),
    ]
    if body is not None:
        params.append(inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=body))
    params.append(inspect.Parameter("key", inspect.Parameter.KEYWORD_ONLY, annotation=IdempotencyKey, default=None))

    endpoint.__signature__ = inspect.Signature(params, return_annotation=Response)  # type: ignore[attr-defined]  # read by FastAPI
    endpoint.__name__ = endpoint.__qualname__ = re.sub(r"[^a-z]+", "_", path).strip("_")
    endpoint.__doc__ = summary
    router.post(f"/{{meeting_id}}/{path}", response_model=MeetingOut)(endpoint)


async def _schedule(s: AsyncSession, p: Principal, m: int, ids: dict[str, int], b: Any) -> None:
    await scheduling.schedule_meeting(s, principal=p, meeting_id=m)
    await tell(s, "meeting", m, None)


async def _reschedule(s: AsyncSession, p: Principal, m: int, ids: dict[str, int], b: NewTime) -> None:
    moved = await scheduling.reschedule_meeting(
        s, principal=p, meeting_id=m, starts_at=_moment(b.starts_at), ends_at=_moment(b.ends_at), reason=b.reason
    )
    if moved.status == MeetingStatus.scheduled:
        await tell(s, "meeting", m, "rescheduled", moved.starts_at.isoformat(), moved.schedule_version)


async def _cancel(s: AsyncSession, p: Principal, m: int, ids: dict[str, int], b: Reason) -> None:
    before = (await get_meeting(s, m)).status
    await scheduling.cancel_meeting(s, principal=p, meeting_id=m, reason=b.reason)
    if before == MeetingStatus.scheduled:
        await tell(s, "meeting", m, "cancelled")


async def _site_delegate(s: AsyncSession, p: Principal, m: int, ids: dict[str, int], b: Delegate) -> None:
    """The site's clerk marks one of the unit's delegates present or absent."""
    acc = await access_for(s, p, m)
    delegate = await attendance.site_delegate(s, acc, unit_id=ids["unit_id"], participant_id=b.participant_id)
    await attendance.mark(s, principal=p, meeting_id=m, participant_id=delegate.id, present=b.present)


_action(
    "details",
    Details,
    lambda s, p, m, ids, b: scheduling.update_details(
        s,
        principal=p,
        meeting_id=m,
        title=b.title,
        description=b.description,
        mode=MeetingMode(b.mode),
        place=b.place,
        video_url=b.video_url,
        secretary_id=b.secretary_id,
    ),
    "Change what the invitation says (title, mode, place, description, video link, secretary); not the time.",
)
_action(
    "participants",
    People,
    lambda s, p, m, ids, b: scheduling.add_participants(s, principal=p, meeting_id=m, user_ids=b.user_ids, role=ParticipantRole(b.role)),
    "Invite people by name, as members (with a vote) or guests.",
)
_action(
    "participants/{participant_id}/remove",
    None,
    lambda s, p, m, ids, b: scheduling.remove_participant(s, principal=p, meeting_id=m, participant_id=ids["participant_id"]),
    "Remove a participant.",
)
_action(
    "units",
    Units,
    lambda s, p, m, ids, b: scheduling.invite_units(s, principal=p, meeting_id=m, org_ids=b.org_ids),
    "Invite lower-level organisations as a whole; each names who attends for it.",
)
_action(
    "units/{unit_id}/remove",
    None,
    lambda s, p, m, ids, b: scheduling.remove_unit(s, principal=p, meeting_id=m, unit_id=ids["unit_id"]),
    "Withdraw a unit's invitation.",
)
_action(
    "units/{unit_id}/attendees",
    Attendees,
    lambda s, p, m, ids, b: scheduling.name_attendees(
        s, principal=p, meeting_id=m, unit_id=ids["unit_id"], user_ids=b.user_ids, note=b.note
    ),
    "An invited unit's leader or clerk names who attends for it.",
)
_action("units/{unit_id}/attendance", Delegate, _site_delegate, "The site's clerk marks one of the unit's delegates present or absent.")
_action(
    "units/{unit_id}/decline",
    Reason,
    lambda s, p, m, ids, b: scheduling.decline_unit(s, principal=p, meeting_id=m, unit_id=ids["unit_id"], reason=b.reason),
    "An invited unit declines, with the reason.",
)
_action(
    "reply",
    Answering,
    lambda s, p, m, ids, b: scheduling.reply(s, principal=p, meeting_id=m, accept=b.answer == "accept", reason=b.reason),
    "A participant answers the invitation: attends, or is absent with the reason.",
)
_action(
    "items",
    Item,
    lambda s, p, m, ids, b: agenda.add_item(
        s,
        principal=p,
        meeting_id=m,
        title=b.title,
        planned_minutes=b.planned_minutes,
        presenter_id=b.presenter_id,
        presenter_name=b.presenter_name,
    ),
    "Add an agenda item.",
)
_action(
    "items/{item_id}/remove",
    None,
    lambda s, p, m, ids, b: agenda.remove_item(s, principal=p, meeting_id=m, item_id=ids["item_id"]),
    "Remove an agenda item.",
)
_action(
    "items/{item_id}/move",
    Direction,
    lambda s, p, m, ids, b: agenda.move(s, principal=p, meeting_id=m, item_id=ids["item_id"], delta=-1 if b.direction == "up" else 1),
    "Move an agenda item one place up or down.",
)
_action("schedule", None, _schedule, "Publish the draft: the invitations and reminders go out.")
_action("reschedule", NewTime, _reschedule, "Move the meeting (before it opens); the invited are told again.")
_action("cancel", Reason, _cancel, "Cancel the meeting (before it opens), with the reason.")


# --- the live room: the same actions as the console and the phone room -----------------------------


async def _open(s: AsyncSession, p: Principal, m: int, ids: dict[str, int], b: Any) -> None:
    await scheduling.open_meeting(s, principal=p, meeting_id=m)
    await tell(s, "meeting", m, "opened")


async def _close(s: AsyncSession, p: Principal, m: int, ids: dict[str, int], b: Any) -> None:
    await scheduling.close_meeting(s, principal=p, meeting_id=m)
    await tell(s, "meeting", m, "closed")


async def _open_poll(s: AsyncSession, p: Principal, m: int, ids: dict[str, int], b: NewPoll) -> None:
    options = [o for o in b.options if o.strip()] if b.options else None
    await polls.open_poll(
        s,
        principal=p,
        meeting_id=m,
        question=b.question,
        visibility=b.visibility,
        threshold=b.threshold,
        options=options or None,
        allow_change=b.allow_change,
        agenda_item_id=b.agenda_item_id,
        override_reason=b.override_reason,
    )


LIVE: list[tuple[str, type[BaseModel] | None, Change, str]] = [
    ("open", None, _open, "The chair opens the meeting (khai mạc)."),
    ("close", None, _close, "The chair closes the meeting (bế mạc); a running item ends, waiting speakers are cleared."),
    ("checkin", None, lambda s, p, m, ids, b: attendance.check_in(s, principal=p, meeting_id=m), "Check yourself in."),
    (
        "mark",
        Mark,
        lambda s, p, m, ids, b: attendance.mark(
            s, principal=p, meeting_id=m, participant_id=b.participant_id, present=b.present, reason=b.reason
        ),
        "The secretary marks a participant present or absent (with the reason).",
    ),
    (
        "substitute",
        Substitute,
        lambda s, p, m, ids, b: attendance.substitute(
            s, principal=p, meeting_id=m, participant_id=b.participant_id, user_id=b.user_id, authorisation=b.authorisation
        ),
        "A substitute (người dự thay) attends in an invited member's seat, authorisation recorded.",
    ),
    (
        "site",
        Site,
        lambda s, p, m, ids, b: attendance.mark_site(s, principal=p, meeting_id=m, unit_id=b.unit_id, present=b.present),
        "Mark an invited unit's site connected or not.",
    ),
    (
        "add-item",
        NewItem,
        lambda s, p, m, ids, b: agenda.add_item(s, principal=p, meeting_id=m, title=b.title, planned_minutes=b.planned_minutes),
        "Add an agenda item during the meeting.",
    ),
    (
        "start-item",
        ItemRef,
        lambda s, p, m, ids, b: agenda.start_item(s, principal=p, meeting_id=m, item_id=b.item_id),
        "Start an agenda item.",
    ),
    ("end-item", ItemRef, lambda s, p, m, ids, b: agenda.end_item(s, principal=p, meeting_id=m, item_id=b.item_id), "End an agenda item."),
    (
        "move-item",
        MoveItem,
        lambda s, p, m, ids, b: agenda.move(s, principal=p, meeting_id=m, item_id=b.item_id, delta=-1 if b.direction == "up" else 1),
        "Move an agenda item one place up or down.",
    ),
    (
        "reorder",
        Reorder,
        lambda s, p, m, ids, b: agenda.reorder(s, principal=p, meeting_id=m, item_ids=b.item_ids),
        "Put the agenda items in this order.",
    ),
    (
        "request-floor",
        FloorRequest,
        lambda s, p, m, ids, b: speakers.request_floor(s, principal=p, meeting_id=m, agenda_item_id=b.agenda_item_id, note=b.note),
        "Ask to speak.",
    ),
    (
        "withdraw",
        FloorRef,
        lambda s, p, m, ids, b: speakers.withdraw(s, principal=p, meeting_id=m, request_id=b.request_id),
        "Withdraw a request to speak.",
    ),
    (
        "grant",
        FloorRef,
        lambda s, p, m, ids, b: speakers.grant(s, principal=p, meeting_id=m, request_id=b.request_id),
        "The chair gives the floor.",
    ),
    (
        "end-floor",
        FloorRef,
        lambda s, p, m, ids, b: speakers.end_floor(s, principal=p, meeting_id=m, request_id=b.request_id),
        "The chair ends the floor.",
    ),
    ("open-poll", NewPoll, _open_poll, "The chair opens a vote (yes / no / abstain unless options are given)."),
    (
        "vote",
        Ballot,
        lambda s, p, m, ids, b: polls.vote(s, principal=p, meeting_id=m, poll_id=b.poll_id, option_id=b.option_id),
        "Vote in an open poll.",
    ),
    (
        "close-poll",
        PollRef,
        lambda s, p, m, ids, b: polls.close_poll(s, principal=p, meeting_id=m, poll_id=b.poll_id),
        "The chair closes the vote; the result is final.",
    ),
]
for _name, _body, _change, _summary_text in LIVE:
    _action(f"live/{_name}", _body, _change, _summary_text)
