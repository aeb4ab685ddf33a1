"""Builds meetings on the demo directory through the real services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from meetings import agenda, scheduling
from meetings.models import MeetingMode
from services.authz import Principal, load_principal
from services.config import Settings
from services.db import Database, utcnow
from services.directory.models import Organization, User

ORGANISER = "mai.tran"  # clerk of the province
CHAIR = "lan.nguyen"
SECRETARY = "ngoc.vo"
MEMBERS = ("hue.do", "thu.le", "hanh.pham")


async def principal(database: Database, username: str) -> Principal:
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None, username
        return await load_principal(session, user)


async def ids(database: Database) -> tuple[dict[str, int], dict[str, int]]:
    async with database.session() as session:
        users = {u.username: u.id for u in (await session.scalars(select(User))).all()}
        orgs = {o.code: o.id for o in (await session.scalars(select(Organization))).all()}
    return users, orgs


@dataclass
class Built:
    meeting_id: int
    users: dict[str, int]
    orgs: dict[str, int]


async def build_meeting(
    database: Database,
    settings: Settings,
    *,
    starts_in: timedelta = timedelta(days=2),
    units: tuple[str, ...] = ("hlhpn-chauthanh",),
    schedule: bool = True,
    items: int = 3,
    title: str = "Hội nghị sơ kết công tác Hội 6 tháng đầu năm 2026",
) -> Built:
    users, orgs = await ids(database)
    organiser = await principal(database, ORGANISER)
    start: datetime = utcnow() + starts_in
    async with database.session() as session:
        meeting = await scheduling.create_meeting(
            session,
            principal=organiser,
            settings=settings,
            organization_id=orgs["hlhpn-bentre"],
            title=title,
            chair_id=users[CHAIR],
            secretary_id=users[SECRETARY],
            starts_at=start,
            ends_at=start + timedelta(hours=3),
            mode=MeetingMode.hybrid,
            place="Hội trường Hội LHPN tỉnh",
        )
        meeting_id = meeting.id
    async with database.session() as session:
        await scheduling.add_participants(session, principal=organiser, meeting_id=meeting_id, user_ids=[users[u] for u in MEMBERS])
        if units:
            await scheduling.invite_units(session, principal=organiser, meeting_id=meeting_id, org_ids=[orgs[u] for u in units])
        titles = ["Báo cáo sơ kết 6 tháng đầu năm", "Thảo luận phương hướng 6 tháng cuối năm", "Biểu quyết chương trình phối hợp"]
        for i in range(items):
            await agenda.add_item(session, principal=organiser, meeting_id=meeting_id, title=titles[i % 3], planned_minutes=15 + 5 * i)
        if schedule:
            await scheduling.schedule_meeting(session, principal=organiser, meeting_id=meeting_id)
    return Built(meeting_id=meeting_id, users=users, orgs=orgs)
