"""Preparing a meeting and its lifecycle: draft → scheduled → open → closed, or cancelled.

Participants (people), invited units and the attendees each unit names, replies, meeting
documents with per-person visibility, rescheduling and cancelling. Every change is audited and
published on the meeting's live channel in the same transaction; notifications to everyone
invited are sent by the meeting workflow's activities (see workflows/meetings).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import live
from meetings.access import (
    ORGANISER_ROLES,
    RESPONDER_ROLES,
    MeetingAccess,
    access_for,
    require_chair,
    require_organiser,
    require_participant,
    require_status,
)
from meetings.models import (
    AgendaItem,
    Attendance,
    ItemStatus,
    Meeting,
    MeetingDocument,
    MeetingDocumentViewer,
    MeetingMode,
    MeetingParticipant,
    MeetingStatus,
    MeetingUnit,
    ParticipantRole,
    Poll,
    PollStatus,
    Reply,
    SpeakerRequest,
    SpeakerStatus,
    UnitReply,
)
from services.audit.service import record
from services.authz import Principal
from services.blobs import BlobStore
from services.config import Settings
from services.db import utcnow
from services.directory.models import Organization, RoleAssignment, User
from services.errors import Conflict, InvalidInput, NotFound
from services.events import service as events
from services.i18n import Message, _l
from services.uploads import DOCX, JPEG, PDF, PNG, OfficeLimits, check_upload
from services.webhooks import service as webhooks

PREPARING = (MeetingStatus.draft, MeetingStatus.scheduled)


def _text(value: str | None, message: Message, *, limit: int = 500) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(message)
    return value[:limit]


def _check_times(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput(_l("Times must carry a time zone."))
    if ends_at <= starts_at:
        raise InvalidInput(_l("The planned end must be after the start."))


async def _user(session: AsyncSession, user_id: int | None) -> User:
    user = await session.get(User, user_id) if user_id else None
    if user is None or not user.active:
        raise InvalidInput(_l("The chosen person does not exist."))
    return user


async def create_meeting(
    session: AsyncSession,
    *,
    principal: Principal,
    settings: Settings,
    organization_id: int,
    title: str,
    chair_id: int,
    starts_at: datetime,
    ends_at: datetime,
    secretary_id: int | None = None,
    mode: MeetingMode = MeetingMode.online,
    place: str = "",
    description: str = "",
    video_url: str | None = None,
    quorum_ratio: float | None = None,
) -> Meeting:
    """A draft meeting of `organization_id`; its chair and secretary become participants."""
    if organization_id not in principal.orgs_with(*ORGANISER_ROLES):
        raise NotFound(_l("organization not found"))
    _check_times(starts_at, ends_at)
    await _user(session, chair_id)
    if secretary_id:
        await _user(session, secretary_id)
    ratio = settings.meeting_quorum_ratio if quorum_ratio is None else quorum_ratio
    if not 0 < ratio < 1:
        raise InvalidInput(_l("The quorum ratio must be between 0 and 1."))
    meeting = Meeting(
        organization_id=organization_id,
        title=_text(title, _l("Enter the meeting's title.")),
        description=(description or "").strip(),
        chair_id=chair_id,
        secretary_id=secretary_id or None,
        starts_at=starts_at,
        ends_at=ends_at,
        mode=mode,
        place=(place or "").strip()[:255],
        video_url=(video_url or "").strip() or None,
        quorum_ratio=ratio,
        projector_token=secrets.token_urlsafe(24),
        created_by=principal.user.id,
        status=MeetingStatus.draft,
    )
    session.add(meeting)
    await session.flush()
    session.add(MeetingParticipant(meeting_id=meeting.id, user_id=chair_id, role=ParticipantRole.chair, voting=True))
    if secretary_id and secretary_id != chair_id:
        session.add(MeetingParticipant(meeting_id=meeting.id, user_id=secretary_id, role=ParticipantRole.secretary, voting=True))
    await session.flush()
    await record(
        session,
        actor=principal.actor,
        action="meeting.created",
        object_type="meeting",
        object_id=meeting.id,
        organization_id=organization_id,
        details={"title": meeting.title, "starts_at": meeting.starts_at.isoformat()},
    )
    return meeting


async def update_details(
    session: AsyncSession,
    *,
    principal: Principal,
    meeting_id: int,
    title: str,
    description: str,
    mode: MeetingMode,
    place: str,
    video_url: str | None,
    secretary_id: int | None,
) -> Meeting:
    """Change what the invitation says (not the time: see `reschedule_meeting`)."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_organiser(acc)
    meeting = acc.meeting
    require_status(meeting, *PREPARING)
    meeting.title = _text(title, _l("Enter the meeting's title."))
    meeting.description = (description or "").strip()
    meeting.mode = mode
    meeting.place = (place or "").strip()[:255]
    meeting.video_url = (video_url or "").strip() or None
    if secretary_id != meeting.secretary_id:
        if meeting.secretary_id and meeting.secretary_id != meeting.chair_id:
            removed = await session.scalars(
                delete(MeetingParticipant)
                .where(
                    MeetingParticipant.meeting_id == meeting.id,
                    MeetingParticipant.user_id == meeting.secretary_id,
                    MeetingParticipant.role == ParticipantRole.secretary,
                )
                .returning(MeetingParticipant.user_id)
            )
            await events.access_changed(session, *removed.all())  # a page of the meeting they have open stops following it
        if secretary_id:
            await _user(session, secretary_id)
            existing = await session.scalar(
                select(MeetingParticipant).where(MeetingParticipant.meeting_id == meeting.id, MeetingParticipant.user_id == secretary_id)
            )
            if existing is None:
                session.add(MeetingParticipant(meeting_id=meeting.id, user_id=secretary_id, role=ParticipantRole.secretary))
            elif existing.role != ParticipantRole.chair:
                existing.role = ParticipantRole.secretary
        meeting.secretary_id = secretary_id or None
    await record(
        session,
        actor=principal.actor,
        action="meeting.updated",
        object_type="meeting",
        object_id=meeting.id,
        organization_id=meeting.organization_id,
        details={"title": meeting.title, "mode": mode.value, "place": meeting.place},
    )
    await live.emit(session, meeting.id, "status", live.status_payload(meeting))
    return meeting


# --- participants and invited units ----------------------------------------------------------


async def add_participants(
    session: AsyncSession,
    *,
    principal: Principal,
    meeting_id: int,
    user_ids: Iterable[int],
    role: ParticipantRole = ParticipantRole.member,
    voting: bool = True,
) -> list[MeetingParticipant]:
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_organiser(acc)
    require_status(acc.meeting, *PREPARING, MeetingStatus.open)
    return await _add_people(session, principal, acc.meeting, user_ids, role=role, voting=voting, unit_id=None)


async def _add_people(
    session: AsyncSession,
    principal: Principal,
    meeting: Meeting,
    user_ids: Iterable[int],
    *,
    role: ParticipantRole,
    voting: bool,
    unit_id: int | None,
) -> list[MeetingParticipant]:
    added = []
    for user_id in sorted(set(user_ids)):
        await _user(session, user_id)
        if await session.scalar(
            select(MeetingParticipant.id).where(MeetingParticipant.meeting_id == meeting.id, MeetingParticipant.user_id == user_id)
        ):
            continue
        participant = MeetingParticipant(
            meeting_id=meeting.id, user_id=user_id, role=role, voting=voting and role != ParticipantRole.guest, unit_id=unit_id
        )
        session.add(participant)
        added.append(participant)
    await session.flush()
    if added:
        await record(
            session,
            actor=principal.actor,
            action="meeting.participants_added",
            object_type="meeting",
            object_id=meeting.id,
            organization_id=meeting.organization_id,
            details={"user_ids": [p.user_id for p in added], "role": role.value, "unit_id": unit_id},
        )
        for participant in added:
            await live.emit(session, meeting.id, "attendance", await live.attendance_payload(session, meeting, participant))
    return added


async def remove_participant(session: AsyncSession, *, principal: Principal, meeting_id: int, participant_id: int) -> None:
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_organiser(acc)
    require_status(acc.meeting, *PREPARING)
    participant = await session.get(MeetingParticipant, participant_id)
    if participant is None or participant.meeting_id != meeting_id:
        raise NotFound(_l("participant not found"))
    if participant.role in (ParticipantRole.chair, ParticipantRole.secretary):
        raise InvalidInput(_l("The chair and secretary cannot be removed."))
    await session.delete(participant)
    await record(
        session,
        actor=principal.actor,
        action="meeting.participant_removed",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"user_id": participant.user_id},
    )
    # A page of the meeting the person has open stops following it (services/events/hub.py).
    await events.access_changed(session, participant.user_id)


async def invite_units(session: AsyncSession, *, principal: Principal, meeting_id: int, org_ids: Iterable[int]) -> list[MeetingUnit]:
    """Invite lower-level organisations as a whole; each names its attendees later."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_organiser(acc)
    require_status(acc.meeting, *PREPARING)
    meeting = acc.meeting
    below = principal.tree.subtree(meeting.organization_id) - {meeting.organization_id}
    added = []
    for org_id in sorted(set(org_ids)):
        if org_id not in below:
            raise InvalidInput(_l("Only lower-level units can be invited."))
        if await session.scalar(select(MeetingUnit.id).where(MeetingUnit.meeting_id == meeting.id, MeetingUnit.organization_id == org_id)):
            continue
        unit = MeetingUnit(meeting_id=meeting.id, organization_id=org_id)
        session.add(unit)
        added.append(unit)
    await session.flush()
    if added:
        await record(
            session,
            actor=principal.actor,
            action="meeting.units_invited",
            object_type="meeting",
            object_id=meeting.id,
            organization_id=meeting.organization_id,
            details={"organization_ids": [u.organization_id for u in added]},
        )
        await live.emit(session, meeting.id, "attendance", await live.attendance_payload(session, meeting))
    return added


async def remove_unit(session: AsyncSession, *, principal: Principal, meeting_id: int, unit_id: int) -> None:
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_organiser(acc)
    require_status(acc.meeting, *PREPARING)
    unit = await session.get(MeetingUnit, unit_id)
    if unit is None or unit.meeting_id != meeting_id:
        raise NotFound(_l("invited unit not found"))
    removed = await session.scalars(
        delete(MeetingParticipant).where(MeetingParticipant.unit_id == unit.id).returning(MeetingParticipant.user_id)
    )
    await events.access_changed(session, *removed.all())
    await session.delete(unit)
    await record(
        session,
        actor=principal.actor,
        action="meeting.unit_removed",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"organization_id": unit.organization_id},
    )


def _responder_unit(acc: MeetingAccess, unit_id: int) -> MeetingUnit:
    unit = next((u for u in acc.responder_units if u.id == unit_id), None)
    if unit is None:
        raise NotFound(_l("Your unit's invitation was not found."))
    return unit


async def name_attendees(
    session: AsyncSession,
    *,
    principal: Principal,
    meeting_id: int,
    unit_id: int,
    user_ids: Iterable[int],
    note: str = "",
) -> MeetingUnit:
    """The invited unit's leader or clerk names who attends for it (replacing an earlier answer)."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    unit = _responder_unit(acc, unit_id)
    meeting = acc.meeting
    require_status(meeting, *PREPARING, MeetingStatus.open)
    wanted = set(user_ids)
    if not wanted:
        raise InvalidInput(_l("Name at least one attendee, or decline."))
    allowed = principal.tree.subtree(unit.organization_id)
    for user_id in wanted:
        if (await _user(session, user_id)).organization_id not in allowed:
            raise InvalidInput(_l("Attendees must belong to the invited unit."))
    current = (await session.scalars(select(MeetingParticipant).where(MeetingParticipant.unit_id == unit.id))).all()
    for participant in current:
        if participant.user_id not in wanted and participant.checked_in_at is None:
            await session.delete(participant)
            await events.access_changed(session, participant.user_id)
    await session.flush()
    # A unit's delegates attend for its site without a vote: the quorum base stays the members
    # invited by name, whatever the units answer.
    await _add_people(
        session, principal, meeting, wanted - {p.user_id for p in current}, role=ParticipantRole.member, voting=False, unit_id=unit.id
    )
    unit.reply, unit.reply_note = UnitReply.answered, (note or "").strip()
    unit.replied_by, unit.replied_at = principal.user.id, utcnow()
    await record(
        session,
        actor=principal.actor,
        action="meeting.unit_answered",
        object_type="meeting",
        object_id=meeting.id,
        organization_id=unit.organization_id,
        details={"unit_id": unit.id, "user_ids": sorted(wanted), "note": unit.reply_note},
    )
    await live.emit(session, meeting.id, "attendance", await live.attendance_payload(session, meeting))
    return unit


async def decline_unit(session: AsyncSession, *, principal: Principal, meeting_id: int, unit_id: int, reason: str) -> MeetingUnit:
    acc = await access_for(session, principal, meeting_id, for_update=True)
    unit = _responder_unit(acc, unit_id)
    require_status(acc.meeting, *PREPARING)
    unit.reply = UnitReply.declined
    unit.reply_note = _text(reason, _l("Give the reason for your absence."), limit=2000)
    unit.replied_by, unit.replied_at = principal.user.id, utcnow()
    await record(
        session,
        actor=principal.actor,
        action="meeting.unit_declined",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=unit.organization_id,
        details={"unit_id": unit.id, "reason": unit.reply_note},
    )
    await live.emit(session, meeting_id, "attendance", await live.attendance_payload(session, acc.meeting))
    return unit


async def reply(session: AsyncSession, *, principal: Principal, meeting_id: int, accept: bool, reason: str = "") -> MeetingParticipant:
    """A participant confirms attendance or sends apologies with a reason (kept for the minutes)."""
    acc = await access_for(session, principal, meeting_id)
    participant = require_participant(acc)
    require_status(acc.meeting, *PREPARING)
    participant.reply = Reply.accepted if accept else Reply.declined
    participant.absence_reason = "" if accept else _text(reason, _l("Give a reason for your absence."), limit=2000)
    await record(
        session,
        actor=principal.actor,
        action="meeting.replied",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"accept": accept, "reason": participant.absence_reason},
    )
    await live.emit(session, meeting_id, "attendance", await live.attendance_payload(session, acc.meeting, participant))
    return participant


# --- documents ------------------------------------------------------------------------------


async def add_document(
    session: AsyncSession,
    *,
    principal: Principal,
    settings: Settings,
    meeting_id: int,
    filename: str,
    data: bytes,
    title: str = "",
    agenda_item_id: int | None = None,
    viewer_ids: Iterable[int] | None = None,
) -> MeetingDocument:
    """Attach a document; with `viewer_ids` only those people (and the organisers) see it."""
    acc = await access_for(session, principal, meeting_id)
    require_organiser(acc)
    require_status(acc.meeting, *PREPARING, MeetingStatus.open)
    checked = check_upload(
        filename=filename, data=data, allowed={PDF, DOCX, PNG, JPEG}, max_bytes=settings.upload_max_bytes, office=OfficeLimits.of(settings)
    )
    if agenda_item_id is not None:
        item = await session.get(AgendaItem, agenda_item_id)
        if item is None or item.meeting_id != meeting_id:
            raise InvalidInput(_l("The agenda item is not in this meeting's programme."))
    sha = BlobStore.for_settings(settings).put(checked.data)
    viewers = sorted(set(viewer_ids or []))
    document = MeetingDocument(
        meeting_id=meeting_id,
        agenda_item_id=agenda_item_id,
        title=(title or checked.filename).strip()[:500],
        filename=checked.filename,
        content_type=checked.content_type,
        sha256=sha,
        size=checked.size,
        restricted=bool(viewers),
        uploaded_by=principal.user.id,
    )
    session.add(document)
    await session.flush()
    for user_id in viewers:
        session.add(MeetingDocumentViewer(document_id=document.id, user_id=user_id))
    await record(
        session,
        actor=principal.actor,
        action="meeting.document_added",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"document_id": document.id, "title": document.title, "sha256": sha, "viewers": viewers or "all"},
    )
    # Titles of restricted documents are not for everyone: the event only says "look again".
    await live.emit(session, meeting_id, "documents", {})
    return document


async def visible_documents(session: AsyncSession, acc: MeetingAccess) -> list[MeetingDocument]:
    query = select(MeetingDocument).where(MeetingDocument.meeting_id == acc.meeting.id).order_by(MeetingDocument.id)
    if not acc.organiser:
        query = query.where(
            or_(
                MeetingDocument.restricted.is_(False),
                MeetingDocument.id.in_(select(MeetingDocumentViewer.document_id).where(MeetingDocumentViewer.user_id == acc.user_id)),
            )
        )
    return list((await session.scalars(query)).all())


async def document_for(session: AsyncSession, *, principal: Principal, meeting_id: int, document_id: int) -> MeetingDocument:
    """A document the principal may open; the download is audited."""
    acc = await access_for(session, principal, meeting_id)
    document = next((d for d in await visible_documents(session, acc) if d.id == document_id), None)
    if document is None:
        raise NotFound(_l("document not found"))
    await record(
        session,
        actor=principal.actor,
        action="meeting.document_downloaded",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={"document_id": document_id},
    )
    return document


# --- lifecycle ------------------------------------------------------------------------------


async def invited_user_ids(session: AsyncSession, meeting: Meeting) -> set[int]:
    """Everyone an announcement goes to: participants and the leaders/clerks of invited units."""
    people = set((await session.scalars(select(MeetingParticipant.user_id).where(MeetingParticipant.meeting_id == meeting.id))).all())
    unit_orgs = (await session.scalars(select(MeetingUnit.organization_id).where(MeetingUnit.meeting_id == meeting.id))).all()
    if unit_orgs:
        people |= set(
            (
                await session.scalars(
                    select(RoleAssignment.user_id).where(
                        RoleAssignment.organization_id.in_(unit_orgs), RoleAssignment.role.in_(RESPONDER_ROLES)
                    )
                )
            ).all()
        )
    return people


async def schedule_meeting(session: AsyncSession, *, principal: Principal, meeting_id: int) -> Meeting:
    """Publish the draft: the workflow then sends the invitation and the reminders."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_organiser(acc)
    meeting = acc.meeting
    require_status(meeting, MeetingStatus.draft)
    if meeting.starts_at <= utcnow():
        raise InvalidInput(_l("The start time is in the past."))
    has_items = await session.scalar(select(AgendaItem.id).where(AgendaItem.meeting_id == meeting.id).limit(1))
    if not has_items:
        raise InvalidInput(_l("Add at least one agenda item first."))
    meeting.status = MeetingStatus.scheduled
    await record(
        session,
        actor=principal.actor,
        action="meeting.scheduled",
        object_type="meeting",
        object_id=meeting.id,
        organization_id=meeting.organization_id,
        details={"starts_at": meeting.starts_at.isoformat()},
    )
    await live.emit(session, meeting.id, "status", live.status_payload(meeting))
    await webhooks.emit(
        session,
        event_type="meeting.scheduled",
        organization_id=meeting.organization_id,
        kind="meeting",
        object_id=meeting.id,
        path=f"/meetings/{meeting.id}",
        data={"starts_at": meeting.starts_at.isoformat(), "ends_at": meeting.ends_at.isoformat()},
    )
    return meeting


async def reschedule_meeting(
    session: AsyncSession,
    *,
    principal: Principal,
    meeting_id: int,
    starts_at: datetime,
    ends_at: datetime,
    reason: str = "",
) -> Meeting:
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_organiser(acc)
    meeting = acc.meeting
    require_status(meeting, *PREPARING)
    _check_times(starts_at, ends_at)
    if starts_at <= utcnow():
        raise InvalidInput(_l("The new time must be in the future."))
    before = meeting.starts_at
    meeting.starts_at, meeting.ends_at = starts_at, ends_at
    meeting.schedule_version += 1
    await record(
        session,
        actor=principal.actor,
        action="meeting.rescheduled",
        object_type="meeting",
        object_id=meeting.id,
        organization_id=meeting.organization_id,
        details={"from": before.isoformat(), "to": starts_at.isoformat(), "reason": (reason or "").strip()},
    )
    await live.emit(session, meeting.id, "status", live.status_payload(meeting))
    return meeting


async def cancel_meeting(session: AsyncSession, *, principal: Principal, meeting_id: int, reason: str) -> Meeting:
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_organiser(acc)
    meeting = acc.meeting
    require_status(meeting, *PREPARING)
    meeting.status = MeetingStatus.cancelled
    meeting.cancelled_at = utcnow()
    meeting.cancel_reason = _text(reason, _l("Give the reason for cancelling."), limit=2000)
    await record(
        session,
        actor=principal.actor,
        action="meeting.cancelled",
        object_type="meeting",
        object_id=meeting.id,
        organization_id=meeting.organization_id,
        details={"reason": meeting.cancel_reason},
    )
    await live.emit(session, meeting.id, "status", live.status_payload(meeting))
    return meeting


async def open_meeting(session: AsyncSession, *, principal: Principal, meeting_id: int) -> Meeting:
    """The chair opens the meeting (khai mạc)."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_chair(acc)
    meeting = acc.meeting
    require_status(meeting, MeetingStatus.scheduled)
    meeting.status, meeting.opened_at = MeetingStatus.open, utcnow()
    # Whoever opens the meeting is in it: the chair, and the secretary beside them (unless
    # the secretary was already marked absent).
    for participant in (
        await session.scalars(
            select(MeetingParticipant).where(
                MeetingParticipant.meeting_id == meeting.id, MeetingParticipant.role.in_([ParticipantRole.chair, ParticipantRole.secretary])
            )
        )
    ).all():
        if participant.attendance == Attendance.present:
            continue
        if participant.role == ParticipantRole.secretary and participant.attendance == Attendance.absent:
            continue
        participant.attendance, participant.in_room = Attendance.present, True
        participant.checked_in_at, participant.checked_in_by = meeting.opened_at, principal.user.id
        await live.emit(session, meeting.id, "attendance", await live.attendance_payload(session, meeting, participant))
    await record(
        session,
        actor=principal.actor,
        action="meeting.opened",
        object_type="meeting",
        object_id=meeting.id,
        organization_id=meeting.organization_id,
        details={"quorum": await live.quorum(session, meeting)},
    )
    await live.emit(session, meeting.id, "status", live.status_payload(meeting))
    return meeting


async def close_meeting(session: AsyncSession, *, principal: Principal, meeting_id: int) -> Meeting:
    """The chair closes the meeting (bế mạc); a running item ends, waiting speakers are cleared."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_chair(acc)
    meeting = acc.meeting
    require_status(meeting, MeetingStatus.open)
    if await session.scalar(select(Poll.id).where(Poll.meeting_id == meeting.id, Poll.status == PollStatus.open).limit(1)):
        raise Conflict(_l("Close the open vote first."))
    now = utcnow()
    for item in (
        await session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id, AgendaItem.status == ItemStatus.running))
    ).all():
        item.status, item.ended_at = ItemStatus.done, now
    for request in (
        await session.scalars(
            select(SpeakerRequest).where(
                SpeakerRequest.meeting_id == meeting.id, SpeakerRequest.status.in_([SpeakerStatus.waiting, SpeakerStatus.speaking])
            )
        )
    ).all():
        request.status = SpeakerStatus.done if request.status == SpeakerStatus.speaking else SpeakerStatus.withdrawn
        request.ended_at = now
    meeting.current_item_id = None
    meeting.status, meeting.closed_at = MeetingStatus.closed, now
    await record(
        session,
        actor=principal.actor,
        action="meeting.closed",
        object_type="meeting",
        object_id=meeting.id,
        organization_id=meeting.organization_id,
        details={"quorum": await live.quorum(session, meeting)},
    )
    await live.emit(session, meeting.id, "agenda", await live.agenda_payload(session, meeting))
    await live.emit(session, meeting.id, "speakers", await live.speakers_payload(session, meeting.id))
    await live.emit(session, meeting.id, "status", live.status_payload(meeting))
    return meeting


# --- lists ---------------------------------------------------------------------------------


async def list_meetings(
    session: AsyncSession,
    *,
    principal: Principal,
    start: datetime | None = None,
    end: datetime | None = None,
    statuses: Iterable[MeetingStatus] | None = None,
    limit: int = 200,
) -> list[Meeting]:
    """Meetings the principal takes part in, organises, or answers for (by start time)."""
    user_id = principal.user.id
    mine = select(MeetingParticipant.meeting_id).where(MeetingParticipant.user_id == user_id)
    conditions = [Meeting.id.in_(mine), Meeting.chair_id == user_id, Meeting.secretary_id == user_id]
    if organiser_orgs := principal.orgs_with(*ORGANISER_ROLES):
        conditions.append(Meeting.organization_id.in_(organiser_orgs))
    if responder_orgs := principal.orgs_with(*RESPONDER_ROLES):
        conditions.append(Meeting.id.in_(select(MeetingUnit.meeting_id).where(MeetingUnit.organization_id.in_(responder_orgs))))
    query = select(Meeting).where(or_(*conditions))
    if start is not None:
        query = query.where(Meeting.ends_at >= start)
    if end is not None:
        query = query.where(Meeting.starts_at < end)
    if statuses:
        query = query.where(Meeting.status.in_(list(statuses)))
    return list((await session.scalars(query.order_by(Meeting.starts_at, Meeting.id).limit(limit))).all())


async def organisation_names(session: AsyncSession, org_ids: set[int]) -> dict[int, str]:
    if not org_ids:
        return {}
    return dict((await session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(org_ids)))).all())
