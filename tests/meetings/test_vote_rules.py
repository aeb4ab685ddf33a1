"""Vote rules at their boundaries, the quorum gate and its override, and attendance: chair and
secretary present at opening, a stable quorum base, substitutes, leaving times, site clerks."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from meetings import attendance, polls, scheduling
from meetings.live import quorum
from meetings.minutes.document import attendance_lines, build_spec, closing_lines, poll_line
from meetings.models import Meeting, MeetingParticipant, PollOption, Threshold
from meetings.rules import decide, needed
from meetings.service import facts
from services.audit.models import AuditEntry
from services.errors import Conflict, Forbidden, InvalidInput
from tests.meetings.factory import CHAIR, MEMBERS, SECRETARY, build_meeting, principal

T = Threshold


@pytest.mark.parametrize(
    ("threshold", "present", "members", "fails", "passes"),
    [
        (T.majority_present, 10, 16, 5, 6),  # more than half of 10: 6
        (T.majority_present, 9, 16, 4, 5),
        (T.majority_present, 1, 16, 0, 1),  # the rule alone; quorum is checked when the vote opens
        (T.majority_members, 3, 16, 8, 9),  # of all 16, whoever is present
        (T.majority_members, 16, 7, 3, 4),
        (T.two_thirds_members, 12, 16, 10, 11),  # 2/3 of 16 = 10.67: 11
        (T.two_thirds_members, 9, 9, 5, 6),  # exactly two thirds carries
        (T.two_thirds_present, 3, 16, 1, 2),
        (T.two_thirds_present, 7, 16, 4, 5),
    ],
)
def test_each_rule_at_its_boundary(threshold: Threshold, present: int, members: int, fails: int, passes: int) -> None:
    assert decide(threshold, fails, present=present, members=members) is False
    assert decide(threshold, passes, present=present, members=members) is True


def test_no_base_passes_nothing() -> None:
    assert decide(T.majority_present, 0, present=0, members=5) is False
    assert decide(T.two_thirds_members, 3, present=3, members=0) is False
    assert needed(T.majority_members, 16) == 9 and needed(T.two_thirds_members, 16) == 11


async def _pid(session, meeting_id: int, user_id: int) -> int:  # type: ignore[no-untyped-def]
    return await session.scalar(
        select(MeetingParticipant.id).where(MeetingParticipant.meeting_id == meeting_id, MeetingParticipant.user_id == user_id)
    )


async def _opened(database, settings, **kw):  # type: ignore[no-untyped-def]
    built = await build_meeting(database, settings, **kw)
    chair = await principal(database, CHAIR)
    async with database.session() as session:
        await scheduling.open_meeting(session, principal=chair, meeting_id=built.meeting_id)
    return built, chair


async def _vote_and_close(database, chair, mid, threshold, ballots, reason=""):  # type: ignore[no-untyped-def]
    """Open a yes/no/abstain poll, cast `ballots` [(principal, key)], close it."""
    async with database.session() as session:
        poll = await polls.open_poll(
            session, principal=chair, meeting_id=mid, question=f"Biểu quyết {threshold.value}?", threshold=threshold, override_reason=reason
        )
    async with database.session() as session:
        options = {o.key: o.id for o in (await session.scalars(select(PollOption).where(PollOption.poll_id == poll.id))).all()}
        for who, key in ballots:
            await polls.vote(session, principal=who, meeting_id=mid, poll_id=poll.id, option_id=options[key])
    async with database.session() as session:
        return await polls.close_poll(session, principal=chair, meeting_id=mid, poll_id=poll.id)


async def test_the_chair_and_secretary_are_present_once_the_meeting_opens(demo_db, settings) -> None:
    built, _ = await _opened(demo_db, settings)
    async with demo_db.session() as session:
        record = await facts(session, meeting_id=built.meeting_id)
    roles = {p.role: p for p in record.people if p.role in ("chair", "secretary")}
    assert roles["chair"].present and roles["secretary"].present
    assert roles["chair"].arrived_at is not None
    text = " ".join(attendance_lines(record))
    assert record.chair.full_name in text.split("Đại biểu vắng mặt")[0]


async def test_a_vote_without_quorum_is_refused_and_an_override_needs_a_reason(demo_db, settings) -> None:
    built = await build_meeting(demo_db, settings)
    mid = built.meeting_id
    chair, secretary = await principal(demo_db, CHAIR), await principal(demo_db, SECRETARY)
    async with demo_db.session() as session:  # the secretary sent apologies: only the chair is there
        await attendance.mark(
            session,
            principal=chair,
            meeting_id=mid,
            present=False,
            reason="Đi công tác",
            participant_id=await _pid(session, mid, secretary.user.id),
        )
        await scheduling.open_meeting(session, principal=chair, meeting_id=mid)
    with pytest.raises(Conflict, match="No quorum"):
        async with demo_db.session() as session:
            await polls.open_poll(session, principal=chair, meeting_id=mid, question="Thông qua?")
    with pytest.raises(Conflict):  # a blank reason is no reason
        async with demo_db.session() as session:
            await polls.open_poll(session, principal=chair, meeting_id=mid, question="Thông qua?", override_reason="   ")
    closed = await _vote_and_close(
        demo_db, chair, mid, T.majority_present, [(chair, "yes")], reason="Lấy ý kiến sơ bộ, sẽ biểu quyết lại tại kỳ họp sau"
    )
    assert (closed.present_at_open, closed.members_at_open) == (1, 5)
    assert closed.override_reason == "Lấy ý kiến sơ bộ, sẽ biểu quyết lại tại kỳ họp sau"
    async with demo_db.session() as session:
        audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "meeting.poll_quorum_override"))).all()
        record = await facts(session, meeting_id=mid)
    assert len(audit) == 1 and "kỳ họp sau" in audit[0].details
    line = poll_line(record.polls[0])
    assert "chưa đủ túc số (1/5" in line and "kỳ họp sau" in line


async def test_rules_at_their_boundary_through_the_service(demo_db, settings) -> None:
    built, chair = await _opened(demo_db, settings)
    mid = built.meeting_id
    secretary = await principal(demo_db, SECRETARY)
    members = [await principal(demo_db, u) for u in MEMBERS]
    async with demo_db.session() as session:
        await attendance.check_in(session, principal=members[0], meeting_id=mid)
    # 5 members, 3 present (chair, secretary, one member).
    # More than half of those present (3): 2 carries, abstentions count as not in favour.
    passed = await _vote_and_close(demo_db, chair, mid, T.majority_present, [(chair, "yes"), (secretary, "yes"), (members[0], "abstain")])
    failed = await _vote_and_close(
        demo_db, chair, mid, T.majority_present, [(chair, "yes"), (secretary, "abstain"), (members[0], "abstain")]
    )
    assert passed.passed is True and failed.passed is False
    # More than half of all 5 members: 3 needed even though only 3 are present.
    assert (
        await _vote_and_close(demo_db, chair, mid, T.majority_members, [(chair, "yes"), (secretary, "yes"), (members[0], "yes")])
    ).passed
    assert not (
        await _vote_and_close(demo_db, chair, mid, T.majority_members, [(chair, "yes"), (secretary, "yes"), (members[0], "no")])
    ).passed
    # Two thirds of all 5: 4 needed; 3 of 3 present is not enough.
    assert not (
        await _vote_and_close(demo_db, chair, mid, T.two_thirds_members, [(chair, "yes"), (secretary, "yes"), (members[0], "yes")])
    ).passed
    async with demo_db.session() as session:
        await attendance.check_in(session, principal=members[1], meeting_id=mid)
    assert (
        await _vote_and_close(
            demo_db, chair, mid, T.two_thirds_members, [(chair, "yes"), (secretary, "yes"), (members[0], "yes"), (members[1], "yes")]
        )
    ).passed
    async with demo_db.session() as session:
        record = await facts(session, meeting_id=mid)
    line = poll_line(record.polls[-1])
    assert "ít nhất hai phần ba tổng số thành viên" in line and "Tổng số tính: 5 thành viên, cần ít nhất 4" in line
    assert "Tán thành: 4" in line and "THÔNG QUA" in line


async def test_the_quorum_base_stays_while_units_name_delegates(demo_db, settings) -> None:
    built, chair = await _opened(demo_db, settings)
    mid = built.meeting_id
    district = await principal(demo_db, "chauthanh.chutich")
    async with demo_db.session() as session:
        before = await quorum(session, await session.get(Meeting, mid))
        unit_id = (await scheduling.access_for(session, district, mid)).responder_units[0].id
        await scheduling.name_attendees(
            session,
            principal=district,
            meeting_id=mid,
            unit_id=unit_id,
            user_ids=[built.users["chauthanh.chutich"], built.users["chauthanh.chuyenvien"]],
        )
    delegate = await principal(demo_db, "chauthanh.chuyenvien")
    async with demo_db.session() as session:
        await attendance.check_in(session, principal=delegate, meeting_id=mid)
        after = await quorum(session, await session.get(Meeting, mid))
    assert (before["members"], before["needed"]) == (after["members"], after["needed"]) == (5, 3)
    assert after["present"] == before["present"] + 1 and after["voting_present"] == before["voting_present"]


async def test_a_site_clerk_marks_only_the_delegates_of_that_site(demo_db, settings) -> None:
    built, chair = await _opened(demo_db, settings)
    mid = built.meeting_id
    clerk = await principal(demo_db, "chauthanh.vanthu")
    async with demo_db.session() as session:
        unit_id = (await scheduling.access_for(session, clerk, mid)).responder_units[0].id
        await scheduling.name_attendees(
            session, principal=clerk, meeting_id=mid, unit_id=unit_id, user_ids=[built.users["chauthanh.chuyenvien"]]
        )
    async with demo_db.session() as session:
        delegate = await _pid(session, mid, built.users["chauthanh.chuyenvien"])
        await attendance.mark(session, principal=clerk, meeting_id=mid, participant_id=delegate, present=True)
        await attendance.mark_site(session, principal=clerk, meeting_id=mid, unit_id=unit_id, present=True)
    with pytest.raises(Forbidden):  # a member invited by name is not the site's to mark
        async with demo_db.session() as session:
            await attendance.mark(
                session, principal=clerk, meeting_id=mid, present=True, participant_id=await _pid(session, mid, built.users[MEMBERS[0]])
            )
    async with demo_db.session() as session:
        record = await facts(session, meeting_id=mid)
    assert record.sites[0]["present"] == 1 and record.sites[0]["site_present"] is True


async def test_a_substitute_sits_in_an_invited_members_seat(demo_db, settings) -> None:
    built, chair = await _opened(demo_db, settings)
    mid = built.meeting_id
    secretary = await principal(demo_db, SECRETARY)
    absent_member = await principal(demo_db, MEMBERS[0])
    deputy_name = "mai.tran"  # the province's clerk, of the member's organisation
    async with demo_db.session() as session:
        seat = await _pid(session, mid, absent_member.user.id)
        before = await quorum(session, await session.get(Meeting, mid))
    with pytest.raises(InvalidInput):  # the authorisation is required
        async with demo_db.session() as session:
            await attendance.substitute(
                session, principal=secretary, meeting_id=mid, participant_id=seat, user_id=built.users[deputy_name], authorisation=" "
            )
    with pytest.raises(InvalidInput):  # someone from another district cannot sit for a province member
        async with demo_db.session() as session:
            await attendance.substitute(
                session,
                principal=secretary,
                meeting_id=mid,
                participant_id=seat,
                user_id=built.users["mocaynam.chuyenvien"],
                authorisation="Giấy ủy quyền số 3",
            )
    async with demo_db.session() as session:
        await attendance.substitute(
            session,
            principal=secretary,
            meeting_id=mid,
            participant_id=seat,
            user_id=built.users[deputy_name],
            authorisation="Giấy ủy quyền số 12/GUQ ngày 01/12/2026",
        )
        after = await quorum(session, await session.get(Meeting, mid))
    assert after["members"] == before["members"] == 5
    assert after["voting_present"] == before["voting_present"] + 1
    with pytest.raises(Conflict):  # the member cannot also check in
        async with demo_db.session() as session:
            await attendance.check_in(session, principal=absent_member, meeting_id=mid)
    deputy = await principal(demo_db, deputy_name)
    closed = await _vote_and_close(demo_db, chair, mid, T.majority_present, [(deputy, "yes"), (chair, "yes")])
    assert closed.passed and closed.present_at_close == 3
    async with demo_db.session() as session:
        record = await facts(session, meeting_id=mid)
        actions = set((await session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(mid)))).all())
    assert "meeting.substitute_attended" in actions
    text = " ".join(attendance_lines(record))
    assert f"dự thay {absent_member.user.full_name} (ủy quyền: Giấy ủy quyền số 12/GUQ" in text
    assert "có mặt (kể cả người dự thay): 3" in text


async def test_the_minutes_end_once_with_the_recorded_time(demo_db, settings) -> None:
    built, chair = await _opened(demo_db, settings)
    async with demo_db.session() as session:
        await scheduling.close_meeting(session, principal=chair, meeting_id=built.meeting_id)
    async with demo_db.session() as session:
        record = await facts(session, meeting_id=built.meeting_id)
    content = {"opening": "", "items": {}, "closing": "Chủ trì cảm ơn các đại biểu."}
    spec = build_spec(record, content)
    texts = [b if isinstance(b, str) else b.text for b in spec.body]
    assert sum("kết thúc lúc" in t for t in texts) == 1
    assert not any("Biên bản được lập" in t for t in texts)
    assert texts[-2:] == closing_lines(record, content)
