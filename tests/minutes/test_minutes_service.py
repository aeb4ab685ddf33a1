"""Minute-taking: content filled from the meeting, revisions, stale saves refused without loss."""

from __future__ import annotations

from sqlalchemy import select

from demo.minutes import principal, sample_content, write
from meetings.minutes import document
from meetings.minutes import service as minutes_service
from meetings.minutes.models import MinutesRevision
from meetings.service import facts as meeting_facts
from services.events.models import Event
from tests.minutes.conftest import ITEMS, Plan, hold_meeting


def _text(spec) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(b if isinstance(b, str) else b.text for b in spec.body)


async def test_minutes_content_matches_the_meetings_attendance_and_votes(demo_db, settings) -> None:
    held = await hold_meeting(demo_db, settings, Plan(title="Hội nghị sơ kết", items=ITEMS))
    minutes_id = await write(demo_db, held, sample_content(held, conclusions=["Thông qua báo cáo.", "Giao các huyện.", "Thông qua."]))
    async with demo_db.session() as session:
        facts = await meeting_facts(session, meeting_id=held.meeting_id)
        minutes = await minutes_service.get(session, minutes_id=minutes_id)
        spec = document.build_spec(facts, minutes_service.content_of(minutes))
    text = _text(spec)
    # Attendance comes from the meeting: 5 voting members summoned (chair, secretary, 3 members;
    # Châu Thành's delegate attends for the site), 1 absent.
    assert "Thành viên có quyền biểu quyết được triệu tập: 5; có mặt (kể cả người dự thay): 4; vắng mặt: 1." in text
    assert "Phạm" in text and "lý do: Đi công tác tại huyện Mỏ Cày Nam" in text
    assert "không rõ lý do" not in text
    # The vote's result is the poll's, with its rule and base: 3 of 4 present in favour, passed.
    assert "Tán thành: 3; Không tán thành: 1; Không biểu quyết: 0." in text
    assert "quá nửa số thành viên có quyền biểu quyết có mặt" in text and "Tổng số tính: 4 thành viên có mặt" in text
    assert "Kết quả: THÔNG QUA." in text
    # Opinions are linked to who had the floor, with the speaker's name from the meeting.
    assert "Đề nghị tăng cường tuyên truyền" in text
    speaker = next(p for p in facts.people if p.name and "Lê" in p.name)
    assert f"- {speaker.name}" in text
    assert spec.doc_type == "BB" and spec.number is None and {s.role for s in spec.signers} == {"secretary", "chair"}
    assert "Kết luận: Thông qua báo cáo." in text
    assert text.count("Cuộc họp kết thúc lúc") == 1 and "Biên bản được lập" not in text


async def test_a_stale_save_is_refused_and_no_text_is_lost(demo_db, settings) -> None:
    held = await hold_meeting(
        demo_db, settings, Plan(title="Họp thường kỳ", items=ITEMS[:2], poll=None, units={}, speeches=[("thu.le", 0, "")])
    )
    secretary = await principal(demo_db, "ngoc.vo")
    chair = await principal(demo_db, "lan.nguyen")
    async with demo_db.session() as session:
        minutes = await minutes_service.start(session, principal=secretary, meeting_id=held.meeting_id)
        minutes_id = minutes.id
    item = str(held.item_ids[0])
    first = {"items": {item: {"discussion": "Thiết bị A viết trước."}}}
    second = {"items": {item: {"discussion": "Thiết bị B viết <script>alert(1)</script> cùng lúc."}}}
    async with demo_db.session() as session:
        ok = await minutes_service.save(session, principal=secretary, minutes_id=minutes_id, base_revision=0, content=first)
    assert ok.saved and ok.revision == 1
    async with demo_db.session() as session:
        stale = await minutes_service.save(session, principal=chair, minutes_id=minutes_id, base_revision=0, content=second)
    assert not stale.saved and stale.revision == 1
    assert stale.content["items"][item]["discussion"] == "Thiết bị A viết trước."
    assert "phiên bản 1" in stale.message and "vẫn còn nguyên" in stale.message
    async with demo_db.session() as session:
        rows = (
            await session.scalars(select(MinutesRevision).where(MinutesRevision.minutes_id == minutes_id).order_by(MinutesRevision.id))
        ).all()
        current = await minutes_service.get(session, minutes_id=minutes_id)
    # The winner is saved as revision 1, the refused text is kept as a conflict copy.
    assert [(r.number, r.kind) for r in rows] == [(1, "saved"), (None, "conflict")]
    assert "Thiết bị B viết" in rows[1].content
    assert "Thiết bị A" in current.content and current.revision == 1
    # Merging from the current revision succeeds.
    async with demo_db.session() as session:
        merged = await minutes_service.save(
            session,
            principal=chair,
            minutes_id=minutes_id,
            base_revision=1,
            content={"items": {item: {"discussion": "Thiết bị A viết trước. Thiết bị B bổ sung."}}},
        )
    assert merged.saved and merged.revision == 2
    async with demo_db.session() as session:
        events = (await session.scalars(select(Event).where(Event.channel == f"meeting-{held.meeting_id}", Event.kind == "minutes"))).all()
    assert [e.seq for e in events] == sorted(e.seq for e in events) and len(events) == 2


async def test_only_the_secretary_or_chair_write_and_participants_read(demo_db_sqlite, settings) -> None:
    demo_db = demo_db_sqlite
    from services.errors import Forbidden, NotFound

    held = await hold_meeting(demo_db, settings, Plan(title="Họp thường kỳ", items=ITEMS[:1], poll=None, units={}, speeches=[]))
    minutes_id = await write(demo_db, held, {"items": {}})
    member = await principal(demo_db, "thu.le")
    outsider = await principal(demo_db, "mocaynam.chuyenvien")
    async with demo_db.session() as session:
        minutes, acc = await minutes_service.get_for(session, principal=member, minutes_id=minutes_id)
        assert not acc.can_edit
    try:
        async with demo_db.session() as session:
            await minutes_service.save(session, principal=member, minutes_id=minutes_id, base_revision=1, content={})
        raise AssertionError("a participant saved the minutes")
    except Forbidden:
        pass
    try:
        async with demo_db.session() as session:
            await minutes_service.get_for(session, principal=outsider, minutes_id=minutes_id)
        raise AssertionError("an outsider read the minutes")
    except NotFound:
        pass
