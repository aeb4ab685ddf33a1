"""Demo minutes and tasks, made through the real services and workflows (idempotent).

Four meetings of the province body, already held, whose minutes are in different states:
a draft still being written, minutes waiting for the chair's signature, minutes signed,
numbered and distributed (with tasks waiting, in progress, overdue and done), and one returned
by the chair with a comment.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from meetings import agenda, attendance, polls, scheduling, speakers
from meetings.minutes import service as minutes_service
from meetings.minutes.models import Minutes, MinutesStatus
from meetings.models import MeetingMode, MeetingParticipant, MeetingUnit
from services import calendar
from services.authz import Principal, load_principal
from services.config import Settings
from services.db import Database, utcnow
from services.directory.models import Organization, User
from services.outbox.service import tell, tell_all
from services.tasks import service as tasks
from services.tasks.models import OwnerKind, Task

log = logging.getLogger(__name__)
DEMO_PIN = "123456"
ORGANISER, CHAIR, SECRETARY = "mai.tran", "lan.nguyen", "ngoc.vo"


async def principal(database: Database, username: str) -> Principal:
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
        assert user is not None, username
        return await load_principal(session, user)


async def directory(database: Database) -> tuple[dict[str, int], dict[str, int]]:
    async with database.session() as session:
        users = {u.username: u.id for u in (await session.scalars(select(User))).all()}
        orgs = {o.code: o.id for o in (await session.scalars(select(Organization))).all()}
    return users, orgs


@dataclass
class HeldMeeting:
    meeting_id: int
    item_ids: list[int]
    speech_ids: list[int]
    poll_id: int | None
    users: dict[str, int]
    orgs: dict[str, int]


@dataclass
class Plan:
    title: str
    items: list[str]
    members: tuple[str, ...] = ("hue.do", "thu.le", "hanh.pham")
    units: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"hlhpn-chauthanh": ("chauthanh.chutich",)})
    absent: dict[str, str] = field(default_factory=lambda: {"hanh.pham": "Đi công tác tại huyện Mỏ Cày Nam"})
    speeches: list[tuple[str, int, str]] = field(
        default_factory=lambda: [("thu.le", 0, "Về kết quả tuyên truyền"), ("chauthanh.chutich", 1, "Kiến nghị của huyện Châu Thành")]
    )
    poll: tuple[int, str, dict[str, str]] | None = (
        2,
        "Thông qua chương trình phối hợp 6 tháng cuối năm",
        {"lan.nguyen": "yes", "hue.do": "yes", "thu.le": "yes", "ngoc.vo": "no"},
    )  # a site's delegates do not vote
    close: bool = True


async def hold_meeting(database: Database, settings: Settings, plan: Plan) -> HeldMeeting:
    """Schedule, open, run (attendance, items, speakers, a vote) and close a meeting."""
    users, orgs = await directory(database)
    organiser = await principal(database, ORGANISER)
    chair = await principal(database, CHAIR)
    secretary = await principal(database, SECRETARY)
    start = utcnow() + timedelta(minutes=5)
    async with database.session() as session:
        meeting = await scheduling.create_meeting(
            session,
            principal=organiser,
            settings=settings,
            organization_id=orgs["hlhpn-bentre"],
            title=plan.title,
            chair_id=users[CHAIR],
            secretary_id=users[SECRETARY],
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            mode=MeetingMode.hybrid,
            place="Hội trường Hội LHPN tỉnh Bến Tre",
        )
        meeting_id = meeting.id
    async with database.session() as session:
        await scheduling.add_participants(session, principal=organiser, meeting_id=meeting_id, user_ids=[users[u] for u in plan.members])
        if plan.units:
            await scheduling.invite_units(session, principal=organiser, meeting_id=meeting_id, org_ids=[orgs[code] for code in plan.units])
        item_ids = []
        for index, title in enumerate(plan.items):
            item = await agenda.add_item(
                session,
                principal=organiser,
                meeting_id=meeting_id,
                title=title,
                planned_minutes=15 + 5 * index,
                presenter_id=users["hue.do"] if index == 0 else None,
            )
            item_ids.append(item.id)
        await scheduling.schedule_meeting(session, principal=organiser, meeting_id=meeting_id)
    for code, attendees in plan.units.items():
        async with database.session() as session:
            unit_id = await session.scalar(
                select(MeetingUnit.id).where(MeetingUnit.meeting_id == meeting_id, MeetingUnit.organization_id == orgs[code])
            )
        assert unit_id is not None, code
        responder = await principal(database, attendees[0])
        async with database.session() as session:
            await scheduling.name_attendees(
                session, principal=responder, meeting_id=meeting_id, unit_id=unit_id, user_ids=[users[u] for u in attendees]
            )
    async with database.session() as session:
        await scheduling.open_meeting(session, principal=chair, meeting_id=meeting_id)
    async with database.session() as session:
        rows = (await session.scalars(select(MeetingParticipant).where(MeetingParticipant.meeting_id == meeting_id))).all()
        by_user = {r.user_id: r.id for r in rows}
    for username, pid in ((u, by_user[users[u]]) for u in users if users[u] in by_user):
        async with database.session() as session:
            await attendance.mark(
                session,
                principal=secretary,
                meeting_id=meeting_id,
                participant_id=pid,
                present=username not in plan.absent,
                reason=plan.absent.get(username, ""),
            )
    speech_ids: list[int] = []
    poll_id = None
    for index, item_id in enumerate(item_ids):
        async with database.session() as session:
            await agenda.start_item(session, principal=chair, meeting_id=meeting_id, item_id=item_id)
        for username, item_index, note in plan.speeches:
            if item_index != index:
                continue
            speaker = await principal(database, username)
            async with database.session() as session:
                request = await speakers.request_floor(session, principal=speaker, meeting_id=meeting_id, agenda_item_id=item_id, note=note)
                request_id = request.id
            async with database.session() as session:
                await speakers.grant(session, principal=chair, meeting_id=meeting_id, request_id=request_id)
            async with database.session() as session:
                await speakers.end_floor(session, principal=chair, meeting_id=meeting_id, request_id=request_id)
            speech_ids.append(request_id)
        if plan.poll and plan.poll[0] == index:
            async with database.session() as session:
                poll = await polls.open_poll(session, principal=chair, meeting_id=meeting_id, question=plan.poll[1], agenda_item_id=item_id)
                poll_id = poll.id
                options = {o.key: o.id for o in await _options(session, poll_id)}
            for username, choice in plan.poll[2].items():
                voter = await principal(database, username)
                async with database.session() as session:
                    await polls.vote(session, principal=voter, meeting_id=meeting_id, poll_id=poll_id, option_id=options[choice])
            async with database.session() as session:
                await polls.close_poll(session, principal=chair, meeting_id=meeting_id, poll_id=poll_id)
        async with database.session() as session:
            await agenda.end_item(session, principal=chair, meeting_id=meeting_id, item_id=item_id)
    if plan.close:
        async with database.session() as session:
            await scheduling.close_meeting(session, principal=chair, meeting_id=meeting_id)
    return HeldMeeting(meeting_id=meeting_id, item_ids=item_ids, speech_ids=speech_ids, poll_id=poll_id, users=users, orgs=orgs)


async def _options(session: Any, poll_id: int) -> list[Any]:
    from meetings.models import PollOption

    return list((await session.scalars(select(PollOption).where(PollOption.poll_id == poll_id).order_by(PollOption.position))).all())


def sample_content(held: HeldMeeting, *, conclusions: list[str]) -> dict[str, Any]:
    """Vietnamese minutes text for a held meeting (opinions linked to the speeches)."""
    discussions = [
        "Đồng chí Phó Chủ tịch trình bày báo cáo sơ kết; các đại biểu thống nhất với nội dung đánh giá kết quả đạt được.",
        "Các đại biểu thảo luận về giải pháp hỗ trợ phụ nữ khởi nghiệp và công tác phát triển hội viên.",
        "Hội nghị biểu quyết thông qua chương trình phối hợp với Sở Lao động - Thương binh và Xã hội.",
    ]
    opinions = [
        "Đề nghị tăng cường tuyên truyền trên nền tảng số, nhất là ở cơ sở.",
        "Kiến nghị tỉnh hỗ trợ kinh phí tập huấn cho cán bộ Hội cấp xã.",
    ]
    items = {}
    for index, item_id in enumerate(held.item_ids):
        ops = [{"speech_id": sid, "text": opinions[n % 2]} for n, sid in enumerate(held.speech_ids) if n == index]
        items[str(item_id)] = {
            "discussion": discussions[index % 3],
            "opinions": ops,
            "conclusion": conclusions[index] if index < len(conclusions) else "",
        }
    return {
        "opening": "Đồng chí Chủ tịch khai mạc, nêu mục đích, yêu cầu của hội nghị.",
        "items": items,
        "closing": "Hội nghị thống nhất các nội dung nêu trên.",
    }


async def write(database: Database, held: HeldMeeting, content: dict[str, Any]) -> int:
    secretary = await principal(database, SECRETARY)
    async with database.session() as session:
        minutes = await minutes_service.start(session, principal=secretary, meeting_id=held.meeting_id)
        minutes_id, revision = minutes.id, minutes.revision
    async with database.session() as session:
        result = await minutes_service.save(session, principal=secretary, minutes_id=minutes_id, base_revision=revision, content=content)
        assert result.saved
    return minutes_id


async def sign(database: Database, settings: Settings, minutes_id: int, username: str, client: Any = None) -> str:
    """Sign as the awaited signer, as the web route does (PIN typed there), then tell the workflow."""
    from pyhanko.sign.fields import MDPPerm

    from meetings.minutes.document import CHAIR_FIELD, SECRETARY_FIELD
    from services.blobs import BlobStore
    from signing import service as signing
    from signing.appearance import Appearance

    person = await principal(database, username)
    async with database.session() as session:
        minutes, acc, role, pdf = await minutes_service.turn(session, settings=settings, principal=person, minutes_id=minutes_id)
        image = await signing.profile_image(session, settings=settings, user_id=person.user.id)
        level = await signing.org_level(session, settings=settings, organization_id=minutes.organization_id)
        key = await signing.open_signer(
            session,
            settings=settings,
            actor=person.actor,
            pin=DEMO_PIN,
            user=person.user,
            target=signing.SigningTarget("minutes", minutes_id),
        )
    # Signing fetches revocation data and a time stamp: outside the transaction.
    signed_pdf = await signing.sign_as_person(
        settings=settings,
        signer=key,
        actor=person.actor,
        user=person.user,
        pdf=pdf,
        level=level,
        appearance=Appearance.signature(name=person.user.full_name, marker=role, image_png=image),
        field_name=SECRETARY_FIELD if role == "secretary" else CHAIR_FIELD,
        reason="Ký biên bản cuộc họp",
        certify=MDPPerm.FILL_FORMS if role == "secretary" else None,
        target=signing.SigningTarget("minutes", minutes_id),
    )
    sha = BlobStore.for_settings(settings).put(signed_pdf)
    async with database.session() as session:
        minutes, acc, again, _pdf = await minutes_service.turn(
            session, settings=settings, principal=person, minutes_id=minutes_id, for_update=True
        )
        assert again == role
        await minutes_service.record_signature(session, principal=person, minutes=minutes, role=role, signed_sha=sha)
        if client is not None:
            await tell(session, "minutes", minutes_id, "signed", role, sha)
    return sha


async def add_tasks(
    database: Database, minutes_id: int, held: HeldMeeting, specs: list[tuple[int, str, OwnerKind, str, date]]
) -> list[int]:
    secretary = await principal(database, SECRETARY)
    ids = []
    for item_index, title, kind, owner, due in specs:
        owner_id = held.users[owner] if kind == OwnerKind.user else held.orgs[owner]
        async with database.session() as session:
            task = await minutes_service.add_task(
                session,
                principal=secretary,
                minutes_id=minutes_id,
                agenda_item_id=held.item_ids[item_index],
                new=tasks.NewTask(
                    title=title, due_date=due, owner_kind=kind, owner_id=owner_id, description="Thực hiện theo kết luận của hội nghị."
                ),
            )
            ids.append(task.id)
    return ids


async def _wait(database: Database, minutes_id: int, statuses: set[MinutesStatus], seconds: float = 90) -> bool:
    import asyncio

    for _ in range(int(seconds * 5)):
        async with database.session() as session:
            if (await session.get(Minutes, minutes_id)).status in statuses:  # type: ignore[union-attr]  # the demo's own minutes
                return True
        await asyncio.sleep(0.2)
    return False


async def seed_demo(*, settings: Settings, database: Database, client: Any) -> None:
    """Idempotent: skipped when demo minutes exist."""

    async with database.session() as session:
        if await session.scalar(select(Minutes.id).limit(1)) is not None:
            return
    today = calendar.vn_today()
    items = [
        "Báo cáo sơ kết công tác Hội 6 tháng đầu năm 2026",
        "Thảo luận phương hướng, nhiệm vụ 6 tháng cuối năm",
        "Biểu quyết chương trình phối hợp năm 2026",
    ]

    # 1. Signed and distributed, with tasks in every state.
    held = await hold_meeting(database, settings, Plan(title="Hội nghị sơ kết công tác Hội 6 tháng đầu năm 2026", items=items))
    minutes_id = await write(
        database,
        held,
        sample_content(
            held,
            conclusions=[
                "Thống nhất thông qua báo cáo sơ kết; giao Văn phòng hoàn chỉnh báo cáo gửi Trung ương Hội.",
                "Giao các huyện, thành Hội xây dựng kế hoạch phát triển hội viên 6 tháng cuối năm.",
                "Hội nghị thông qua chương trình phối hợp; giao Ban Gia đình - Xã hội tổ chức thực hiện.",
            ],
        ),
    )
    task_ids = await add_tasks(
        database,
        minutes_id,
        held,
        [
            (0, "Hoàn chỉnh báo cáo sơ kết gửi Trung ương Hội", OwnerKind.user, "thu.le", today + timedelta(days=7)),
            (
                1,
                "Xây dựng kế hoạch phát triển hội viên 6 tháng cuối năm",
                OwnerKind.organization,
                "hlhpn-chauthanh",
                today + timedelta(days=20),
            ),
            (
                2,
                "Tổ chức triển khai chương trình phối hợp với Sở Lao động - TB&XH",
                OwnerKind.user,
                "hanh.pham",
                today + timedelta(days=30),
            ),
            (2, "Báo cáo kết quả hỗ trợ phụ nữ khởi nghiệp quý II", OwnerKind.user, "hue.do", today + timedelta(days=1)),
        ],
    )
    await tell_all(database, "task", task_ids)
    await _close(database, settings, client, minutes_id)
    await sign(database, settings, minutes_id, SECRETARY, client)
    await _wait(database, minutes_id, {MinutesStatus.awaiting_chair})
    await sign(database, settings, minutes_id, CHAIR, client)
    # Progress on the tasks: one in progress, one done, one overdue (backdated for the demo).
    owner = await principal(database, "hanh.pham")
    async with database.session() as session:
        await tasks.report_progress(
            session, principal=owner, task_id=task_ids[2], body="Đã họp liên tịch, đang dự thảo kế hoạch.", progress=40
        )
    done_by = await principal(database, "thu.le")
    async with database.session() as session:
        await tasks.complete(session, principal=done_by, task_id=task_ids[0], result="Đã gửi báo cáo sơ kết bằng văn bản điện tử.")
    async with database.session() as session:
        late = await session.get(Task, task_ids[3])
        assert late is not None
        late.due_date = today - timedelta(days=3)  # demo only: an overdue task
        late.revision += 1
        for task_id in task_ids:
            await tell(session, "task", task_id)

    # 2. Waiting for the chair's signature.
    held = await hold_meeting(
        database,
        settings,
        Plan(
            title="Họp Ban Thường vụ tháng 6/2026",
            items=["Đánh giá kết quả công tác tháng 5", "Triển khai nhiệm vụ tháng 6"],
            poll=(
                1,
                "Thông qua kế hoạch triển khai nhiệm vụ tháng 6/2026",
                {"lan.nguyen": "yes", "hue.do": "yes", "thu.le": "yes", "ngoc.vo": "abstain"},
            ),
            speeches=[("hue.do", 0, "Về công tác cán bộ")],
            units={},
        ),
    )
    minutes_id = await write(
        database,
        held,
        sample_content(
            held,
            conclusions=[
                "Ban Thường vụ thống nhất đánh giá kết quả tháng 5.",
                "Giao Văn phòng theo dõi, đôn đốc thực hiện nhiệm vụ tháng 6.",
            ],
        ),
    )
    await _close(database, settings, client, minutes_id)
    await sign(database, settings, minutes_id, SECRETARY, client)

    # 3. Returned by the chair with a comment.
    held = await hold_meeting(
        database,
        settings,
        Plan(
            title="Hội nghị giao ban trực tuyến các huyện, thành Hội quý II/2026",
            items=["Báo cáo nhanh của các huyện", "Ý kiến chỉ đạo"],
            poll=None,
            units={"hlhpn-chauthanh": ("chauthanh.chutich",)},
        ),
    )
    minutes_id = await write(database, held, sample_content(held, conclusions=["Ghi nhận báo cáo của các huyện.", ""]))
    await _close(database, settings, client, minutes_id)
    await sign(database, settings, minutes_id, SECRETARY, client)
    if await _wait(database, minutes_id, {MinutesStatus.awaiting_chair}):
        chair = await principal(database, CHAIR)
        async with database.session() as session:
            await minutes_service.refuse(
                session, principal=chair, minutes_id=minutes_id, comment="Đề nghị bổ sung kết luận của nội dung 2 trước khi trình ký."
            )
            await tell(session, "minutes", minutes_id, "returned")

    # 4. A draft: the meeting ended, the secretary is still writing.
    held = await hold_meeting(
        database,
        settings,
        Plan(
            title="Họp chuyên đề công tác phòng, chống bạo lực gia đình",
            items=["Tình hình bạo lực gia đình 6 tháng", "Giải pháp"],
            poll=None,
            speeches=[("thu.le", 0, "Số liệu các huyện")],
            units={},
        ),
    )
    await write(database, held, sample_content(held, conclusions=["Thống nhất đánh giá tình hình.", ""]))


async def _close(database: Database, settings: Settings, client: Any, minutes_id: int) -> None:
    secretary = await principal(database, SECRETARY)
    async with database.session() as session:
        minutes = await minutes_service.get(session, minutes_id=minutes_id)
        minutes = await minutes_service.close(
            session, settings=settings, principal=secretary, minutes_id=minutes_id, revision=minutes.revision
        )
        await tell(session, "minutes", minutes_id, "closed", minutes.round)
    await _wait(database, minutes_id, {MinutesStatus.awaiting_secretary}, seconds=120)
