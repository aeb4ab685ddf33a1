"""The meeting API other domains build on (minutes, tasks, the home page).

`facts` gathers what a biên bản records: the meeting, who chaired and took the minutes, the
agenda with actual times, attendance with absentees and their reasons (per person and per
site), who spoke on which item and for how long, and each vote with its result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import live
from meetings.access import MeetingAccess, access_for, get_meeting, is_participant  # noqa: F401  (re-exported)
from meetings.models import (
    AgendaItem,
    Attendance,
    Meeting,
    MeetingParticipant,
    MeetingStatus,
    Poll,
    PollOption,
    PollStatus,
    SpeakerRequest,
    SpeakerStatus,
)
from services.directory.models import Organization, User

ROLE_ORDER = {"chair": 0, "secretary": 1, "member": 2, "guest": 3}


@dataclass(frozen=True)
class PersonFact:
    user_id: int
    name: str
    position: str
    organization: str
    role: str  # chair | secretary | member | guest
    voting: bool
    present: bool
    in_room: bool
    site: str | None  # the invited unit they attend for
    absence_reason: str
    arrived_at: datetime | None = None
    left_at: datetime | None = None
    substitute_for: str | None = None  # the invited member whose seat they take
    authorisation: str = ""
    substituted_by: str | None = None  # who attends in this member's seat


@dataclass(frozen=True)
class ItemFact:
    id: int
    position: int
    title: str
    presenter: str
    planned_minutes: int
    started_at: datetime | None
    ended_at: datetime | None
    status: str

    @property
    def elapsed_seconds(self) -> int | None:
        if self.started_at and self.ended_at:
            return int((self.ended_at - self.started_at).total_seconds())
        return None


@dataclass(frozen=True)
class SpeechFact:
    user_id: int
    name: str
    organization: str
    agenda_item_id: int | None
    note: str
    granted_at: datetime | None
    ended_at: datetime | None

    @property
    def seconds(self) -> int | None:
        if self.granted_at and self.ended_at:
            return int((self.ended_at - self.granted_at).total_seconds())
        return None


@dataclass(frozen=True)
class PollFact:
    id: int
    agenda_item_id: int | None
    question: str
    visibility: str
    threshold: str
    counts: list[tuple[str, int]]  # (option label, votes), in the options' order
    base: int
    needed: int
    override_reason: str
    present_at_open: int | None
    members_at_open: int | None
    present: int | None
    members: int | None
    voted: int | None
    passed: bool | None
    winner: str | None
    closed_at: datetime | None
    named: list[tuple[str, str]] = field(default_factory=list)  # (name, choice) for named polls only


@dataclass(frozen=True)
class MeetingFacts:
    meeting: Meeting
    organization: Organization
    chair: User
    secretary: User | None
    items: list[ItemFact]
    people: list[PersonFact]
    sites: list[dict[str, object]]
    speeches: list[SpeechFact]
    polls: list[PollFact]
    quorum: dict[str, object]

    @property
    def present(self) -> list[PersonFact]:
        return [p for p in self.people if p.present]

    @property
    def absent(self) -> list[PersonFact]:
        return [p for p in self.people if not p.present]


async def facts(session: AsyncSession, *, meeting_id: int) -> MeetingFacts:
    """Everything the minutes of `meeting_id` record (read only; authorize before calling)."""
    meeting = await get_meeting(session, meeting_id)
    org = await session.get(Organization, meeting.organization_id)
    chair = await session.get(User, meeting.chair_id)
    secretary = await session.get(User, meeting.secretary_id) if meeting.secretary_id else None
    assert org is not None and chair is not None
    agenda = await live.agenda_payload(session, meeting)
    items_by_id = {i.id: i for i in (await session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id))).all()}
    items = [
        ItemFact(
            id=i["id"],
            position=i["position"],
            title=i["title"],
            presenter=i["presenter"],
            planned_minutes=i["planned_minutes"],
            started_at=items_by_id[i["id"]].started_at,
            ended_at=items_by_id[i["id"]].ended_at,
            status=i["status"],
        )
        for i in agenda["items"]
    ]
    sites = await live.sites_payload(session, meeting_id)
    site_names = {s["id"]: s["name"] for s in sites}
    rows = (await session.scalars(select(MeetingParticipant).where(MeetingParticipant.meeting_id == meeting_id))).all()
    cards = await live.people(session, {p.user_id for p in rows})
    names = {p.id: cards[p.user_id]["name"] for p in rows}
    deputies = {p.substitute_for_id: names[p.id] for p in rows if p.substitute_for_id}
    people = [
        PersonFact(
            user_id=p.user_id,
            name=cards[p.user_id]["name"],
            position=cards[p.user_id]["position"],
            organization=cards[p.user_id]["org"],
            role=p.role.value,
            voting=p.voting,
            present=p.attendance == Attendance.present or p.left_at is not None,
            in_room=p.in_room,
            site=str(site_names.get(p.unit_id)) if p.unit_id else None,
            absence_reason=p.absence_reason,
            arrived_at=p.checked_in_at,
            left_at=p.left_at,
            substitute_for=names.get(p.substitute_for_id) if p.substitute_for_id else None,
            authorisation=p.authorisation,
            substituted_by=deputies.get(p.id),
        )
        for p in sorted(rows, key=lambda r: (ROLE_ORDER[r.role.value], r.unit_id or 0, r.id))
    ]
    speech_rows = (
        await session.scalars(
            select(SpeakerRequest)
            .where(
                SpeakerRequest.meeting_id == meeting_id,
                SpeakerRequest.status.in_([SpeakerStatus.done, SpeakerStatus.speaking]),
            )
            .order_by(SpeakerRequest.granted_at, SpeakerRequest.id)
        )
    ).all()
    speaker_cards = await live.people(session, {s.user_id for s in speech_rows})
    speeches = [
        SpeechFact(
            user_id=s.user_id,
            name=speaker_cards[s.user_id]["name"],
            organization=speaker_cards[s.user_id]["org"],
            agenda_item_id=s.agenda_item_id,
            note=s.note,
            granted_at=s.granted_at,
            ended_at=s.ended_at,
        )
        for s in speech_rows
        if s.granted_at
    ]
    polls = []
    for poll in (
        await session.scalars(select(Poll).where(Poll.meeting_id == meeting_id, Poll.status == PollStatus.closed).order_by(Poll.id))
    ).all():
        payload = await live.poll_payload(session, poll)
        options = (await session.scalars(select(PollOption).where(PollOption.poll_id == poll.id).order_by(PollOption.position))).all()
        winner = next((o.label for o in options if o.id == poll.winner_option_id), None)
        polls.append(
            PollFact(
                id=poll.id,
                agenda_item_id=poll.agenda_item_id,
                question=poll.question,
                visibility=poll.visibility.value,
                threshold=poll.threshold.value,
                counts=[(o.label, o.votes) for o in options],
                present=poll.present_at_close,
                base=payload["result"]["base"],
                needed=payload["result"]["needed"],
                override_reason=poll.override_reason or "",
                present_at_open=poll.present_at_open,
                members_at_open=poll.members_at_open,
                members=poll.members_at_close,
                voted=poll.voted_at_close,
                passed=poll.passed,
                winner=winner,
                closed_at=poll.closed_at,
                named=[(n["name"], n["choice"]) for n in payload.get("named", [])],
            )
        )
    return MeetingFacts(
        meeting=meeting,
        organization=org,
        chair=chair,
        secretary=secretary,
        items=items,
        people=people,
        sites=sites,
        speeches=speeches,
        polls=polls,
        quorum=await live.quorum(session, meeting),
    )


async def closed_meetings_without(session: AsyncSession, *, exclude_ids: set[int]) -> list[Meeting]:
    """Closed meetings (for the minutes queue), newest first."""
    query = select(Meeting).where(Meeting.status == MeetingStatus.closed).order_by(Meeting.closed_at.desc())
    return [m for m in (await session.scalars(query)).all() if m.id not in exclude_ids]
