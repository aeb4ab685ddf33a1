"""Demo meetings in several states, created through the services and their workflows.

- scheduled in three days (districts invited: one named its attendees, one declined, one has
  not answered yet), invitations and reminders by its workflow;
- open now, with a live agenda (one item done, one running), a speaker, a queue and an open vote;
- closed last week, with its votes (open and secret) recorded;
- a draft being prepared, and a cancelled one.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from temporalio.client import Client

from meetings import agenda, attendance, polls, scheduling, speakers
from meetings.models import Meeting, MeetingMode, PollOption, PollVisibility, Threshold
from services.authz import Principal, load_principal
from services.config import Settings
from services.db import Database, utcnow
from services.directory.models import Organization, User
from services.outbox.service import tell_all

log = logging.getLogger(__name__)
MARK = "Hội nghị sơ kết công tác Hội 6 tháng đầu năm 2026"


async def _principals(database: Database, names: list[str]) -> dict[str, Principal]:
    out = {}
    async with database.session() as session:
        for name in names:
            user = await session.scalar(select(User).where(User.username == name))
            if user is not None:
                out[name] = await load_principal(session, user)
    return out


def _at(days: int, hour: int, minute: int = 0) -> datetime:
    from services.calendar import VN_TZ

    local = (utcnow() + timedelta(days=days)).astimezone(VN_TZ).replace(hour=hour, minute=minute, second=0, microsecond=0)
    return local


async def seed_demo(*, settings: Settings, database: Database, client: Client) -> None:
    """Idempotent: does nothing when the demo meetings exist."""
    async with database.session() as session:
        if await session.scalar(select(Meeting.id).where(Meeting.title == MARK)):
            return
        orgs = {o.code: o.id for o in (await session.scalars(select(Organization))).all()}
        users = {u.username: u.id for u in (await session.scalars(select(User))).all()}
    if "hlhpn-bentre" not in orgs:
        return
    p = await _principals(
        database, ["mai.tran", "lan.nguyen", "ngoc.vo", "hue.do", "thu.le", "hanh.pham", "chauthanh.chutich", "mocaynam.vanthu"]
    )
    province = orgs["hlhpn-bentre"]
    members = [users[u] for u in ("hue.do", "thu.le", "hanh.pham")]

    async def create(
        title: str,
        start: datetime,
        hours: float,
        *,
        mode: MeetingMode = MeetingMode.hybrid,
        place: str = "Hội trường Hội LHPN tỉnh Bến Tre, số 3 đường Cách Mạng Tháng Tám",
        items: list[tuple[str, int, str | None]],
        units: Sequence[str] = (),
        description: str = "",
    ) -> int:
        async with database.session() as session:
            meeting = await scheduling.create_meeting(
                session,
                principal=p["mai.tran"],
                settings=settings,
                organization_id=province,
                title=title,
                chair_id=users["lan.nguyen"],
                secretary_id=users["ngoc.vo"],
                starts_at=start,
                ends_at=start + timedelta(hours=hours),
                mode=mode,
                place=place,
                description=description,
            )
            mid = meeting.id
        async with database.session() as session:
            await scheduling.add_participants(session, principal=p["mai.tran"], meeting_id=mid, user_ids=members)
            if units:
                await scheduling.invite_units(
                    session, principal=p["mai.tran"], meeting_id=mid, org_ids=[orgs[u] for u in units if u in orgs]
                )
            for item_title, minutes, presenter in items:
                await agenda.add_item(
                    session,
                    principal=p["mai.tran"],
                    meeting_id=mid,
                    title=item_title,
                    planned_minutes=minutes,
                    presenter_id=users.get(presenter) if presenter else None,
                )
        return mid

    # 1. Scheduled in three days, the districts invited.
    upcoming = await create(
        MARK,
        _at(3, 8),
        3.5,
        units=["hlhpn-tpbentre", "hlhpn-chauthanh", "hlhpn-mocaynam"],
        description="Đánh giá kết quả thực hiện Nghị quyết Đại hội, các chỉ tiêu thi đua 6 tháng đầu năm; triển khai nhiệm vụ 6 tháng cuối năm 2026.",
        items=[
            ("Khai mạc, giới thiệu đại biểu", 10, "ngoc.vo"),
            ("Báo cáo sơ kết công tác Hội 6 tháng đầu năm 2026", 30, "hue.do"),
            ("Tham luận của Hội LHPN huyện Châu Thành về mô hình sinh kế", 15, None),
            ("Thảo luận, góp ý phương hướng nhiệm vụ 6 tháng cuối năm", 60, None),
            ("Biểu quyết thông qua chỉ tiêu thi đua 6 tháng cuối năm", 15, "lan.nguyen"),
            ("Phát biểu kết luận của đồng chí Chủ tịch", 20, "lan.nguyen"),
        ],
    )
    async with database.session() as session:
        await scheduling.schedule_meeting(session, principal=p["mai.tran"], meeting_id=upcoming)
    async with database.session() as session:
        acc = await scheduling.access_for(session, p["chauthanh.chutich"], upcoming)
        await scheduling.name_attendees(
            session,
            principal=p["chauthanh.chutich"],
            meeting_id=upcoming,
            unit_id=acc.responder_units[0].id,
            user_ids=[users["chauthanh.chutich"], users["chauthanh.chuyenvien"]],
            note="Dự tại điểm cầu huyện",
        )
        acc = await scheduling.access_for(session, p["mocaynam.vanthu"], upcoming)
        await scheduling.decline_unit(
            session,
            principal=p["mocaynam.vanthu"],
            meeting_id=upcoming,
            unit_id=acc.responder_units[0].id,
            reason="Trùng lịch tiếp Đoàn kiểm tra của Huyện ủy; xin dự theo điểm cầu tỉnh.",
        )
        await scheduling.reply(session, principal=p["hanh.pham"], meeting_id=upcoming, accept=False, reason="Đi công tác tại Hà Nội")
        await scheduling.reply(session, principal=p["hue.do"], meeting_id=upcoming, accept=True)
    await tell_all(database, "meeting", [upcoming], None)

    # 2. Open now, with a live agenda, speakers and an open vote.
    live_id = await create(
        "Họp Ban Thường vụ Hội LHPN tỉnh tháng 11/2026",
        utcnow() + timedelta(minutes=2),
        2,
        mode=MeetingMode.online,
        place="",
        units=["hlhpn-chauthanh"],
        items=[
            ("Thông qua chương trình làm việc", 5, "ngoc.vo"),
            ("Kết quả triển khai Dự án 8 về bình đẳng giới", 25, "thu.le"),
            ("Kế hoạch tổ chức Ngày Phụ nữ Việt Nam 20/10 và Tháng hành động", 20, "hanh.pham"),
            ("Công tác cán bộ và thi đua khen thưởng", 20, "lan.nguyen"),
        ],
    )
    async with database.session() as session:
        await scheduling.schedule_meeting(session, principal=p["mai.tran"], meeting_id=live_id)
    await tell_all(database, "meeting", [live_id], None)
    chair = p["lan.nguyen"]
    async with database.session() as session:
        await scheduling.open_meeting(session, principal=chair, meeting_id=live_id)
    for name in ("lan.nguyen", "ngoc.vo", "hue.do", "thu.le"):
        async with database.session() as session:
            await attendance.check_in(session, principal=p[name], meeting_id=live_id)
    async with database.session() as session:
        acc = await scheduling.access_for(session, p["chauthanh.chutich"], live_id)
        await scheduling.name_attendees(
            session,
            principal=p["chauthanh.chutich"],
            meeting_id=live_id,
            unit_id=acc.responder_units[0].id,
            user_ids=[users["chauthanh.chutich"]],
        )
    async with database.session() as session:
        facts = await agenda._items(session, live_id)
        await agenda.start_item(session, principal=chair, meeting_id=live_id, item_id=facts[0].id)
        await agenda.end_item(session, principal=chair, meeting_id=live_id, item_id=facts[0].id)
        await agenda.start_item(session, principal=chair, meeting_id=live_id, item_id=facts[1].id)
    async with database.session() as session:
        first = await speakers.request_floor(
            session, principal=p["hue.do"], meeting_id=live_id, note="Kiến nghị bổ sung kinh phí truyền thông"
        )
        await speakers.request_floor(session, principal=p["ngoc.vo"], meeting_id=live_id, note="Về tiến độ giải ngân")
        await speakers.grant(session, principal=chair, meeting_id=live_id, request_id=first.id)
    async with database.session() as session:
        poll = await polls.open_poll(
            session,
            principal=chair,
            meeting_id=live_id,
            question="Thông qua Kế hoạch tổ chức Tháng hành động vì bình đẳng giới năm 2026?",
            visibility=PollVisibility.named,
            threshold=Threshold.majority_present,
            allow_change=True,
        )
    async with database.session() as session:
        yes = await session.scalar(select(PollOption.id).where(PollOption.poll_id == poll.id, PollOption.key == "yes"))
    assert yes is not None
    for name in ("lan.nguyen", "thu.le"):
        async with database.session() as session:
            await polls.vote(session, principal=p[name], meeting_id=live_id, poll_id=poll.id, option_id=yes)
    await tell_all(database, "meeting", [live_id], "opened")

    # 3. Closed last week, with an open and a secret vote.
    done_id = await create(
        "Hội nghị triển khai Chương trình phối hợp giữa Hội LHPN tỉnh và Sở Lao động năm 2026",
        utcnow() + timedelta(minutes=1),
        2,
        items=[("Quán triệt nội dung Chương trình phối hợp", 20, "hue.do"), ("Thảo luận, biểu quyết", 40, None)],
    )
    async with database.session() as session:
        await scheduling.schedule_meeting(session, principal=p["mai.tran"], meeting_id=done_id)
        await scheduling.open_meeting(session, principal=chair, meeting_id=done_id)
    for name in ("lan.nguyen", "ngoc.vo", "hue.do", "thu.le", "hanh.pham"):
        async with database.session() as session:
            await attendance.check_in(session, principal=p[name], meeting_id=done_id)
    async with database.session() as session:
        items = await agenda._items(session, done_id)
        await agenda.start_item(session, principal=chair, meeting_id=done_id, item_id=items[1].id)
    for question, visibility, choices in (
        ("Thông qua Chương trình phối hợp năm 2026?", PollVisibility.open, ["yes", "yes", "yes", "yes", "abstain"]),
        (
            "Giới thiệu đồng chí Huỳnh Thị Dung tham gia Tổ giám sát liên ngành?",
            PollVisibility.secret,
            ["yes", "yes", "yes", "no", "abstain"],
        ),
    ):
        async with database.session() as session:
            poll = await polls.open_poll(
                session,
                principal=chair,
                meeting_id=done_id,
                question=question,
                visibility=visibility,
                threshold=Threshold.two_thirds_present,
            )
        async with database.session() as session:
            keys = {o.key: o.id for o in (await session.scalars(select(PollOption).where(PollOption.poll_id == poll.id))).all()}
        for name, choice in zip(("lan.nguyen", "ngoc.vo", "hue.do", "thu.le", "hanh.pham"), choices, strict=True):
            async with database.session() as session:
                await polls.vote(session, principal=p[name], meeting_id=done_id, poll_id=poll.id, option_id=keys[choice])
        async with database.session() as session:
            await polls.close_poll(session, principal=chair, meeting_id=done_id, poll_id=poll.id)
    async with database.session() as session:
        await scheduling.close_meeting(session, principal=chair, meeting_id=done_id)
        # Demo only: the meeting took place last week.
        shift = timedelta(days=7)
        meeting = await session.get(Meeting, done_id)
        assert meeting is not None and meeting.opened_at is not None and meeting.closed_at is not None
        await session.execute(
            update(Meeting)
            .where(Meeting.id == done_id)
            .values(
                starts_at=meeting.starts_at - shift,
                ends_at=meeting.ends_at - shift,
                opened_at=meeting.opened_at - shift,
                closed_at=meeting.closed_at - shift,
            )
        )

    # 4. A draft being prepared, and 5. a cancelled meeting.
    await create(
        "Họp chuẩn bị Đại hội đại biểu phụ nữ cấp cơ sở nhiệm kỳ 2026–2031",
        _at(10, 14),
        2,
        units=["hlhpn-tpbentre", "hlhpn-chauthanh"],
        items=[("Dự thảo kế hoạch chỉ đạo đại hội điểm", 30, "hue.do")],
    )
    cancelled = await create(
        "Giao ban công tác Hội quý IV/2026", _at(5, 14), 1.5, mode=MeetingMode.in_person, items=[("Đánh giá kết quả quý III", 30, "thu.le")]
    )
    async with database.session() as session:
        await scheduling.schedule_meeting(session, principal=p["mai.tran"], meeting_id=cancelled)
    await tell_all(database, "meeting", [cancelled], None)
    async with database.session() as session:
        await scheduling.cancel_meeting(
            session,
            principal=p["mai.tran"],
            meeting_id=cancelled,
            reason="Lồng ghép vào Hội nghị sơ kết 6 tháng đầu năm để tiết kiệm thời gian.",
        )
    await tell_all(database, "meeting", [cancelled], "cancelled")
