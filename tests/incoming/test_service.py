"""Registration, direction, handling and sender statuses at the service level (both backends)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.audit.models import AuditEntry
from services.audit.service import Actor
from services.blobs import BlobStore
from services.calendar import vn_today
from services.errors import Conflict, Forbidden, NotFound
from services.incoming import service as incoming
from services.incoming.models import IncomingDocument, Status
from tests.incoming.conftest import direct_to, meta, org_id, pdf_file, principal, register, user_id


async def test_whole_flow_records_every_step_and_sender_statuses(demo_db, settings) -> None:
    province, district = await org_id(demo_db, "hlhpn-bentre"), await org_id(demo_db, "hlhpn-chauthanh")
    blobs = BlobStore.for_data_dir(settings.data_dir)
    sha = blobs.put(b"%PDF-1.7 fake")
    async with demo_db.session() as session:
        doc = await incoming.receive_from_system(
            session,
            actor=Actor.system("outgoing"),
            recipient_org_id=province,
            sender_org_id=district,
            outgoing_ref="outgoing-7",
            number_notation="12/BC-HLHPN",
            document_date=vn_today(),
            doc_type="BC",
            subject="Báo cáo kết quả công tác Hội quý III",
            files=[("bao-cao.pdf", "application/pdf", sha)],
            signer_name="Nguyễn Thị Lan Phương",
        )
        again = await incoming.receive_from_system(
            session,
            actor=Actor.system("outgoing"),
            recipient_org_id=province,
            sender_org_id=district,
            outgoing_ref="outgoing-7",
            number_notation="12/BC-HLHPN",
            document_date=vn_today(),
            doc_type="BC",
            subject="x",
            files=[("bao-cao.pdf", "application/pdf", sha)],
            signer_name=None,
        )
    assert again.id == doc.id and doc.status == Status.arrived.value
    clerk = await principal(demo_db, "mai.tran")
    async with demo_db.session() as session:
        await incoming.register(
            session,
            principal=clerk,
            organization_id=province,
            document_id=doc.id,
            blobs=blobs,
            meta=meta(
                "12/BC-HLHPN",
                issuer_name="Hội LHPN huyện Châu Thành",
                issuer_org_id=district,
                document_date=vn_today(),
                doc_type="BC",
                subject="Báo cáo kết quả công tác Hội quý III",
            ),
        )
    await direct_to(
        demo_db, doc.id, lead="thu.le", co_user_ids=[await user_id(demo_db, "hanh.pham")], info_user_ids=[await user_id(demo_db, "ngoc.vo")]
    )
    co, lead, other = [await principal(demo_db, n) for n in ("hanh.pham", "thu.le", "chauthanh.chuyenvien")]
    async with demo_db.session() as session:
        await incoming.add_opinion(session, principal=co, document_id=doc.id, body="Ban GĐXH bổ sung số liệu.")
    with pytest.raises(Forbidden):
        async with demo_db.session() as session:
            await incoming.complete(session, principal=co, document_id=doc.id, result="xong")
    with pytest.raises(NotFound):
        async with demo_db.session() as session:
            await incoming.get_for(session, principal=other, document_id=doc.id)
    async with demo_db.session() as session:
        await incoming.record_progress(session, principal=lead, document_id=doc.id, body="Đã tổng hợp 80%.")
    async with demo_db.session() as session:
        await incoming.complete(session, principal=lead, document_id=doc.id, result="Đã tham mưu văn bản trả lời.")
    async with demo_db.session() as session:
        statuses = await incoming.sender_status_history(session, outgoing_ref="outgoing-7")
        latest = await incoming.sender_statuses(session, outgoing_ref="outgoing-7")
        actions = (
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_type == "incoming", AuditEntry.object_id == str(doc.id))
                .order_by(AuditEntry.seq)
            )
        ).all()
        final = await session.get(IncomingDocument, doc.id)
    assert [s.code for s in statuses] == ["01", "03", "04", "05", "06"]
    assert [(s.code, s.recipient_org_id) for s in latest] == [("06", province)]
    assert actions == [
        "incoming.receive",
        "incoming.register",
        "incoming.direct",
        "incoming.opinion",
        "incoming.progress",
        "incoming.complete",
    ]
    assert final.status == "done" and final.arrival_number == 1


async def test_duplicates_are_found_before_saving_and_can_be_overridden(demo_db_sqlite, settings) -> None:
    await register(demo_db_sqlite, settings, "20/TB-HLHPN")
    clerk = await principal(demo_db_sqlite, "mai.tran")
    province = await org_id(demo_db_sqlite, "hlhpn-bentre")
    async with demo_db_sqlite.session() as session:
        found = await incoming.find_duplicates(
            session,
            organization_id=province,
            number_notation="20/tb-hlhpn",
            document_date=meta().document_date,
            issuer_name="Ủy ban nhân dân tỉnh Bến Tre",
        )
    assert len(found) == 1
    with pytest.raises(Conflict):
        async with demo_db_sqlite.session() as session:
            await incoming.register(
                session,
                principal=clerk,
                organization_id=province,
                meta=meta("20/TB-HLHPN"),
                files=[pdf_file()],
                blobs=BlobStore.for_data_dir(settings.data_dir),
            )
    async with demo_db_sqlite.session() as session:
        doc = await incoming.register(
            session,
            principal=clerk,
            organization_id=province,
            meta=meta("20/TB-HLHPN"),
            files=[pdf_file()],
            blobs=BlobStore.for_data_dir(settings.data_dir),
            allow_duplicate=True,
        )
    assert doc.arrival_number == 2


async def test_only_clerks_register_and_only_leaders_direct(demo_db_sqlite, settings) -> None:
    with pytest.raises(NotFound):
        await register(demo_db_sqlite, settings, clerk="thu.le")
    doc = await register(demo_db_sqlite, settings)
    with pytest.raises(Forbidden):
        await direct_to(demo_db_sqlite, doc.id, leader="mai.tran")
    with pytest.raises(NotFound):
        await direct_to(demo_db_sqlite, doc.id, leader="chauthanh.chutich")
    directed = await direct_to(demo_db_sqlite, doc.id, leader="hue.do")
    assert directed.status == "directed"


async def test_concurrent_registrations_get_contiguous_numbers(demo_db, settings) -> None:
    clerk = await principal(demo_db, "mai.tran")
    province = await org_id(demo_db, "hlhpn-bentre")
    blobs = BlobStore.for_data_dir(settings.data_dir)
    files = [pdf_file()]

    async def one(i: int) -> int:
        async with demo_db.session() as session:
            doc = await incoming.register(
                session, principal=clerk, organization_id=province, meta=meta(f"{i}/CV-X"), files=files, blobs=blobs
            )
            return doc.arrival_number

    numbers = await asyncio.gather(*(one(i) for i in range(1, 201)))
    assert sorted(numbers) == list(range(1, 201))
    async with demo_db.session() as session:
        stored = (await session.scalars(select(IncomingDocument.arrival_number))).all()
    assert sorted(stored) == list(range(1, 201))


async def test_deadline_notices_are_sent_once_per_due_date(demo_db_sqlite, settings) -> None:
    doc = await register(demo_db_sqlite, settings)
    due = vn_today() + timedelta(days=5)
    await direct_to(demo_db_sqlite, doc.id, due=due)
    for _ in range(2):
        async with demo_db_sqlite.session() as session:
            await incoming.send_deadline_notice(session, document_id=doc.id, kind="reminder", due_date=due)
    async with demo_db_sqlite.session() as session:
        count = await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "incoming.remind"))
    assert count == 1


async def test_a_handler_taken_off_a_document_has_their_live_pages_of_it_decided_again(demo_db_sqlite, settings) -> None:
    """Handlers see a document by their part in it. Reassigned or returned (or the lead delegated
    by the unit's head: the same helper), the part goes, and so does the document: `access.changed` on each such person's channel closes
    their open pages' sockets (tests/meetings/test_live_access.py), whose reconnect is refused it.
    Whoever keeps a part is not disturbed."""
    from services.events.models import Event
    from services.events.service import ACCESS_CHANGED

    async with demo_db_sqlite.read() as session:
        start = await session.scalar(select(func.max(Event.seq)))

    async def changed(*usernames: str) -> dict[str, int]:
        ids = {u: await user_id(demo_db_sqlite, u) for u in usernames}  # (each in a session of its own)
        async with demo_db_sqlite.read() as session:
            rows = (await session.scalars(select(Event.channel).where(Event.kind == ACCESS_CHANGED, Event.seq > start))).all()
        return {u: rows.count(f"user-{i}") for u, i in ids.items()}

    people = ("thu.le", "hue.do", "hanh.pham")
    doc = await register(demo_db_sqlite, settings)
    await direct_to(demo_db_sqlite, doc.id, lead="thu.le", co_user_ids=[await user_id(demo_db_sqlite, "hanh.pham")])
    assert await changed(*people) == {"thu.le": 0, "hue.do": 0, "hanh.pham": 0}
    # Reassigned: the lead goes to hue.do; hanh.pham stays a co-handler.
    await direct_to(demo_db_sqlite, doc.id, lead="hue.do", co_user_ids=[await user_id(demo_db_sqlite, "hanh.pham")])
    assert await changed(*people) == {"thu.le": 1, "hue.do": 0, "hanh.pham": 0}
    # Returned to the clerk by the lead: every part goes.
    lead = await principal(demo_db_sqlite, "hue.do")
    async with demo_db_sqlite.session() as session:
        await incoming.return_to_clerk(session, principal=lead, document_id=doc.id, reason="Không thuộc thẩm quyền.")
    assert await changed(*people) == {"thu.le": 1, "hue.do": 1, "hanh.pham": 1}
