"""Votes (biểu quyết): the chair opens a poll on an item, checked-in voting members vote once,
the chair closes it and the result is recorded with the item and in the audit trail.

Each poll states its rule when it opens (`Threshold`): more than half or two thirds, of the
voting members present or of all voting members invited. Only "in favour" carries a poll:
abstentions and members who do not vote count in the base, so they weigh as not in favour.
A poll opens only with quorum; the chair may override that only with a recorded reason.

Once each: `meeting_poll_voters` has UNIQUE(poll_id, user_id). Secret polls store no link
between a person and a choice: the voter row keeps `option_id` NULL and the choice only adds
one to an option counter. Every vote rewrites *all* options' counters of the poll (adding 0 to
the others), so not even PostgreSQL's row versions (xmin) tell which counter a voter moved.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from sqlalchemy import case, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from meetings import live
from meetings.access import access_for, require_chair, require_participant, require_status
from meetings.models import (
    AgendaItem,
    Attendance,
    Meeting,
    MeetingStatus,
    Poll,
    PollOption,
    PollStatus,
    PollVisibility,
    PollVoter,
    Threshold,
)
from meetings.rules import base_of, decide, needed  # noqa: F401  (re-exported)
from services.audit.service import record
from services.authz import Principal
from services.db import utcnow
from services.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.i18n import _l

STANDARD_OPTIONS = (("yes", "Tán thành"), ("no", "Không tán thành"), ("abstain", "Không biểu quyết"))


async def open_poll(
    session: AsyncSession,
    *,
    principal: Principal,
    meeting_id: int,
    question: str,
    visibility: PollVisibility = PollVisibility.open,
    threshold: Threshold = Threshold.majority_present,
    options: Sequence[str] | None = None,
    allow_change: bool = False,
    agenda_item_id: int | None = None,
    override_reason: str = "",
) -> Poll:
    """Open a poll; `options` None = Tán thành / Không tán thành / Không biểu quyết.

    Without quorum the poll is refused unless the chair gives `override_reason`."""
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_chair(acc)
    require_status(acc.meeting, MeetingStatus.open)
    question = (question or "").strip()
    if not question:
        raise InvalidInput(_l("Enter the question."))
    quorum = await live.quorum(session, acc.meeting)
    reason = (override_reason or "").strip()[:2000] if not quorum["met"] else ""
    if not quorum["met"] and not reason:
        raise Conflict(
            _l(
                "No quorum ({present}/{members} voting members present, {needed} needed): the vote cannot open. "
                "The chair may open it only with a stated reason.",
                present=quorum["voting_present"],
                members=quorum["members"],
                needed=quorum["needed"],
            )
        )
    if await session.scalar(select(Poll.id).where(Poll.meeting_id == meeting_id, Poll.status == PollStatus.open).limit(1)):
        raise Conflict(_l("Another vote is open; close it first."))
    labels = [o.strip() for o in (options or []) if o and o.strip()]
    if options is not None and len(labels) < 2:
        raise InvalidInput(_l("A vote needs at least two options."))
    item_id = agenda_item_id or acc.meeting.current_item_id
    if item_id is not None:
        item = await session.get(AgendaItem, item_id)
        if item is None or item.meeting_id != meeting_id:
            raise InvalidInput(_l("The agenda item is not part of this meeting."))
    poll = Poll(
        meeting_id=meeting_id,
        agenda_item_id=item_id,
        question=question[:1000],
        visibility=visibility,
        threshold=threshold,
        status=PollStatus.open,
        opened_at=utcnow(),
        # A secret ballot cannot be changed: the server does not know which ballot is whose.
        allow_change=allow_change and visibility != PollVisibility.secret,
        present_at_open=quorum["voting_present"],
        members_at_open=quorum["members"],
        override_reason=reason or None,
    )
    session.add(poll)
    await session.flush()
    pairs = [(k, label) for k, label in STANDARD_OPTIONS] if options is None else [("", label[:255]) for label in labels]
    for position, (key, label) in enumerate(pairs, start=1):
        session.add(PollOption(poll_id=poll.id, position=position, label=label, key=key, votes=0))
    await session.flush()
    await record(
        session,
        actor=principal.actor,
        action="meeting.poll_opened",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={
            "poll_id": poll.id,
            "question": poll.question,
            "visibility": visibility.value,
            "threshold": threshold.value,
            "options": [label for _, label in pairs],
            "item_id": item_id,
            "quorum": {k: quorum[k] for k in ("voting_present", "members", "needed", "met")},
        },
    )
    if reason:
        await record(
            session,
            actor=principal.actor,
            action="meeting.poll_quorum_override",
            object_type="meeting",
            object_id=meeting_id,
            organization_id=acc.meeting.organization_id,
            details={
                "poll_id": poll.id,
                "reason": reason,
                "voting_present": quorum["voting_present"],
                "members": quorum["members"],
                "needed": quorum["needed"],
            },
        )
    await live.emit(session, meeting_id, "poll", await live.poll_payload(session, poll))
    return poll


async def _poll(session: AsyncSession, meeting_id: int, poll_id: int, *, for_update: bool = False) -> Poll:
    query = select(Poll).where(Poll.id == poll_id)
    if for_update:
        query = query.with_for_update()
    poll = await session.scalar(query)
    if poll is None or poll.meeting_id != meeting_id:
        raise NotFound(_l("poll not found"))
    return poll


async def vote(session: AsyncSession, *, principal: Principal, meeting_id: int, poll_id: int, option_id: int) -> None:
    """Cast (or, where the chair allowed it, change) the principal's vote."""
    # Lock order (services/db.py): the meeting before its poll. A poll is a part of its meeting,
    # and whoever changes it holds the meeting; locking the poll alone and then the meeting
    # would deadlock with that.
    await session.execute(select(Meeting.id).where(Meeting.id == meeting_id).with_for_update(key_share=True))
    acc = await access_for(session, principal, meeting_id)
    participant = require_participant(acc)
    if not participant.voting:
        raise Forbidden(_l("Guests do not vote."))
    if participant.attendance != Attendance.present:
        raise Forbidden(_l("Check in before voting."))
    poll = await _poll(session, meeting_id, poll_id, for_update=True)
    if poll.status != PollStatus.open:
        raise Conflict(_l("This vote is closed."))
    option = await session.get(PollOption, option_id)
    if option is None or option.poll_id != poll.id:
        raise InvalidInput(_l("Unknown option."))
    secret = poll.visibility == PollVisibility.secret
    existing = await session.scalar(select(PollVoter).where(PollVoter.poll_id == poll.id, PollVoter.user_id == participant.user_id))
    if existing is not None:
        if not poll.allow_change or secret:
            raise Conflict(_l("You have already voted."))
        if existing.option_id == option.id:
            return
        await _tally(session, poll.id, add=option.id, remove=existing.option_id)
        existing.option_id = option.id
        changed = True
    else:
        try:
            async with session.begin_nested():
                session.add(PollVoter(poll_id=poll.id, user_id=participant.user_id, option_id=None if secret else option.id))
        except IntegrityError as exc:  # a concurrent second vote by the same person
            raise Conflict(_l("You have already voted.")) from exc
        await _tally(session, poll.id, add=option.id, remove=None)
        changed = False
    details: dict[str, object] = {"poll_id": poll.id, "changed": changed}
    if not secret:
        details["option_id"] = option.id
    await record(
        session,
        actor=principal.actor,
        action="meeting.voted",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details=details,
    )
    await live.emit(session, meeting_id, "poll", await live.poll_payload(session, poll))


async def _tally(session: AsyncSession, poll_id: int, *, add: int, remove: int | None) -> None:
    # Every option row of the poll is written (see the module docstring).
    delta = case((PollOption.id == add, 1), else_=0)
    if remove is not None:
        delta = case((PollOption.id == add, 1), (PollOption.id == remove, -1), else_=0)
    await session.execute(update(PollOption).where(PollOption.poll_id == poll_id).values(votes=PollOption.votes + delta))


async def close_poll(session: AsyncSession, *, principal: Principal, meeting_id: int, poll_id: int) -> Poll:
    acc = await access_for(session, principal, meeting_id, for_update=True)
    require_chair(acc)
    poll = await _poll(session, meeting_id, poll_id, for_update=True)
    if poll.status != PollStatus.open:
        raise Conflict(_l("This vote is already closed."))
    quorum = await live.quorum(session, acc.meeting)
    options = list((await session.scalars(select(PollOption).where(PollOption.poll_id == poll.id).order_by(PollOption.position))).all())
    voted = await session.scalar(select(func.count()).select_from(PollVoter).where(PollVoter.poll_id == poll.id)) or 0
    present, members = quorum["voting_present"], quorum["members"]
    yes = next((o for o in options if o.key == "yes"), None)
    if yes is not None:
        winner = yes if decide(poll.threshold, yes.votes, present=present, members=members) else None
    else:
        top = max(options, key=lambda o: o.votes)
        unique = sum(1 for o in options if o.votes == top.votes) == 1
        winner = top if unique and decide(poll.threshold, top.votes, present=present, members=members) else None
    poll.status, poll.closed_at = PollStatus.closed, utcnow()
    poll.present_at_close, poll.members_at_close, poll.voted_at_close = present, members, voted
    poll.passed, poll.winner_option_id = winner is not None, winner.id if winner else None
    await record(
        session,
        actor=principal.actor,
        action="meeting.poll_closed",
        object_type="meeting",
        object_id=meeting_id,
        organization_id=acc.meeting.organization_id,
        details={
            "poll_id": poll.id,
            "question": poll.question,
            "item_id": poll.agenda_item_id,
            "counts": {o.label: o.votes for o in options},
            "present": present,
            "members": members,
            "voted": voted,
            "threshold": poll.threshold.value,
            "passed": poll.passed,
            "winner": winner.label if winner else None,
        },
    )
    await live.emit(session, meeting_id, "poll", await live.poll_payload(session, poll))
    return poll


async def results_csv(session: AsyncSession, *, principal: Principal, meeting_id: int, poll_id: int) -> tuple[str, bytes]:
    """The closed poll's result as CSV (UTF-8 with BOM so spreadsheet programs read Vietnamese)."""
    await access_for(session, principal, meeting_id)
    poll = await _poll(session, meeting_id, poll_id)
    if poll.status != PollStatus.closed:
        raise InvalidInput(_l("Export is available once the vote is closed."))
    payload = await live.poll_payload(session, poll)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Nội dung biểu quyết", poll.question])
    writer.writerow(["Hình thức", poll.visibility.value])
    writer.writerow(["Ngưỡng thông qua", poll.threshold.value])
    writer.writerow(["Có mặt (có quyền biểu quyết)", poll.present_at_close])
    writer.writerow(["Tổng số thành viên", poll.members_at_close])
    writer.writerow(["Số người đã biểu quyết", poll.voted_at_close])
    writer.writerow(["Tổng số tính theo quy tắc", payload["result"]["base"]])
    writer.writerow(["Số phiếu tán thành cần để thông qua", payload["result"]["needed"]])
    if poll.override_reason:
        writer.writerow(["Mở khi chưa đủ túc số, lý do", poll.override_reason])
    writer.writerow(["Kết quả", "Thông qua" if poll.passed else "Không thông qua"])
    writer.writerow([])
    writer.writerow(["Phương án", "Số phiếu", "Tỷ lệ so với số có mặt"])
    for option in payload["options"]:
        share = f"{option['votes'] * 100 / poll.present_at_close:.1f}%" if poll.present_at_close else ""
        writer.writerow([option["label"], option["votes"], share])
    if poll.visibility == PollVisibility.named:
        writer.writerow([])
        writer.writerow(["Đại biểu", "Lựa chọn"])
        for row in payload.get("named", []):
            writer.writerow([row["name"], row["choice"]])
    return f"bieu-quyet-{meeting_id}-{poll.id}.csv", ("\ufeff" + buffer.getvalue()).encode("utf-8")
