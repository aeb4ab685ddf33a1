"""Attendance: self check-in online, the secretary marking people in the room, sites of units.

Arrival (`checked_in_at`) and leaving (`left_at`) are kept for the minutes. A site's clerk
(the leader or clerk of an invited unit) marks that unit's delegates. A substitute (người dự
thay) attends in an invited member's seat with the authorisation recorded: the member is
absent, represented; the substitute votes in the seat, so the quorum base does not move.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import live
from meetings.access import MeetingAccess, access_for, require_chair_or_secretary, require_participant, require_status
from meetings.models import Attendance, Meeting, MeetingParticipant, MeetingStatus, MeetingUnit, ParticipantRole
from services.audit.service import record
from services.authz import Principal
from services.db import utcnow
from services.directory.models import Organization, User
from services.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.i18n import _l

CHECK_IN_OPEN = (MeetingStatus.scheduled, MeetingStatus.open)


async def check_in(session: AsyncSession, *, principal: Principal, meeting_id: int) -> MeetingParticipant:
    """A participant online says "I am here" (idempotent)."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    participant = require_participant(acc)
    require_status(acc.meeting, *CHECK_IN_OPEN)
    if participant.attendance == Attendance.present:
        return participant
    if participant.substitute_for_id is None and await _substituted(session, participant.id):
        raise Conflict(_l("Someone already attends in your place."))
    participant.attendance, participant.checked_in_at, participant.checked_in_by = Attendance.present, utcnow(), principal.user.id
    participant.in_room, participant.left_at = False, None
    await record(
        session,
        actor=principal.actor,
        action="meeting.checked_in",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"participant_id": participant.id, "how": "self"},
    )
    await live.emit(session, meeting_id, "attendance", await live.attendance_payload(session, acc.meeting, participant))
    return participant


def _require_marker(acc: MeetingAccess, participant: MeetingParticipant) -> str:
    """Who marks: the chair or secretary anyone; a site's clerk only the delegates of that site."""
    if acc.is_chair or acc.is_secretary:
        return "secretary"
    if participant.unit_id is not None and any(u.id == participant.unit_id for u in acc.responder_units):
        return "site"
    raise Forbidden(_l("Only the chair, the secretary, or a site's clerk (for that site's delegates) can mark attendance."))


def _may_mark_someone(acc: MeetingAccess) -> None:
    # Refuse before looking the person up, so the answer does not depend on who exists.
    if not (acc.is_chair or acc.is_secretary or acc.responder_units):
        require_chair_or_secretary(acc)


async def _participant(session: AsyncSession, meeting_id: int, participant_id: int) -> MeetingParticipant:
    participant = await session.get(MeetingParticipant, participant_id)
    if participant is None or participant.meeting_id != meeting_id:
        raise NotFound(_l("participant not found"))
    return participant


async def _substituted(session: AsyncSession, participant_id: int) -> bool:
    return bool(await session.scalar(select(MeetingParticipant.id).where(MeetingParticipant.substitute_for_id == participant_id)))


async def mark(
    session: AsyncSession,
    *,
    principal: Principal,
    meeting_id: int,
    participant_id: int,
    present: bool,
    reason: str = "",
) -> MeetingParticipant:
    """Mark a person present in the room, or absent with a reason; someone present who is marked
    absent while the meeting runs has left (the time is kept)."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    _may_mark_someone(acc)
    participant = await _participant(session, meeting_id, participant_id)
    how = _require_marker(acc, participant)
    require_status(acc.meeting, *CHECK_IN_OPEN, MeetingStatus.closed)
    now = utcnow()
    if present:
        if participant.substitute_for_id is None and await _substituted(session, participant.id):
            raise Conflict(_l("A substitute already attends in this member's place."))
        participant.attendance, participant.in_room, participant.left_at = Attendance.present, True, None
        participant.checked_in_at = participant.checked_in_at or now
        participant.checked_in_by = principal.user.id
    else:
        leaving = participant.attendance == Attendance.present and acc.meeting.status == MeetingStatus.open
        participant.attendance, participant.in_room = Attendance.absent, False
        if leaving:
            participant.left_at = now
        else:
            participant.checked_in_at = None
        if reason.strip():
            participant.absence_reason = reason.strip()[:2000]
    await record(
        session,
        actor=principal.actor,
        action="meeting.attendance_marked",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={
            "participant_id": participant.id,
            "present": present,
            "reason": participant.absence_reason,
            "by": how,
            "left_at": live.iso(participant.left_at),
        },
    )
    await live.emit(session, meeting_id, "attendance", await live.attendance_payload(session, acc.meeting, participant))
    return participant


async def substitute(
    session: AsyncSession,
    *,
    principal: Principal,
    meeting_id: int,
    participant_id: int,
    user_id: int,
    authorisation: str,
) -> MeetingParticipant:
    """`user_id` attends in the seat of invited member `participant_id`, with the authorisation
    (e.g. "Giấy ủy quyền số 12/GUQ ngày 01/12/2026") recorded; the substitute is present."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    _may_mark_someone(acc)
    member = await _participant(session, meeting_id, participant_id)
    _require_marker(acc, member)
    require_status(acc.meeting, *CHECK_IN_OPEN)
    authorisation = (authorisation or "").strip()
    if not authorisation:
        raise InvalidInput(_l("Record the substitute's authorisation (number, date, who signed it)."))
    if member.role in (ParticipantRole.chair, ParticipantRole.secretary, ParticipantRole.guest) or member.substitute_for_id:
        raise InvalidInput(_l("Only an invited member can send a substitute."))
    if member.attendance == Attendance.present:
        raise InvalidInput(_l("This member is present; no substitute is needed."))
    if await _substituted(session, member.id):
        raise Conflict(_l("A substitute already attends in this member's place."))
    user = await session.get(User, user_id)
    if user is None or not user.active:
        raise InvalidInput(_l("Unknown substitute."))
    # A member sends someone of her own organisation; a site's delegate, someone of that unit.
    member_user = await session.get(User, member.user_id)
    unit = await session.get(MeetingUnit, member.unit_id) if member.unit_id else None
    allowed = principal.tree.subtree(unit.organization_id) if unit else {member_user.organization_id if member_user else -1}
    if user.organization_id not in allowed:
        raise InvalidInput(_l("The substitute must belong to the invited member's organisation."))
    if await session.scalar(
        select(MeetingParticipant.id).where(MeetingParticipant.meeting_id == meeting_id, MeetingParticipant.user_id == user_id)
    ):
        raise InvalidInput(_l("This person is already a participant."))
    now = utcnow()
    seat = MeetingParticipant(
        meeting_id=meeting_id,
        user_id=user_id,
        role=ParticipantRole.member,
        voting=member.voting,
        unit_id=member.unit_id,
        attendance=Attendance.present,
        checked_in_at=now,
        checked_in_by=principal.user.id,
        in_room=True,
        substitute_for_id=member.id,
        authorisation=authorisation[:2000],
    )
    session.add(seat)
    member.attendance, member.in_room = Attendance.absent, False
    member.absence_reason = f"Cử {user.full_name} dự thay"
    await session.flush()
    await record(
        session,
        actor=principal.actor,
        action="meeting.substitute_attended",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={
            "participant_id": member.id,
            "substitute_user_id": user_id,
            "substitute_participant_id": seat.id,
            "authorisation": seat.authorisation,
        },
    )
    await live.emit(session, meeting_id, "attendance", await live.attendance_payload(session, acc.meeting, member))
    await live.emit(session, meeting_id, "attendance", await live.attendance_payload(session, acc.meeting, seat))
    return seat


async def substitute_choices(session: AsyncSession, principal: Principal, meeting: Meeting) -> list[tuple[int, str]]:
    """Who may sit in for an invited member (for the console's form): active users of the
    organising organisation's tree who are not participants; `substitute` checks the member's unit."""
    taken = select(MeetingParticipant.user_id).where(MeetingParticipant.meeting_id == meeting.id)
    rows = (
        await session.execute(
            select(User.id, User.full_name, Organization.name)
            .join(Organization, Organization.id == User.organization_id)
            .where(User.active.is_(True), User.organization_id.in_(principal.tree.subtree(meeting.organization_id)), User.id.not_in(taken))
            .order_by(Organization.name, User.full_name)
            .limit(500)
        )
    ).all()
    return [(uid, f"{name} — {org}") for uid, name, org in rows]


async def site_delegate(session: AsyncSession, acc: MeetingAccess, *, unit_id: int, participant_id: int) -> MeetingParticipant:
    """A delegate of invited unit `unit_id` that the principal answers for (NotFound otherwise)."""
    participant = await _participant(session, acc.meeting.id, participant_id)
    if participant.unit_id != unit_id or not any(u.id == unit_id for u in acc.responder_units):
        raise NotFound(_l("site delegate not found"))
    return participant


async def mark_site(session: AsyncSession, *, principal: Principal, meeting_id: int, unit_id: int, present: bool) -> MeetingUnit:
    """A unit's site (its room, connected by video) is marked connected or not."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    if not (acc.is_chair or acc.is_secretary or any(u.id == unit_id for u in acc.responder_units)):
        require_chair_or_secretary(acc)
    require_status(acc.meeting, *CHECK_IN_OPEN)
    unit = await session.get(MeetingUnit, unit_id)
    if unit is None or unit.meeting_id != meeting_id:
        raise NotFound(_l("site not found"))
    unit.site_present, unit.site_marked_at = present, utcnow()
    await record(
        session,
        actor=principal.actor,
        action="meeting.site_marked",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"unit_id": unit.id, "present": present},
    )
    await live.emit(session, meeting_id, "attendance", await live.attendance_payload(session, acc.meeting))
    return unit


async def absentees(session: AsyncSession, *, meeting_id: int) -> list[MeetingParticipant]:
    return list(
        (
            await session.scalars(
                select(MeetingParticipant).where(
                    MeetingParticipant.meeting_id == meeting_id, MeetingParticipant.attendance != Attendance.present
                )
            )
        ).all()
    )
