"""Requests to speak and the floor: participants ask (for an agenda item) or withdraw; the chair
grants the floor and ends it. The queue is first come, first served and visible to everyone."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import live
from meetings.access import access_for, require_chair, require_participant, require_status
from meetings.models import AgendaItem, MeetingStatus, SpeakerRequest, SpeakerStatus
from services.audit.service import record
from services.authz import Principal
from services.db import utcnow
from services.errors import Conflict, InvalidInput, NotFound
from services.i18n import _l

ACTIVE = (SpeakerStatus.waiting, SpeakerStatus.speaking)


async def request_floor(
    session: AsyncSession,
    *,
    principal: Principal,
    meeting_id: int,
    agenda_item_id: int | None = None,
    note: str = "",
) -> SpeakerRequest:
    acc = await access_for(session, principal, meeting_id, for_update=True)
    participant = require_participant(acc)
    require_status(acc.meeting, MeetingStatus.open)
    if await session.scalar(
        select(SpeakerRequest.id).where(
            SpeakerRequest.meeting_id == meeting_id, SpeakerRequest.user_id == participant.user_id, SpeakerRequest.status.in_(ACTIVE)
        )
    ):
        raise Conflict(_l("You are already in the queue."))
    item_id = agenda_item_id or acc.meeting.current_item_id
    if item_id is not None:
        item = await session.get(AgendaItem, item_id)
        if item is None or item.meeting_id != meeting_id:
            raise InvalidInput(_l("The agenda item is not part of this meeting."))
    request = SpeakerRequest(meeting_id=meeting_id, user_id=participant.user_id, agenda_item_id=item_id, note=(note or "").strip()[:500])
    session.add(request)
    await session.flush()
    await record(
        session,
        actor=principal.actor,
        action="meeting.floor_requested",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"request_id": request.id, "item_id": item_id},
    )
    await live.emit(session, meeting_id, "speakers", await live.speakers_payload(session, meeting_id))
    return request


async def _request(session: AsyncSession, meeting_id: int, request_id: int) -> SpeakerRequest:
    request = await session.get(SpeakerRequest, request_id)
    if request is None or request.meeting_id != meeting_id:
        raise NotFound(_l("speaker request not found"))
    return request


async def withdraw(session: AsyncSession, *, principal: Principal, meeting_id: int, request_id: int) -> SpeakerRequest:
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_participant(acc)
    request = await _request(session, meeting_id, request_id)
    if request.user_id != principal.user.id:
        raise NotFound(_l("speaker request not found"))
    if request.status != SpeakerStatus.waiting:
        raise InvalidInput(_l("Only a waiting request can be withdrawn."))
    request.status, request.ended_at = SpeakerStatus.withdrawn, utcnow()
    await record(
        session,
        actor=principal.actor,
        action="meeting.floor_withdrawn",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"request_id": request.id},
    )
    await live.emit(session, meeting_id, "speakers", await live.speakers_payload(session, meeting_id))
    return request


async def grant(session: AsyncSession, *, principal: Principal, meeting_id: int, request_id: int) -> SpeakerRequest:
    """The chair gives the floor; whoever was speaking is done."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_chair(acc)
    require_status(acc.meeting, MeetingStatus.open)
    request = await _request(session, meeting_id, request_id)
    if request.status != SpeakerStatus.waiting:
        raise InvalidInput(_l("This request is no longer waiting."))
    now = utcnow()
    for other in (
        await session.scalars(
            select(SpeakerRequest).where(SpeakerRequest.meeting_id == meeting_id, SpeakerRequest.status == SpeakerStatus.speaking)
        )
    ).all():
        other.status, other.ended_at = SpeakerStatus.done, now
    request.status, request.granted_at = SpeakerStatus.speaking, now
    await record(
        session,
        actor=principal.actor,
        action="meeting.floor_granted",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"request_id": request.id, "user_id": request.user_id},
    )
    await live.emit(session, meeting_id, "speakers", await live.speakers_payload(session, meeting_id))
    return request


async def end_floor(session: AsyncSession, *, principal: Principal, meeting_id: int, request_id: int) -> SpeakerRequest:
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_chair(acc)
    request = await _request(session, meeting_id, request_id)
    if request.status != SpeakerStatus.speaking:
        raise InvalidInput(_l("This person does not have the floor."))
    request.status, request.ended_at = SpeakerStatus.done, utcnow()
    seconds = int((request.ended_at - request.granted_at).total_seconds()) if request.granted_at else 0
    await record(
        session,
        actor=principal.actor,
        action="meeting.floor_ended",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"request_id": request.id, "user_id": request.user_id, "seconds": seconds},
    )
    await live.emit(session, meeting_id, "speakers", await live.speakers_payload(session, meeting_id))
    return request
