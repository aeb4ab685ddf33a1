"""Meetings: list and week calendar, preparation page, live room, chair console, projector.

Access: every route declares it; inside, `meetings.access` decides per meeting and per action
(only participants see the live room, only the chair controls, the secretary marks attendance,
the projector shows a meeting to its organisation's members or anyone holding its token URL).
Live changes go through `POST /meetings/{id}/live/{action}` (JSON, X-CSRF-Token), each one
authorized by the service it calls; the WebSocket channel `meeting-<id>` carries the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, BeforeValidator, Field
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import agenda, attendance, live, polls, scheduling, speakers, video
from meetings.access import ORGANISER_ROLES, access_for, get_meeting, standing, takes_part
from meetings.models import (
    AgendaItem,
    Meeting,
    MeetingMode,
    MeetingStatus,
    MeetingUnit,
    ParticipantRole,
    PollVisibility,
    Threshold,
)
from services.authz import Principal
from services.blobs import BlobStore
from services.calendar import check_plausible
from services.db import utcnow
from services.directory.models import Organization, User
from services.errors import InvalidInput, NotFound
from services.events.hub import EventHub
from services.i18n import _l
from services.outbox.service import tell
from web import i18n, page_images
from web.deps import Access, SessionDep, SignedIn, writes_on_read
from web.form_values import form_id, form_ids
from web.i18n import gettext as _
from web.live import CHANNEL_RULES, SqlRule, channel_id
from web.templating import render

log = logging.getLogger(__name__)
router = APIRouter(prefix="/meetings", tags=["meetings"])
PublicAccess = Annotated[Principal | None, Depends(Access(public=True))]


# --- the live channel's read rule: participants only ------------------------------------------


CHANNEL_RULES["meeting"] = SqlRule(takes_part, ident=channel_id)


# --- helpers ---------------------------------------------------------------------------------


def _local(value: str) -> datetime:
    """A `datetime-local` field, read as Vietnam time."""
    try:
        moment = datetime.fromisoformat(value).replace(tzinfo=i18n.VN_TZ)
    except ValueError:
        raise InvalidInput(_l("Invalid date and time.")) from None
    check_plausible(moment.date(), _l("Meeting date"))
    return moment


def _local_value(value: datetime | None) -> str:
    return i18n.to_vn(value).strftime("%Y-%m-%dT%H:%M") if value else ""


async def _people_choices(session: AsyncSession, org_ids: set[int]) -> list[dict[str, Any]]:
    rows = (
        await session.execute(
            select(User.id, User.full_name, User.position, Organization.name)
            .join(Organization, Organization.id == User.organization_id)
            .where(User.organization_id.in_(org_ids), User.active.is_(True))
            .order_by(Organization.id, User.full_name)
        )
    ).all()
    return [{"id": uid, "label": f"{name}{' — ' + pos if pos else ''} ({org})"} for uid, name, pos, org in rows]


STATUS_CLASS = {"draft": "muted", "scheduled": "info", "open": "live", "closed": "done", "cancelled": "off"}


# --- list and calendar --------------------------------------------------------------------------


@router.get("")
async def meeting_list(request: Request, principal: SignedIn, session: SessionDep, week: str = "", status: str = "") -> Response:
    """Meetings I take part in, organise or answer for: the week calendar and the list."""
    try:
        day = date.fromisoformat(week) if week else i18n.to_vn(utcnow()).date()
    except ValueError:
        day = i18n.to_vn(utcnow()).date()
    monday = day - timedelta(days=day.weekday())
    start = datetime.combine(monday, datetime.min.time(), tzinfo=i18n.VN_TZ)
    week_meetings = await scheduling.list_meetings(session, principal=principal, start=start, end=start + timedelta(days=7))
    days = []
    for offset in range(7):
        current = monday + timedelta(days=offset)
        days.append(
            {
                "date": current,
                "today": current == i18n.to_vn(utcnow()).date(),
                "meetings": [m for m in week_meetings if i18n.to_vn(m.starts_at).date() == current],
            }
        )
    statuses = [MeetingStatus(status)] if status in MeetingStatus.__members__ else None
    upcoming = await scheduling.list_meetings(
        session, principal=principal, statuses=statuses, start=None if statuses else utcnow() - timedelta(days=60)
    )
    orgs = await scheduling.organisation_names(session, {m.organization_id for m in upcoming + week_meetings})
    can_create = bool(principal.orgs_with(*ORGANISER_ROLES))
    return render(
        request,
        "meetings/list.html",
        {
            "days": days,
            "monday": monday,
            "prev": (monday - timedelta(days=7)).isoformat(),
            "next": (monday + timedelta(days=7)).isoformat(),
            "this_week": i18n.to_vn(utcnow()).date().isoformat(),
            "meetings": sorted(upcoming, key=lambda m: (m.status != MeetingStatus.open, m.starts_at)),
            "orgs": orgs,
            "status": status,
            "can_create": can_create,
            "status_class": STATUS_CLASS,
        },
    )


@router.get("/new")
async def new_meeting(
    request: Request, principal: Annotated[Principal, Depends(Access(*ORGANISER_ROLES))], session: SessionDep
) -> Response:
    org_ids = principal.orgs_with(*ORGANISER_ROLES)
    orgs = [o for o in (await session.scalars(select(Organization).where(Organization.id.in_(org_ids)).order_by(Organization.id))).all()]
    start = i18n.to_vn(utcnow() + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
    return render(
        request,
        "meetings/new.html",
        {
            "orgs": orgs,
            "people": await _people_choices(session, org_ids),
            "start": start.strftime("%Y-%m-%dT%H:%M"),
            "end": (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
            "modes": list(MeetingMode),
            "me": principal.user.id,
        },
    )


@router.post("")
async def create_meeting(
    request: Request,
    principal: Annotated[Principal, Depends(Access(*ORGANISER_ROLES))],
    session: SessionDep,
    organization_id: Annotated[str, Form()],
    title: Annotated[str, Form()],
    chair_id: Annotated[str, Form()],
    starts_at: Annotated[str, Form()],
    ends_at: Annotated[str, Form()],
    secretary_id: Annotated[str, Form()] = "",
    mode: Annotated[str, Form()] = "online",
    place: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    video_url: Annotated[str, Form()] = "",
) -> Response:
    meeting = await scheduling.create_meeting(
        session,
        principal=principal,
        settings=request.app.state.settings,
        organization_id=form_id(organization_id) or 0,
        title=title,
        chair_id=form_id(chair_id) or 0,
        secretary_id=form_id(secretary_id),
        starts_at=_local(starts_at),
        ends_at=_local(ends_at),
        mode=MeetingMode(mode) if mode in MeetingMode.__members__ else MeetingMode.online,
        place=place,
        description=description,
        video_url=video_url,
    )
    return RedirectResponse(f"/meetings/{meeting.id}?ok=1", status_code=303)


# --- the meeting page (preparation) --------------------------------------------------------------


@router.get("/{meeting_id}")
async def meeting_page(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int) -> Response:
    acc = await access_for(session, principal, meeting_id)
    meeting = acc.meeting
    org = await session.get(Organization, meeting.organization_id)
    participants = await live.participants_list(session, meeting.id)
    sites = await live.sites_payload(session, meeting.id)
    agenda_state = await live.agenda_payload(session, meeting)
    documents = await scheduling.visible_documents(session, acc)
    ctx: dict[str, Any] = {
        "m": meeting,
        "org": org,
        "acc": acc,
        "participants": participants,
        "sites": sites,
        "agenda": agenda_state["items"],
        "documents": documents,
        "quorum": await live.quorum(session, meeting),
        "room_url": video.room_url(request.app.state.settings, meeting),
        "chair": await session.get(User, meeting.chair_id),
        "secretary": await session.get(User, meeting.secretary_id) if meeting.secretary_id else None,
        "status_class": STATUS_CLASS,
        "modes": list(MeetingMode),
        "starts_local": _local_value(meeting.starts_at),
        "ends_local": _local_value(meeting.ends_at),
        "preparing": meeting.status in scheduling.PREPARING,
    }
    if acc.organiser:
        below = principal.tree.subtree(meeting.organization_id) - {meeting.organization_id}
        invited = {s["org_id"] for s in sites}
        ctx["unit_choices"] = [
            o
            for o in (await session.scalars(select(Organization).where(Organization.id.in_(below)).order_by(Organization.id))).all()
            if o.id not in invited
        ]
        present = {p["user_id"] for p in participants}
        ctx["people"] = [p for p in await _people_choices(session, {meeting.organization_id}) if p["id"] not in present]
        ctx["all_people"] = await _people_choices(session, {meeting.organization_id})
    if acc.responder_units:
        ctx["responses"] = []
        for unit in acc.responder_units:
            named = {p["user_id"] for p in participants if p["unit_id"] == unit.id}
            choices = await _people_choices(session, principal.tree.subtree(unit.organization_id))
            ctx["responses"].append(
                {
                    "unit": unit,
                    "org": await session.get(Organization, unit.organization_id),
                    "choices": choices,
                    "named": named,
                    "delegates": [p for p in participants if p["unit_id"] == unit.id],
                }
            )
    return render(request, "meetings/detail.html", ctx)


def _back(meeting_id: int, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/meetings/{meeting_id}?ok=1{'#' + anchor if anchor else ''}", status_code=303)


@router.post("/{meeting_id}/details")
async def update_details(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    meeting_id: int,
    title: Annotated[str, Form()],
    mode: Annotated[str, Form()] = "online",
    place: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    video_url: Annotated[str, Form()] = "",
    secretary_id: Annotated[str, Form()] = "",
) -> Response:
    await scheduling.update_details(
        session,
        principal=principal,
        meeting_id=meeting_id,
        title=title,
        description=description,
        mode=MeetingMode(mode) if mode in MeetingMode.__members__ else MeetingMode.online,
        place=place,
        video_url=video_url,
        secretary_id=form_id(secretary_id),
    )
    return _back(meeting_id)


@router.post("/{meeting_id}/participants")
async def add_participants(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    meeting_id: int,
    user_ids: Annotated[list[str], Form()],
    role: Annotated[str, Form()] = "member",
) -> Response:
    chosen = ParticipantRole(role) if role in ("member", "guest") else ParticipantRole.member
    await scheduling.add_participants(session, principal=principal, meeting_id=meeting_id, user_ids=form_ids(user_ids), role=chosen)
    return _back(meeting_id, "participants")


@router.post("/{meeting_id}/participants/{participant_id}/remove")
async def remove_participant(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int, participant_id: int) -> Response:
    await scheduling.remove_participant(session, principal=principal, meeting_id=meeting_id, participant_id=participant_id)
    return _back(meeting_id, "participants")


@router.post("/{meeting_id}/units")
async def invite_units(
    request: Request, principal: SignedIn, session: SessionDep, meeting_id: int, org_ids: Annotated[list[str], Form()]
) -> Response:
    await scheduling.invite_units(session, principal=principal, meeting_id=meeting_id, org_ids=form_ids(org_ids))
    return _back(meeting_id, "units")


@router.post("/{meeting_id}/units/{unit_id}/remove")
async def remove_unit(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int, unit_id: int) -> Response:
    await scheduling.remove_unit(session, principal=principal, meeting_id=meeting_id, unit_id=unit_id)
    return _back(meeting_id, "units")


@router.post("/{meeting_id}/units/{unit_id}/attendees")
async def name_attendees(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    meeting_id: int,
    unit_id: int,
    user_ids: Annotated[list[str], Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    await scheduling.name_attendees(
        session, principal=principal, meeting_id=meeting_id, unit_id=unit_id, user_ids=form_ids(user_ids), note=note
    )
    return _back(meeting_id, "answer")


@router.post("/{meeting_id}/units/{unit_id}/attendance")
async def mark_site_delegate(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    meeting_id: int,
    unit_id: int,
    participant_id: Annotated[int, Form()],
    present: Annotated[bool, Form()] = False,
) -> Response:
    """The site's clerk marks one of the unit's delegates present or absent."""
    acc = await access_for(session, principal, meeting_id)
    delegate = await attendance.site_delegate(session, acc, unit_id=unit_id, participant_id=participant_id)
    await attendance.mark(session, principal=principal, meeting_id=meeting_id, participant_id=delegate.id, present=present)
    return _back(meeting_id, "answer")


@router.post("/{meeting_id}/units/{unit_id}/decline")
async def decline_unit(
    request: Request, principal: SignedIn, session: SessionDep, meeting_id: int, unit_id: int, reason: Annotated[str, Form()] = ""
) -> Response:
    await scheduling.decline_unit(session, principal=principal, meeting_id=meeting_id, unit_id=unit_id, reason=reason)
    return _back(meeting_id, "answer")


@router.post("/{meeting_id}/reply")
async def reply(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    meeting_id: int,
    answer: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    await scheduling.reply(session, principal=principal, meeting_id=meeting_id, accept=answer == "accept", reason=reason)
    return _back(meeting_id)


@router.post("/{meeting_id}/items")
async def add_item(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    meeting_id: int,
    title: Annotated[str, Form()],
    planned_minutes: Annotated[str, Form()] = "10",
    presenter_id: Annotated[str, Form()] = "",
    presenter_name: Annotated[str, Form()] = "",
) -> Response:
    await agenda.add_item(
        session,
        principal=principal,
        meeting_id=meeting_id,
        title=title,
        planned_minutes=form_id(planned_minutes) or 10,
        presenter_id=form_id(presenter_id),
        presenter_name=presenter_name,
    )
    return _back(meeting_id, "agenda")


@router.post("/{meeting_id}/items/{item_id}/remove")
async def remove_item(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int, item_id: int) -> Response:
    await agenda.remove_item(session, principal=principal, meeting_id=meeting_id, item_id=item_id)
    return _back(meeting_id, "agenda")


@router.post("/{meeting_id}/items/{item_id}/move")
async def move_item(
    request: Request, principal: SignedIn, session: SessionDep, meeting_id: int, item_id: int, direction: Annotated[str, Form()] = "up"
) -> Response:
    await agenda.move(session, principal=principal, meeting_id=meeting_id, item_id=item_id, delta=-1 if direction == "up" else 1)
    return _back(meeting_id, "agenda")


@router.post("/{meeting_id}/documents")
async def add_document(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    meeting_id: int,
    file: Annotated[UploadFile, File()],
    title: Annotated[str, Form()] = "",
    agenda_item_id: Annotated[str, Form()] = "",
    viewer_ids: Annotated[list[str] | None, Form()] = None,
) -> Response:
    data = await file.read(request.app.state.settings.upload_max_bytes + 1)
    await scheduling.add_document(
        session,
        principal=principal,
        settings=request.app.state.settings,
        meeting_id=meeting_id,
        filename=file.filename or "tai-lieu",
        data=data,
        title=title,
        agenda_item_id=form_id(agenda_item_id),
        viewer_ids=form_ids(viewer_ids),
    )
    return _back(meeting_id, "documents")


@router.get("/{meeting_id}/documents/{document_id}")
@writes_on_read
async def download_document(
    request: Request, principal: SignedIn, session: SessionDep, meeting_id: int, document_id: int, inline: bool = False
) -> Response:
    """The file; `?inline=1` shows an image in the page (the room's document list) instead of saving it."""
    document = await scheduling.document_for(session, principal=principal, meeting_id=meeting_id, document_id=document_id)
    data = BlobStore.for_settings(request.app.state.settings).get(document.sha256)
    from urllib.parse import quote

    shown = inline and document.content_type in ("image/png", "image/jpeg")
    return Response(
        data,
        media_type=document.content_type,
        headers={"Content-Disposition": f"{'inline' if shown else 'attachment'}; filename*=UTF-8''{quote(document.filename)}"},
    )


@router.get("/{meeting_id}/documents/{document_id}/pages.json")
@writes_on_read
async def document_pages(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int, document_id: int) -> Response:
    """How to show a document page by page in the room: its PDF's page images (a DOCX is
    converted once), or the image itself. Opening it is recorded like a download."""
    document = await scheduling.document_for(session, principal=principal, meeting_id=meeting_id, document_id=document_id)
    base = f"/meetings/{meeting_id}/documents/{document_id}"
    if document.content_type in ("image/png", "image/jpeg"):
        return JSONResponse({"image": f"{base}?inline=1", "pages": 1, "shown": 1})
    await session.commit()  # the conversion (LibreOffice) runs outside the transaction
    sha = await page_images.pdf_of(request, document.sha256, document.content_type)
    shown, total = await page_images.count(request, sha)
    return JSONResponse({"base": f"{base}/pdf/{sha}/pages", "sha": sha, "pages": total, "shown": shown})


@router.get("/{meeting_id}/documents/{document_id}/pdf/{sha}/pages/{page}.png")
async def document_page(
    request: Request, principal: SignedIn, session: SessionDep, meeting_id: int, document_id: int, sha: str, page: int
) -> Response:
    acc = await access_for(session, principal, meeting_id)
    document = next((d for d in await scheduling.visible_documents(session, acc) if d.id == document_id), None)
    if document is None or sha != await page_images.pdf_of(request, document.sha256, document.content_type):
        raise NotFound(_l("document not found"))
    return await page_images.png(request, sha, page)


@router.post("/{meeting_id}/schedule")
async def schedule(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int) -> Response:
    await scheduling.schedule_meeting(session, principal=principal, meeting_id=meeting_id)
    await tell(session, "meeting", meeting_id, None)
    return _back(meeting_id)


@router.post("/{meeting_id}/reschedule")
async def reschedule(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    meeting_id: int,
    starts_at: Annotated[str, Form()],
    ends_at: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    meeting = await scheduling.reschedule_meeting(
        session, principal=principal, meeting_id=meeting_id, starts_at=_local(starts_at), ends_at=_local(ends_at), reason=reason
    )
    if meeting.status == MeetingStatus.scheduled:
        await tell(session, "meeting", meeting_id, "rescheduled", meeting.starts_at.isoformat(), meeting.schedule_version)
    return _back(meeting_id)


@router.post("/{meeting_id}/cancel")
async def cancel(
    request: Request, principal: SignedIn, session: SessionDep, meeting_id: int, reason: Annotated[str, Form()] = ""
) -> Response:
    before = (await get_meeting(session, meeting_id)).status
    await scheduling.cancel_meeting(session, principal=principal, meeting_id=meeting_id, reason=reason)
    if before == MeetingStatus.scheduled:
        await tell(session, "meeting", meeting_id, "cancelled")
    return _back(meeting_id)


@router.get("/{meeting_id}/video")
async def join_video(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int) -> Response:
    """Redirect to the person's own join link on the video bridge."""
    acc = await access_for(session, principal, meeting_id)
    settings = request.app.state.settings
    person = video.JoinPerson(
        user_id=principal.user.id, name=principal.me.full_name, email=principal.user.email, moderator=acc.is_chair or acc.is_secretary
    )
    if video.provider(settings) == "bbb" and not acc.meeting.video_url:
        import httpx

        with contextlib.suppress(httpx.HTTPError):
            async with httpx.AsyncClient(timeout=10) as http:
                await http.get(video.bbb_create_url(settings, acc.meeting))
    url = video.join_url(settings, acc.meeting, person, now=utcnow())
    if not url:
        raise NotFound(_l("This meeting has no video room."))
    return RedirectResponse(url, status_code=303)


# --- live pages ------------------------------------------------------------------------------


def _labels() -> dict[str, str]:
    keys = [
        "Current item",
        "Not started",
        "Running",
        "Done",
        "planned",
        "min",
        "Start",
        "End",
        "Up",
        "Down",
        "Speaking now",
        "Queue",
        "Nobody has asked to speak.",
        "Give the floor",
        "End the floor",
        "Withdraw",
        "Ask to speak",
        "Present",
        "Absent",
        "Mark present",
        "Mark absent",
        "Quorum reached",
        "No quorum yet",
        "present of",
        "voting members",
        "Vote open",
        "voted",
        "Close the vote",
        "Passed",
        "Not passed",
        "You voted",
        "Your vote is recorded (secret ballot).",
        "Export CSV",
        "Site connected",
        "Site not connected",
        "attendees",
        "Connection lost, reconnecting…",
        "Connected again.",
        "Close the vote? The result is final.",
        "Close the meeting? This cannot be undone.",
        "No vote is open.",
        "Nobody is speaking.",
        "You are checked in.",
        "Check in to vote.",
        "over time",
        "in the room",
        "online",
        "Not started yet.",
        "The meeting is closed.",
        "The meeting has been cancelled.",
        "votes",
        "Speaking time",
        "meeting.vote.yes",
        "meeting.vote.no",
        "meeting.vote.abstain",
        "Abstentions and members who do not vote count as not in favour.",
        "Counted against",
        "needed to pass",
        "Opened without quorum",
        "Reason",
        "in place of",
        "authorisation",
        "arrived",
        "left",
        "Left",
        "needed",
        "You attend without a vote.",
        *(f"meeting.status.{s.value}" for s in MeetingStatus),
        *(f"meeting.poll.{v.value}" for v in PollVisibility),
        *(f"meeting.threshold.{t.value}" for t in Threshold),
        *(f"meeting.role.{r.value}" for r in ParticipantRole),
    ]
    return {k: _(k) for k in keys}


async def _live_page(request: Request, principal: Principal, session: AsyncSession, meeting_id: int, view: str) -> Response:
    acc = await access_for(session, principal, meeting_id)
    if view == "console" and not (acc.is_chair or acc.is_secretary):
        from services.errors import Forbidden

        raise Forbidden(_l("The console is for the chair and the secretary. Open the meeting room instead."))
    if not acc.is_participant:
        from services.errors import Forbidden

        raise Forbidden(_l("Only participants can enter the meeting room."))
    items = (await session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id).order_by(AgendaItem.position))).all()
    return render(
        request,
        "meetings/live.html",
        {
            "m": acc.meeting,
            "acc": acc,
            "view": view,
            "labels": json.dumps(_labels(), ensure_ascii=False),
            "items": items,
            "documents": await scheduling.visible_documents(session, acc),
            "room_url": video.room_url(request.app.state.settings, acc.meeting),
            "visibilities": list(PollVisibility),
            "thresholds": list(Threshold),
            "substitutes": await attendance.substitute_choices(session, principal, acc.meeting) if view == "console" else [],
        },
    )


@router.get("/{meeting_id}/room")
async def room(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int) -> Response:
    """The participant view (works on a phone): check in, agenda, speakers, vote."""
    return await _live_page(request, principal, session, meeting_id, "room")


@router.get("/{meeting_id}/console")
async def console(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int) -> Response:
    """The chair's console (the secretary sees it too, with attendance controls)."""
    return await _live_page(request, principal, session, meeting_id, "console")


@router.get("/{meeting_id}/state.json")
async def state(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int) -> Response:
    acc = await access_for(session, principal, meeting_id)
    if not acc.is_participant:
        raise NotFound(_l("meeting not found"))
    return JSONResponse(await live.snapshot(session, acc.meeting, user_id=principal.user.id))


@router.get("/{meeting_id}/projector")
async def projector(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int) -> Response:
    """The big screen, for the organisation's members and participants."""
    meeting = await get_meeting(session, meeting_id)
    if not (await standing(session, principal, meeting)).can_project:
        raise NotFound(_l("meeting not found"))
    return RedirectResponse(f"/meetings/screen/{meeting.projector_token}", status_code=303)


async def _by_token(session: AsyncSession, token: str) -> Meeting:
    meeting = await session.scalar(select(Meeting).where(Meeting.projector_token == token)) if len(token) > 20 else None
    if meeting is None:
        raise NotFound(_l("projector link not found"))
    return meeting


@router.get("/screen/{token}")
async def screen(request: Request, principal: PublicAccess, session: SessionDep, token: str) -> Response:
    """Public projector view: whoever holds the token URL (the meeting room's screen)."""
    meeting = await _by_token(session, token)
    return render(request, "meetings/projector.html", {"m": meeting, "token": token, "labels": json.dumps(_labels(), ensure_ascii=False)})


@router.get("/screen/{token}/state.json")
async def screen_state(request: Request, principal: PublicAccess, session: SessionDep, token: str) -> Response:
    meeting = await _by_token(session, token)
    return JSONResponse(await live.snapshot(session, meeting, user_id=None, projector=True))


@router.websocket("/screen/{token}/ws")
async def screen_ws(websocket: WebSocket, token: str) -> None:
    """The projector's live feed: a "changed" ping per event (it then reloads its public state)."""
    database = websocket.app.state.db
    hub: EventHub = websocket.app.state.hub
    async with database.session() as session:
        meeting = await session.scalar(select(Meeting).where(Meeting.projector_token == token))
    if meeting is None or len(token) <= 20:
        await websocket.close(code=4404)
        return
    await websocket.accept()
    async with hub.subscribe({live.channel(meeting.id)}) as sub:
        receiver = asyncio.create_task(_drain(websocket))
        try:
            while True:
                getter = asyncio.create_task(sub.queue.get())
                done, _pending = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if receiver in done:
                    getter.cancel()
                    return
                item = getter.result()
                if item is None:
                    await websocket.send_json({"kind": "resync"})
                    await websocket.close(code=4000)
                    return
                await websocket.send_json({"kind": "changed", "seq": item.seq, "what": item.kind})
        except (WebSocketDisconnect, RuntimeError):
            return
        finally:
            receiver.cancel()


async def _drain(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()


@router.get("/{meeting_id}/polls/{poll_id}.csv")
async def poll_csv(request: Request, principal: SignedIn, session: SessionDep, meeting_id: int, poll_id: int) -> Response:
    filename, data = await polls.results_csv(session, principal=principal, meeting_id=meeting_id, poll_id=poll_id)
    return Response(data, media_type="text/csv; charset=utf-8", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# --- live actions (JSON) --------------------------------------------------------------------------
# One typed route per action of the live room (console, phone room): FastAPI validates the body
# against its model and the OpenAPI document describes it. The services authorize each action
# (chair, secretary, participant); the routes only require a signed-in person.


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


OptionalId = Annotated[int | None, BeforeValidator(_blank_is_none)]
Text = Annotated[str, Field(max_length=2000)]


class Mark(BaseModel):
    participant_id: int
    present: bool = False
    reason: Annotated[str, Field(max_length=500)] = ""


class Site(BaseModel):
    unit_id: int
    present: bool = False


class NewItem(BaseModel):
    title: Annotated[str, Field(max_length=500)]
    planned_minutes: Annotated[int, Field(ge=1, le=600)] = 10


class ItemRef(BaseModel):
    item_id: int


class MoveItem(BaseModel):
    item_id: int
    direction: Literal["up", "down"] = "down"


class Reorder(BaseModel):
    item_ids: Annotated[list[int], Field(max_length=500)]


class FloorRequest(BaseModel):
    agenda_item_id: OptionalId = None
    note: Text = ""


class FloorRef(BaseModel):
    request_id: int


class NewPoll(BaseModel):
    question: Text
    visibility: PollVisibility = PollVisibility.open
    threshold: Threshold = Threshold.majority_present
    options: Annotated[list[Annotated[str, Field(max_length=500)]], Field(max_length=50)] | None = None
    allow_change: bool = False
    agenda_item_id: OptionalId = None
    override_reason: Text = ""


class Substitute(BaseModel):
    participant_id: int
    user_id: int
    authorisation: Text


class Ballot(BaseModel):
    poll_id: int
    option_id: int


class PollRef(BaseModel):
    poll_id: int


LIVE_OK = {"ok": True}


@router.post("/{meeting_id}/live/open")
async def live_open(principal: SignedIn, session: SessionDep, meeting_id: int) -> dict[str, bool]:
    await scheduling.open_meeting(session, principal=principal, meeting_id=meeting_id)
    await tell(session, "meeting", meeting_id, "opened")
    return LIVE_OK


@router.post("/{meeting_id}/live/close")
async def live_close(principal: SignedIn, session: SessionDep, meeting_id: int) -> dict[str, bool]:
    await scheduling.close_meeting(session, principal=principal, meeting_id=meeting_id)
    await tell(session, "meeting", meeting_id, "closed")
    return LIVE_OK


@router.post("/{meeting_id}/live/checkin")
async def live_checkin(principal: SignedIn, session: SessionDep, meeting_id: int) -> dict[str, bool]:
    await attendance.check_in(session, principal=principal, meeting_id=meeting_id)
    return LIVE_OK


@router.post("/{meeting_id}/live/mark")
async def live_mark(principal: SignedIn, session: SessionDep, meeting_id: int, body: Mark) -> dict[str, bool]:
    await attendance.mark(
        session, principal=principal, meeting_id=meeting_id, participant_id=body.participant_id, present=body.present, reason=body.reason
    )
    return LIVE_OK


@router.post("/{meeting_id}/live/substitute")
async def live_substitute(principal: SignedIn, session: SessionDep, meeting_id: int, body: Substitute) -> dict[str, bool]:
    """A substitute (người dự thay) attends in an invited member's seat, authorisation recorded."""
    await attendance.substitute(
        session,
        principal=principal,
        meeting_id=meeting_id,
        participant_id=body.participant_id,
        user_id=body.user_id,
        authorisation=body.authorisation,
    )
    return LIVE_OK


@router.post("/{meeting_id}/live/site")
async def live_site(principal: SignedIn, session: SessionDep, meeting_id: int, body: Site) -> dict[str, bool]:
    await attendance.mark_site(session, principal=principal, meeting_id=meeting_id, unit_id=body.unit_id, present=body.present)
    return LIVE_OK


@router.post("/{meeting_id}/live/add-item")
async def live_add_item(principal: SignedIn, session: SessionDep, meeting_id: int, body: NewItem) -> dict[str, bool]:
    await agenda.add_item(session, principal=principal, meeting_id=meeting_id, title=body.title, planned_minutes=body.planned_minutes)
    return LIVE_OK


@router.post("/{meeting_id}/live/start-item")
async def live_start_item(principal: SignedIn, session: SessionDep, meeting_id: int, body: ItemRef) -> dict[str, bool]:
    await agenda.start_item(session, principal=principal, meeting_id=meeting_id, item_id=body.item_id)
    return LIVE_OK


@router.post("/{meeting_id}/live/end-item")
async def live_end_item(principal: SignedIn, session: SessionDep, meeting_id: int, body: ItemRef) -> dict[str, bool]:
    await agenda.end_item(session, principal=principal, meeting_id=meeting_id, item_id=body.item_id)
    return LIVE_OK


@router.post("/{meeting_id}/live/move-item")
async def live_move_item(principal: SignedIn, session: SessionDep, meeting_id: int, body: MoveItem) -> dict[str, bool]:
    await agenda.move(session, principal=principal, meeting_id=meeting_id, item_id=body.item_id, delta=-1 if body.direction == "up" else 1)
    return LIVE_OK


@router.post("/{meeting_id}/live/reorder")
async def live_reorder(principal: SignedIn, session: SessionDep, meeting_id: int, body: Reorder) -> dict[str, bool]:
    await agenda.reorder(session, principal=principal, meeting_id=meeting_id, item_ids=body.item_ids)
    return LIVE_OK


@router.post("/{meeting_id}/live/request-floor")
async def live_request_floor(principal: SignedIn, session: SessionDep, meeting_id: int, body: FloorRequest) -> dict[str, bool]:
    await speakers.request_floor(session, principal=principal, meeting_id=meeting_id, agenda_item_id=body.agenda_item_id, note=body.note)
    return LIVE_OK


@router.post("/{meeting_id}/live/withdraw")
async def live_withdraw(principal: SignedIn, session: SessionDep, meeting_id: int, body: FloorRef) -> dict[str, bool]:
    await speakers.withdraw(session, principal=principal, meeting_id=meeting_id, request_id=body.request_id)
    return LIVE_OK


@router.post("/{meeting_id}/live/grant")
async def live_grant(principal: SignedIn, session: SessionDep, meeting_id: int, body: FloorRef) -> dict[str, bool]:
    await speakers.grant(session, principal=principal, meeting_id=meeting_id, request_id=body.request_id)
    return LIVE_OK


@router.post("/{meeting_id}/live/end-floor")
async def live_end_floor(principal: SignedIn, session: SessionDep, meeting_id: int, body: FloorRef) -> dict[str, bool]:
    await speakers.end_floor(session, principal=principal, meeting_id=meeting_id, request_id=body.request_id)
    return LIVE_OK


@router.post("/{meeting_id}/live/open-poll")
async def live_open_poll(principal: SignedIn, session: SessionDep, meeting_id: int, body: NewPoll) -> dict[str, bool]:
    options = [o for o in body.options if o.strip()] if body.options else None
    await polls.open_poll(
        session,
        principal=principal,
        meeting_id=meeting_id,
        question=body.question,
        visibility=body.visibility,
        threshold=body.threshold,
        options=options or None,
        allow_change=body.allow_change,
        agenda_item_id=body.agenda_item_id,
        override_reason=body.override_reason,
    )
    return LIVE_OK


@router.post("/{meeting_id}/live/vote")
async def live_vote(principal: SignedIn, session: SessionDep, meeting_id: int, body: Ballot) -> dict[str, bool]:
    await polls.vote(session, principal=principal, meeting_id=meeting_id, poll_id=body.poll_id, option_id=body.option_id)
    return LIVE_OK


@router.post("/{meeting_id}/live/close-poll")
async def live_close_poll(principal: SignedIn, session: SessionDep, meeting_id: int, body: PollRef) -> dict[str, bool]:
    await polls.close_poll(session, principal=principal, meeting_id=meeting_id, poll_id=body.poll_id)
    return LIVE_OK


# --- the home page card -------------------------------------------------------------------------


async def meetings_soon(session: AsyncSession, principal: Principal) -> list[Meeting]:
    """Meetings today and in the coming week."""
    now = utcnow()
    return await scheduling.list_meetings(
        session,
        principal=principal,
        start=now - timedelta(hours=6),
        end=now + timedelta(days=7),
        statuses=[MeetingStatus.scheduled, MeetingStatus.open],
    )


def unanswered_query(principal: Principal) -> Select[int] | None:
    """Unit invitations waiting for an answer; None for someone who answers none."""
    if not (orgs := principal.orgs_with(*scheduling.RESPONDER_ROLES)):
        return None
    return (
        select(func.count())
        .select_from(MeetingUnit)
        .join(Meeting, Meeting.id == MeetingUnit.meeting_id)
        .where(MeetingUnit.organization_id.in_(orgs), MeetingUnit.reply == "pending", Meeting.status == MeetingStatus.scheduled)
    )
