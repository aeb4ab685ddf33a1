"""The meeting services: preparation, attendance and quorum, live agenda, speakers, votes."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select, text

from meetings import agenda, attendance, polls, scheduling, speakers
from meetings.live import quorum
from meetings.models import Meeting, PollVisibility, PollVoter, Threshold
from meetings.service import facts
from services.audit.models import AuditEntry
from services.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.events.models import Event
from tests.meetings.factory import CHAIR, MEMBERS, SECRETARY, build_meeting, principal


async def _open(database, settings, **kw):  # type: ignore[no-untyped-def]
    built = await build_meeting(database, settings, **kw)
    chair = await principal(database, CHAIR)
    async with database.session() as session:
        await scheduling.open_meeting(session, principal=chair, meeting_id=built.meeting_id)
    return built, chair


async def test_a_meeting_runs_from_check_in_to_a_passed_vote(demo_db, settings) -> None:
    built, chair = await _open(demo_db, settings)
    mid = built.meeting_id
    secretary = await principal(demo_db, SECRETARY)
    members = [await principal(demo_db, u) for u in MEMBERS]
    async with demo_db.session() as session:
        for p in members[:2]:
            await attendance.check_in(session, principal=p, meeting_id=mid)
        meeting = await session.get(Meeting, mid)
        q = await quorum(session, meeting)
        # 5 voting members (chair, secretary, 3 members); the chair and the secretary are present
        # since they opened the meeting: 4 present.
        assert (q["members"], q["voting_present"], q["needed"], q["met"]) == (5, 4, 3, True)
    async with demo_db.session() as session:  # the secretary steps out: still more than half
        await attendance.mark(
            session,
            principal=secretary,
            meeting_id=mid,
            participant_id=(await _participant_id(session, mid, secretary.user.id)),
            present=False,
        )
        meeting = await session.get(Meeting, mid)
        assert (await quorum(session, meeting))["met"] is True
    with pytest.raises(Forbidden):
        async with demo_db.session() as session:  # a member cannot mark others
            await attendance.mark(session, principal=members[0], meeting_id=mid, participant_id=1, present=True)

    async with demo_db.session() as session:
        items = (await facts(session, meeting_id=mid)).items
        await agenda.start_item(session, principal=chair, meeting_id=mid, item_id=items[0].id)
        added = await agenda.add_item(session, principal=chair, meeting_id=mid, title="Ý kiến bổ sung", planned_minutes=5)
        await agenda.reorder(session, principal=chair, meeting_id=mid, item_ids=[items[0].id, added.id, items[1].id, items[2].id])
    with pytest.raises(Forbidden):
        async with demo_db.session() as session:
            await agenda.start_item(session, principal=members[0], meeting_id=mid, item_id=items[1].id)

    async with demo_db.session() as session:
        first = await speakers.request_floor(session, principal=members[0], meeting_id=mid, note="Về chỉ tiêu")
        second = await speakers.request_floor(session, principal=members[1], meeting_id=mid)
    with pytest.raises(Conflict):
        async with demo_db.session() as session:
            await speakers.request_floor(session, principal=members[0], meeting_id=mid)
    async with demo_db.session() as session:
        await speakers.withdraw(session, principal=members[1], meeting_id=mid, request_id=second.id)
        await speakers.grant(session, principal=chair, meeting_id=mid, request_id=first.id)
        await speakers.end_floor(session, principal=chair, meeting_id=mid, request_id=first.id)

    async with demo_db.session() as session:
        poll = await polls.open_poll(
            session,
            principal=chair,
            meeting_id=mid,
            question="Thông qua chương trình phối hợp?",
            visibility=PollVisibility.named,
            threshold=Threshold.majority_present,
        )
    async with demo_db.session() as session:
        from meetings.models import PollOption

        options = {o.key: o.id for o in (await session.scalars(select(PollOption).where(PollOption.poll_id == poll.id))).all()}
        for p in (chair, members[0], members[1]):
            await polls.vote(session, principal=p, meeting_id=mid, poll_id=poll.id, option_id=options["yes"])
        closed = await polls.close_poll(session, principal=chair, meeting_id=mid, poll_id=poll.id)
        assert closed.passed and closed.voted_at_close == 3 and closed.present_at_close == 3
    async with demo_db.session() as session:
        await scheduling.close_meeting(session, principal=chair, meeting_id=mid)
    async with demo_db.session() as session:
        record = await facts(session, meeting_id=mid)
    assert [i.title for i in record.items][:2] == ["Báo cáo sơ kết 6 tháng đầu năm", "Ý kiến bổ sung"]
    assert record.items[0].elapsed_seconds is not None
    assert [s.name for s in record.speeches] == [members[0].me.full_name]
    assert record.polls[0].passed and dict(record.polls[0].counts)["Tán thành"] == 3
    assert len(record.polls[0].named) == 3
    # The secretary left during the meeting: attended, with the leaving time kept.
    assert [p.name for p in record.absent] == [members[2].me.full_name]
    assert next(p for p in record.people if p.role == "secretary").left_at is not None
    async with demo_db.session() as session:
        actions = set((await session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(mid)))).all())
    assert {"meeting.opened", "meeting.poll_closed", "meeting.floor_granted", "meeting.agenda_reordered", "meeting.closed"} <= actions


async def _participant_id(session, meeting_id: int, user_id: int) -> int:  # type: ignore[no-untyped-def]
    from meetings.models import MeetingParticipant

    return await session.scalar(
        select(MeetingParticipant.id).where(MeetingParticipant.meeting_id == meeting_id, MeetingParticipant.user_id == user_id)
    )


async def _poll_with_options(database, chair, mid, **kw):  # type: ignore[no-untyped-def]
    from meetings.models import PollOption

    async with database.session() as session:
        poll = await polls.open_poll(session, principal=chair, meeting_id=mid, question="Biểu quyết?", **kw)
    async with database.session() as session:
        options = {o.key or o.label: o.id for o in (await session.scalars(select(PollOption).where(PollOption.poll_id == poll.id))).all()}
    return poll, options


async def test_double_votes_absentees_and_late_votes_are_refused(demo_db, settings) -> None:
    built, chair = await _open(demo_db, settings)
    mid = built.meeting_id
    voter, absentee = await principal(demo_db, MEMBERS[0]), await principal(demo_db, MEMBERS[1])
    outsider = await principal(demo_db, "tpbentre.chuyenvien")
    async with demo_db.session() as session:
        await attendance.check_in(session, principal=voter, meeting_id=mid)
    poll, options = await _poll_with_options(demo_db, chair, mid)
    async with demo_db.session() as session:
        await polls.vote(session, principal=voter, meeting_id=mid, poll_id=poll.id, option_id=options["yes"])
    with pytest.raises(Conflict):  # twice
        async with demo_db.session() as session:
            await polls.vote(session, principal=voter, meeting_id=mid, poll_id=poll.id, option_id=options["no"])
    with pytest.raises(Forbidden):  # not checked in
        async with demo_db.session() as session:
            await polls.vote(session, principal=absentee, meeting_id=mid, poll_id=poll.id, option_id=options["yes"])
    with pytest.raises(NotFound):  # not a participant at all
        async with demo_db.session() as session:
            await polls.vote(session, principal=outsider, meeting_id=mid, poll_id=poll.id, option_id=options["yes"])
    async with demo_db.session() as session:
        await polls.close_poll(session, principal=chair, meeting_id=mid, poll_id=poll.id)
        await attendance.check_in(session, principal=absentee, meeting_id=mid)
    with pytest.raises(Conflict):  # after closing
        async with demo_db.session() as session:
            await polls.vote(session, principal=absentee, meeting_id=mid, poll_id=poll.id, option_id=options["yes"])
    # The database itself refuses a second row for the same voter.
    with pytest.raises(Exception) as excinfo:
        async with demo_db.session() as session:
            session.add(PollVoter(poll_id=poll.id, user_id=built.users[MEMBERS[0]], option_id=options["no"]))
            await session.flush()
    assert "unique" in str(excinfo.value).lower()
    async with demo_db.session() as session:
        assert await session.scalar(select(PollVoter.option_id).where(PollVoter.poll_id == poll.id)) == options["yes"]


async def test_concurrent_double_votes_count_once(demo_db, settings) -> None:
    built, chair = await _open(demo_db, settings)
    mid = built.meeting_id
    voter = await principal(demo_db, MEMBERS[0])
    async with demo_db.session() as session:
        await attendance.check_in(session, principal=voter, meeting_id=mid)
    poll, options = await _poll_with_options(demo_db, chair, mid)

    async def cast() -> str:
        try:
            async with demo_db.session() as session:
                await polls.vote(session, principal=voter, meeting_id=mid, poll_id=poll.id, option_id=options["yes"])
            return "ok"
        except Conflict:
            return "refused"

    results = await asyncio.gather(*(cast() for _ in range(5)))
    assert sorted(results) == ["ok"] + ["refused"] * 4
    async with demo_db.session() as session:
        closed = await polls.close_poll(session, principal=chair, meeting_id=mid, poll_id=poll.id)
        assert closed.voted_at_close == 1


async def test_vote_may_change_while_open_only_when_the_chair_allows(demo_db, settings) -> None:
    built, chair = await _open(demo_db, settings)
    mid = built.meeting_id
    voter = await principal(demo_db, MEMBERS[0])
    async with demo_db.session() as session:
        await attendance.check_in(session, principal=voter, meeting_id=mid)
    poll, options = await _poll_with_options(demo_db, chair, mid, allow_change=True, options=["Phương án A", "Phương án B"])
    async with demo_db.session() as session:
        await polls.vote(session, principal=voter, meeting_id=mid, poll_id=poll.id, option_id=options["Phương án A"])
    async with demo_db.session() as session:
        await polls.vote(session, principal=voter, meeting_id=mid, poll_id=poll.id, option_id=options["Phương án B"])
        await polls.vote(session, principal=chair, meeting_id=mid, poll_id=poll.id, option_id=options["Phương án B"])
    async with demo_db.session() as session:
        closed = await polls.close_poll(session, principal=chair, meeting_id=mid, poll_id=poll.id)
        record = await facts(session, meeting_id=mid)
    assert dict(record.polls[0].counts) == {"Phương án A": 0, "Phương án B": 2}
    # B has 2 votes; 3 voting members present (chair, secretary, voter): a majority of those present.
    assert closed.passed is True and closed.winner_option_id == options["Phương án B"]


async def test_secret_poll_leaves_no_link_between_voter_and_choice(demo_db, settings) -> None:
    built, chair = await _open(demo_db, settings)
    mid = built.meeting_id
    voters = [await principal(demo_db, u) for u in MEMBERS]
    async with demo_db.session() as session:
        for p in voters:
            await attendance.check_in(session, principal=p, meeting_id=mid)
    async with demo_db.session() as session:
        first_seq = await session.scalar(select(Event.seq).order_by(Event.seq.desc()).limit(1))
    poll, options = await _poll_with_options(
        demo_db, chair, mid, visibility=PollVisibility.secret, allow_change=True, threshold=Threshold.two_thirds_present
    )
    assert poll.allow_change is False  # a secret ballot cannot be changed
    choices = {voters[0].user.id: options["yes"], voters[1].user.id: options["no"], voters[2].user.id: options["yes"]}
    for p in voters:
        async with demo_db.session() as session:
            await polls.vote(session, principal=p, meeting_id=mid, poll_id=poll.id, option_id=choices[p.user.id])
    async with demo_db.session() as session:
        closed = await polls.close_poll(session, principal=chair, meeting_id=mid, poll_id=poll.id)
    # 2 in favour of 5 present (the chair and the secretary since the opening) is less than two thirds.
    assert closed.passed is False and closed.voted_at_close == 3
    async with demo_db.session() as session:
        # No table row holds a choice next to a voter.
        assert set((await session.scalars(select(PollVoter.option_id).where(PollVoter.poll_id == poll.id))).all()) == {None}
        columns = await session.run_sync(lambda s: {c["name"] for c in sa_inspect(s.connection()).get_columns("meeting_poll_options")})
        assert columns == {"id", "poll_id", "position", "label", "key", "votes"}
        if not demo_db.is_sqlite:
            # Every vote rewrites every option row: row versions do not reveal which option moved.
            xmins = set(
                (await session.execute(text("SELECT xmin::text FROM meeting_poll_options WHERE poll_id = :p"), {"p": poll.id})).scalars()
            )
            assert len(xmins) == 1
        # No event and no audit entry carries a voter with a choice.
        events = (await session.scalars(select(Event).where(Event.seq > first_seq))).all()
        audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.voted"))).all()
    for event in events:
        payload = json.loads(event.payload)
        assert "named" not in payload
        if payload.get("status") == "open":
            assert all("votes" not in o for o in payload.get("options", []))
    for entry in audit:
        details = json.loads(entry.details)
        assert "option_id" not in details and set(details) == {"poll_id", "changed"}
    option_ids = set(options.values())
    for event in events:
        blob = event.payload
        for user_id in choices:
            assert f'"user_id": {user_id}' not in blob or not any(f'"option_id": {o}' in blob for o in option_ids)


async def test_only_the_chair_controls_and_outsiders_see_nothing(demo_db, settings) -> None:
    built, chair = await _open(demo_db, settings)
    mid = built.meeting_id
    member, outsider = await principal(demo_db, MEMBERS[0]), await principal(demo_db, "mocaynam.chuyenvien")
    for call in (
        lambda s: polls.open_poll(s, principal=member, meeting_id=mid, question="?"),
        lambda s: scheduling.close_meeting(s, principal=member, meeting_id=mid),
        lambda s: agenda.add_item(s, principal=member, meeting_id=mid, title="x"),
    ):
        with pytest.raises(Forbidden):
            async with demo_db.session() as session:
                await call(session)
    with pytest.raises(NotFound):
        async with demo_db.session() as session:
            await attendance.check_in(session, principal=outsider, meeting_id=mid)


async def test_invited_unit_names_its_attendees_and_they_may_check_in(demo_db, settings) -> None:
    built = await build_meeting(demo_db, settings, units=("hlhpn-chauthanh", "hlhpn-mocaynam"))
    mid = built.meeting_id
    district_leader = await principal(demo_db, "chauthanh.chutich")
    async with demo_db.session() as session:
        acc = await scheduling.access_for(session, district_leader, mid)
        unit_id = acc.responder_units[0].id
        await scheduling.name_attendees(
            session,
            principal=district_leader,
            meeting_id=mid,
            unit_id=unit_id,
            user_ids=[built.users["chauthanh.chutich"], built.users["chauthanh.chuyenvien"]],
        )
    with pytest.raises(InvalidInput):  # someone from another district
        async with demo_db.session() as session:
            await scheduling.name_attendees(
                session, principal=district_leader, meeting_id=mid, unit_id=unit_id, user_ids=[built.users["mocaynam.chuyenvien"]]
            )
    mocaynam = await principal(demo_db, "mocaynam.vanthu")
    async with demo_db.session() as session:
        acc = await scheduling.access_for(session, mocaynam, mid)
        await scheduling.decline_unit(
            session,
            principal=mocaynam,
            meeting_id=mid,
            unit_id=acc.responder_units[0].id,
            reason="Trùng lịch tiếp đoàn kiểm tra của Huyện ủy",
        )
    attendee = await principal(demo_db, "chauthanh.chuyenvien")
    async with demo_db.session() as session:
        await attendance.check_in(session, principal=attendee, meeting_id=mid)
        record = await facts(session, meeting_id=mid)
    sites = {s["name"]: s for s in record.sites}
    assert sites["Hội LHPN huyện Châu Thành"]["attendees"] == 2 and sites["Hội LHPN huyện Châu Thành"]["present"] == 1
    assert sites["Hội LHPN huyện Mỏ Cày Nam"]["reply"] == "declined"
