"""Who may do what in a meeting: one place for every meeting authorization decision.

- *participants* (people invited by name, chair and secretary included, and the attendees an
  invited unit named) see the meeting, follow its live channel and take part;
- *organisers* (chair, secretary, and the organiser's leaders, clerks, secretaries, admins)
  prepare it;
- *responders* (leaders and clerks of an invited unit) name who attends for their unit;
- only the *chair* controls the live meeting; the secretary (or chair) marks attendance.
Outside these, a meeting answers "not found" so its existence is not disclosed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, bindparam, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.models import Meeting, MeetingParticipant, MeetingStatus, MeetingUnit
from services.authz import Principal
from services.db import Reader
from services.directory.models import LEADERS, ORGANISERS, Role
from services.errors import Forbidden, InvalidInput, NotFound
from services.i18n import _l

ORGANISER_ROLES = ORGANISERS
RESPONDER_ROLES = (*LEADERS, Role.clerk, Role.admin)


@dataclass
class MeetingAccess:
    meeting: Meeting
    user_id: int
    participant: MeetingParticipant | None
    organiser: bool
    responder_units: list[MeetingUnit] = field(default_factory=list)
    org_member: bool = False

    @property
    def is_chair(self) -> bool:
        return self.meeting.chair_id == self.user_id

    @property
    def is_secretary(self) -> bool:
        return self.meeting.secretary_id == self.user_id

    @property
    def is_participant(self) -> bool:
        return self.participant is not None

    @property
    def can_view(self) -> bool:
        return self.is_participant or self.organiser or bool(self.responder_units)

    @property
    def can_project(self) -> bool:
        """The projector view: participants and members of the organising organisation."""
        return self.can_view or self.org_member


def not_found() -> NotFound:
    return NotFound(_l("meeting not found"))


async def get_meeting(session: AsyncSession, meeting_id: int, *, for_update: bool = False) -> Meeting:
    query = select(Meeting).where(Meeting.id == meeting_id)
    if for_update:
        query = query.with_for_update()
    meeting = await session.scalar(query)
    if meeting is None:
        raise not_found()
    return meeting


async def access_for(session: AsyncSession, principal: Principal, meeting_id: int, *, for_update: bool = False) -> MeetingAccess:
    """The principal's standing in a meeting; NotFound when they may not even see it."""
    meeting = await get_meeting(session, meeting_id, for_update=for_update)
    acc = await standing(session, principal, meeting)
    if not acc.can_view:
        raise not_found()
    return acc


async def standing(session: AsyncSession, principal: Principal, meeting: Meeting) -> MeetingAccess:
    user_id = principal.user.id
    participant = await session.scalar(
        select(MeetingParticipant).where(MeetingParticipant.meeting_id == meeting.id, MeetingParticipant.user_id == user_id)
    )
    organiser = user_id in (meeting.chair_id, meeting.secretary_id) or meeting.organization_id in principal.orgs_with(*ORGANISER_ROLES)
    responder_orgs = principal.orgs_with(*RESPONDER_ROLES)
    units = []
    if responder_orgs:
        units = list(
            (
                await session.scalars(
                    select(MeetingUnit).where(MeetingUnit.meeting_id == meeting.id, MeetingUnit.organization_id.in_(responder_orgs))
                )
            ).all()
        )
    return MeetingAccess(
        meeting=meeting,
        user_id=user_id,
        participant=participant,
        organiser=organiser,
        responder_units=units,
        org_member=meeting.organization_id in principal.roles,
    )


_participants = MeetingParticipant.__table__


def takes_part(user_id: ColumnElement[int], meeting_id: ColumnElement[int]) -> ColumnElement[bool]:
    """Whether the user takes part in the meeting, as one SQL truth: the live channel asks it in
    the statement that looks up the connecting phone's session (web/live.py)."""
    return exists().where(_participants.c.meeting_id == meeting_id, _participants.c.user_id == user_id)


# Built once (its cache key too).
_PARTICIPANT = select(takes_part(bindparam("user"), bindparam("meeting")))


async def is_participant(reader: Reader, *, meeting_id: int, user_id: int) -> bool:
    return bool(await reader.scalar(_PARTICIPANT, {"meeting": meeting_id, "user": user_id}))


def require_chair(acc: MeetingAccess) -> None:
    if not acc.is_chair:
        raise Forbidden(_l("Only the chair can do this."))


def require_chair_or_secretary(acc: MeetingAccess) -> None:
    if not (acc.is_chair or acc.is_secretary):
        raise Forbidden(
            _l("Only the chair or the secretary can do this."),
        )


def require_organiser(acc: MeetingAccess) -> None:
    if not acc.organiser:
        raise Forbidden(
            _l("Only the meeting's organisers can prepare it."),
        )


def require_participant(acc: MeetingAccess) -> MeetingParticipant:
    if acc.participant is None:
        raise Forbidden(_l("You are not a participant of this meeting."))
    return acc.participant


def require_status(meeting: Meeting, *allowed: MeetingStatus) -> None:
    if meeting.status not in allowed:
        messages = {
            MeetingStatus.draft: _l("The meeting is not scheduled yet. This action is not possible now."),
            MeetingStatus.scheduled: _l("The meeting has not been opened yet. This action is not possible now."),
            MeetingStatus.open: _l("The meeting is in progress. This action is not possible now."),
            MeetingStatus.closed: _l("The meeting has been closed. This action is not possible now."),
            MeetingStatus.cancelled: _l("The meeting has been cancelled. This action is not possible now."),
        }
        raise InvalidInput(messages[meeting.status])
