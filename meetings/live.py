"""The meeting's live channel: what each event carries and the snapshot a page starts from.

Every change publishes one event on `meeting-<id>` in the same transaction. An event carries
the whole public piece it changed (the agenda, the speaker queue, one poll, one person's
attendance with the counts), so applying an event twice or after a snapshot is harmless.
Nothing on the channel links a person to a choice in a secret poll.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.models import (
    AgendaItem,
    Attendance,
    Meeting,
    MeetingParticipant,
    MeetingUnit,
    Poll,
    PollOption,
    PollStatus,
    PollVisibility,
    PollVoter,
    SpeakerRequest,
    SpeakerStatus,
)
from meetings.rules import base_of, needed
from services.db import utcnow
from services.directory.models import Organization, User
from services.events import service as events


def channel(meeting_id: int) -> str:
    return f"meeting-{meeting_id}"


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def emit(session: AsyncSession, meeting_id: int, kind: str, payload: dict[str, Any]) -> None:
    """Publish one meeting event (with the caller's transaction)."""
    await events.publish(session, channel=channel(meeting_id), kind=kind, payload={**payload, "now": iso(utcnow())})


async def people(session: AsyncSession, user_ids: set[int]) -> dict[int, dict[str, Any]]:
    """Display cards: name, position, organisation."""
    if not user_ids:
        return {}
    rows = (
        await session.execute(
            select(User.id, User.full_name, User.position, Organization.name)
            .join(Organization, Organization.id == User.organization_id)
            .where(User.id.in_(user_ids))
        )
    ).all()
    return {uid: {"id": uid, "name": name, "position": position or "", "org": org} for uid, name, position, org in rows}


# --- payloads ------------------------------------------------------------------------------


async def agenda_payload(session: AsyncSession, meeting: Meeting) -> dict[str, Any]:
    items = (
        await session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == meeting.id).order_by(AgendaItem.position, AgendaItem.id))
    ).all()
    cards = await people(session, {i.presenter_id for i in items if i.presenter_id})
    return {
        "current_item_id": meeting.current_item_id,
        "items": [
            {
                "id": i.id,
                "position": i.position,
                "title": i.title,
                "presenter": cards[i.presenter_id]["name"] if i.presenter_id in cards else i.presenter_name,
                "planned_minutes": i.planned_minutes,
                "status": i.status.value,
                "started_at": iso(i.started_at),
                "ended_at": iso(i.ended_at),
            }
            for i in items
        ],
    }


async def speakers_payload(session: AsyncSession, meeting_id: int) -> dict[str, Any]:
    rows = (
        await session.scalars(
            select(SpeakerRequest)
            .where(
                SpeakerRequest.meeting_id == meeting_id,
                SpeakerRequest.status.in_([SpeakerStatus.waiting, SpeakerStatus.speaking]),
            )
            .order_by(SpeakerRequest.requested_at, SpeakerRequest.id)
        )
    ).all()
    cards = await people(session, {r.user_id for r in rows})
    items = {i.id: i.title for i in (await session.scalars(select(AgendaItem).where(AgendaItem.meeting_id == meeting_id))).all()}

    def card(r: SpeakerRequest) -> dict[str, Any]:
        return {
            "id": r.id,
            "user_id": r.user_id,
            "name": cards.get(r.user_id, {}).get("name", ""),
            "org": cards.get(r.user_id, {}).get("org", ""),
            "agenda_item_id": r.agenda_item_id,
            "agenda_item": items.get(r.agenda_item_id or 0, ""),
            "note": r.note,
            "status": r.status.value,
            "requested_at": iso(r.requested_at),
            "granted_at": iso(r.granted_at),
        }

    speaking = next((card(r) for r in rows if r.status == SpeakerStatus.speaking), None)
    return {"speaking": speaking, "queue": [card(r) for r in rows if r.status == SpeakerStatus.waiting]}


async def quorum(session: AsyncSession, meeting: Meeting) -> dict[str, Any]:
    """Attendance counts and quorum. The base is the voting members invited by name: delegates
    named by invited units have no vote and a substitute sits in an invited member's seat, so
    neither moves it while people arrive or units answer."""
    rows = (
        await session.execute(
            select(
                MeetingParticipant.attendance, MeetingParticipant.voting, MeetingParticipant.substitute_for_id.is_not(None), func.count()
            )
            .where(MeetingParticipant.meeting_id == meeting.id)
            .group_by(MeetingParticipant.attendance, MeetingParticipant.voting, MeetingParticipant.substitute_for_id.is_not(None))
        )
    ).all()
    total = sum(n for *_, n in rows)
    present = sum(n for a, _, _, n in rows if a == Attendance.present)
    members = sum(n for _, v, sub, n in rows if v and not sub)
    voting_present = sum(n for a, v, _, n in rows if v and a == Attendance.present)
    # Quorum: strictly more than `ratio` of the voting members (0.5 = more than half).
    needed = int(members * meeting.quorum_ratio) + 1 if members else 0
    return {
        "participants": total,
        "present": present,
        "members": members,
        "voting_present": voting_present,
        "needed": needed,
        "ratio": meeting.quorum_ratio,
        "met": members > 0 and voting_present >= needed,
    }


async def sites_payload(session: AsyncSession, meeting_id: int) -> list[dict[str, Any]]:
    units = (
        await session.execute(
            select(MeetingUnit, Organization.name)
            .join(Organization, Organization.id == MeetingUnit.organization_id)
            .where(MeetingUnit.meeting_id == meeting_id)
            .order_by(Organization.name)
        )
    ).all()
    counts = dict(
        (
            await session.execute(
                select(MeetingParticipant.unit_id, func.count())
                .where(MeetingParticipant.meeting_id == meeting_id, MeetingParticipant.unit_id.is_not(None))
                .group_by(MeetingParticipant.unit_id)
            )
        ).all()
    )
    present = dict(
        (
            await session.execute(
                select(MeetingParticipant.unit_id, func.count())
                .where(
                    MeetingParticipant.meeting_id == meeting_id,
                    MeetingParticipant.unit_id.is_not(None),
                    MeetingParticipant.attendance == Attendance.present,
                )
                .group_by(MeetingParticipant.unit_id)
            )
        ).all()
    )
    return [
        {
            "id": u.id,
            "org_id": u.organization_id,
            "name": name,
            "reply": u.reply.value,
            "site_present": u.site_present,
            "attendees": counts.get(u.id, 0),
            "present": present.get(u.id, 0),
        }
        for u, name in units
    ]


def participant_card(p: MeetingParticipant, card: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": p.id,
        "user_id": p.user_id,
        "name": card.get("name", ""),
        "position": card.get("position", ""),
        "org": card.get("org", ""),
        "role": p.role.value,
        "voting": p.voting,
        "unit_id": p.unit_id,
        "attendance": p.attendance.value,
        "in_room": p.in_room,
        "reply": p.reply.value,
        "absence_reason": p.absence_reason,
        "checked_in_at": iso(p.checked_in_at),
        "left_at": iso(p.left_at),
        "substitute_for_id": p.substitute_for_id,
        "authorisation": p.authorisation,
    }


async def attendance_payload(session: AsyncSession, meeting: Meeting, changed: MeetingParticipant | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {"quorum": await quorum(session, meeting), "sites": await sites_payload(session, meeting.id)}
    if changed is not None:
        payload["participant"] = participant_card(changed, (await people(session, {changed.user_id})).get(changed.user_id, {}))
    return payload


async def participants_list(session: AsyncSession, meeting_id: int) -> list[dict[str, Any]]:
    rows = (
        await session.scalars(select(MeetingParticipant).where(MeetingParticipant.meeting_id == meeting_id).order_by(MeetingParticipant.id))
    ).all()
    cards = await people(session, {p.user_id for p in rows})
    order = {"chair": 0, "secretary": 1, "member": 2, "guest": 3}
    out = [participant_card(p, cards.get(p.user_id, {})) for p in rows]
    return sorted(out, key=lambda c: (order[c["role"]], c["unit_id"] or 0, c["name"]))


async def poll_payload(session: AsyncSession, poll: Poll) -> dict[str, Any]:
    """A poll as everyone may see it: counts only once closed; names only for named polls."""
    options = (await session.scalars(select(PollOption).where(PollOption.poll_id == poll.id).order_by(PollOption.position))).all()
    turnout = await session.scalar(select(func.count()).select_from(PollVoter).where(PollVoter.poll_id == poll.id)) or 0
    closed = poll.status == PollStatus.closed
    payload: dict[str, Any] = {
        "id": poll.id,
        "question": poll.question,
        "agenda_item_id": poll.agenda_item_id,
        "visibility": poll.visibility.value,
        "threshold": poll.threshold.value,
        "allow_change": poll.allow_change,
        "status": poll.status.value,
        "turnout": turnout,
        "opened_at": iso(poll.opened_at),
        "closed_at": iso(poll.closed_at),
        "present_at_open": poll.present_at_open,
        "members_at_open": poll.members_at_open,
        "override_reason": poll.override_reason or "",
        "options": [{"id": o.id, "label": o.label, "key": o.key, **({"votes": o.votes} if closed else {})} for o in options],
    }
    if closed:
        base = base_of(poll.threshold, present=poll.present_at_close or 0, members=poll.members_at_close or 0)
        payload["result"] = {
            "present": poll.present_at_close,
            "members": poll.members_at_close,
            "voted": poll.voted_at_close,
            "passed": poll.passed,
            "winner_option_id": poll.winner_option_id,
            "base": base,
            "needed": needed(poll.threshold, base),
        }
        if poll.visibility == PollVisibility.named:
            voters = (await session.execute(select(PollVoter.user_id, PollVoter.option_id).where(PollVoter.poll_id == poll.id))).all()
            cards = await people(session, {u for u, _ in voters})
            labels = {o.id: o.label for o in options}
            payload["named"] = sorted(
                ({"name": cards.get(u, {}).get("name", ""), "choice": labels.get(o or 0, "")} for u, o in voters),
                key=lambda v: v["name"],
            )
    return payload


def status_payload(meeting: Meeting) -> dict[str, Any]:
    return {
        "status": meeting.status.value,
        "starts_at": iso(meeting.starts_at),
        "ends_at": iso(meeting.ends_at),
        "opened_at": iso(meeting.opened_at),
        "closed_at": iso(meeting.closed_at),
    }


# --- snapshot ------------------------------------------------------------------------------


async def snapshot(session: AsyncSession, meeting: Meeting, *, user_id: int | None, projector: bool = False) -> dict[str, Any]:
    """The state a live page starts from, with the sequence number to follow from."""
    seq = await events.last_seq(session)
    polls = (await session.scalars(select(Poll).where(Poll.meeting_id == meeting.id).order_by(Poll.id))).all()
    state: dict[str, Any] = {
        "seq": seq,
        "now": iso(utcnow()),
        "meeting": {"id": meeting.id, "title": meeting.title, **status_payload(meeting)},
        "agenda": await agenda_payload(session, meeting),
        "speakers": await speakers_payload(session, meeting.id),
        "attendance": {"quorum": await quorum(session, meeting), "sites": await sites_payload(session, meeting.id)},
        "polls": [await poll_payload(session, p) for p in polls],
    }
    if projector:
        return state
    state["participants"] = await participants_list(session, meeting.id)
    me: dict[str, Any] = {"user_id": user_id, "participant": None, "votes": {}}
    if user_id is not None:
        mine = next((p for p in state["participants"] if p["user_id"] == user_id), None)
        me["participant"] = mine
        me["is_chair"] = meeting.chair_id == user_id
        me["is_secretary"] = meeting.secretary_id == user_id
        rows = (
            await session.execute(
                select(PollVoter.poll_id, PollVoter.option_id)
                .join(Poll, Poll.id == PollVoter.poll_id)
                .where(Poll.meeting_id == meeting.id, PollVoter.user_id == user_id)
            )
        ).all()
        # A secret ballot's choice is not stored: the page only learns that the person voted.
        me["votes"] = {str(pid): {"voted": True, "option_id": oid} for pid, oid in rows}
    state["me"] = me
    return state
