"""Attendance: self check-in online, the secretary marking people in the room, sites of units."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import live
from meetings.access import access_for, require_chair_or_secretary, require_participant, require_status
from meetings.models import Attendance, MeetingParticipant, MeetingStatus, MeetingUnit
from services.audit.service import record
from services.authz import Principal
from services.db import utcnow
from services.errors import NotFound
from services.i18n import _l

CHECK_IN_OPEN = (MeetingStatus.scheduled, MeetingStatus.open)


async def check_in(session: AsyncSession, *, principal: Principal, meeting_id: int) -> MeetingParticipant:
    """A participant online says "I am here" (idempotent)."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    participant = require_participant(acc)
    require_status(acc.meeting, *CHECK_IN_OPEN)
    if participant.attendance == Attendance.present:
        return participant
    participant.attendance, participant.checked_in_at, participant.checked_in_by = Attendance.present, utcnow(), principal.user.id
    participant.in_room = False
    await record(session, actor=principal.actor, action="meeting.checked_in", object_type="meeting", object_id=meeting_id,
                 organization_id=acc.meeting.organization_id, details={"participant_id": participant.id, "how": "self"})
    await live.emit(session, meeting_id, "attendance", await live.attendance_payload(session, acc.meeting, participant))
    return participant


async def mark(
    session: AsyncSession, *, principal: Principal, meeting_id: int, participant_id: int, present: bool, reason: str = "",
) -> MeetingParticipant:
    """The secretary (or chair) marks a person present in the room, or absent with a reason."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_chair_or_secretary(acc)
    require_status(acc.meeting, *CHECK_IN_OPEN, MeetingStatus.closed)
    participant = await session.get(MeetingParticipant, participant_id)
    if participant is None or participant.meeting_id != meeting_id:
        raise NotFound(_l("participant not found"))
    if present:
        participant.attendance, participant.in_room = Attendance.present, True
        participant.checked_in_at = participant.checked_in_at or utcnow()
        participant.checked_in_by = principal.user.id
    else:
        participant.attendance, participant.in_room, participant.checked_in_at = Attendance.absent, False, None
        if reason.strip():
            participant.absence_reason = reason.strip()[:2000]
    await record(session, actor=principal.actor, action="meeting.attendance_marked", object_type="meeting", object_id=meeting_id,
                 organization_id=acc.meeting.organization_id,
                 details={"participant_id": participant.id, "present": present, "reason": participant.absence_reason})
    await live.emit(session, meeting_id, "attendance", await live.attendance_payload(session, acc.meeting, participant))
    return participant


async def mark_site(session: AsyncSession, *, principal: Principal, meeting_id: int, unit_id: int, present: bool) -> MeetingUnit:
    """A unit's site (its room, connected by video) is marked connected or not."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_chair_or_secretary(acc)
    require_status(acc.meeting, *CHECK_IN_OPEN)
    unit = await session.get(MeetingUnit, unit_id)
    if unit is None or unit.meeting_id != meeting_id:
        raise NotFound(_l("site not found"))
    unit.site_present, unit.site_marked_at = present, utcnow()
    await record(session, actor=principal.actor, action="meeting.site_marked", object_type="meeting", object_id=meeting_id,
                 organization_id=acc.meeting.organization_id, details={"unit_id": unit.id, "present": present})
    await live.emit(session, meeting_id, "attendance", await live.attendance_payload(session, acc.meeting))
    return unit


async def absentees(session: AsyncSession, *, meeting_id: int) -> list[MeetingParticipant]:
    return list((await session.scalars(select(MeetingParticipant).where(
        MeetingParticipant.meeting_id == meeting_id, MeetingParticipant.attendance != Attendance.present))).all())
