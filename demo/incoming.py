"""Demo incoming documents for the province and the Châu Thành district, in several states
(waiting for registration, awaiting direction, in progress, overdue, done), created through the
services and handed to their workflows. Idempotent: does nothing when demo documents exist."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from demo.pdf import demo_pdf
from services.audit.service import Actor
from services.authz import load_principal
from services.blobs import BlobStore
from services.calendar import vn_today
from services.config import Settings
from services.db import Database
from services.directory import service as directory
from services.directory.models import Organization, Unit, User
from services.incoming import service as incoming
from services.incoming.models import IncomingDocument
from services.outbox import service as outbox


async def seed_demo(*, settings: Settings, database: Database, client) -> None:
    async with database.session() as session:
        if await session.scalar(select(IncomingDocument.id).limit(1)):
            return
        orgs = {o.code: o for o in (await session.scalars(select(Organization))).all()}
        users = {u.username: u for u in (await session.scalars(select(User))).all()}
        if "hlhpn-bentre" not in orgs:
            return
        province, district = orgs["hlhpn-bentre"], orgs["hlhpn-chauthanh"]
        units = {(u.organization_id, u.code): u for u in (await session.scalars(select(Unit))).all()}
        seeder = Actor.system("seed-demo")
        # Unit heads, so that a unit can lead and its head delegate inside it.
        await directory.set_unit_head(session, actor=seeder, unit=units[(province.id, "GDXH")], user=users["hanh.pham"])
        await directory.set_unit_head(session, actor=seeder, unit=units[(province.id, "VP")], user=users["ngoc.vo"])
    blobs = BlobStore.for_settings(settings)
    today = vn_today()
    ids: list[int] = []

    async def who(username: str):
        async with database.session() as session:
            return await load_principal(session, users[username])

    async def add(
        org: Organization,
        clerk: str,
        notation: str,
        issuer: str,
        doc_type: str,
        subject: str,
        days_ago: int,
        urgency: str = "normal",
        secrecy: str = "normal",
    ) -> int:
        principal = await who(clerk)
        pdf = demo_pdf(f"{notation} — {issuer}", subject)  # before the transaction: it takes a moment
        async with database.session() as session:
            doc = await incoming.register(
                session,
                principal=principal,
                organization_id=org.id,
                blobs=blobs,
                meta=incoming.Metadata(
                    issuer_name=issuer,
                    number_notation=notation,
                    document_date=today - timedelta(days=days_ago + 2),
                    doc_type=doc_type,
                    subject=subject,
                    urgency=urgency,
                    secrecy=secrecy,
                    arrival_date=max(today - timedelta(days=days_ago), date(today.year, 1, 1)),  # this year's register
                ),
                files=[
                    incoming.NewFile(
                        filename=f"{notation.replace('/', '-')}.pdf",
                        content_type="application/pdf",
                        data=pdf,
                    )
                ],
            )
            ids.append(doc.id)
            return doc.id

    async def direct(doc_id: int, leader: str, lead: str, instruction: str, due_days: int, **extra) -> None:
        principal = await who(leader)
        async with database.session() as session:
            await incoming.direct(
                session,
                principal=principal,
                document_id=doc_id,
                instruction=instruction,
                handlers=incoming.Handlers(lead_user_id=users[lead].id, **extra),
                due_working_days=due_days,
            )

    async def act(doc_id: int, username: str, fn, **kw) -> None:
        principal = await who(username)
        async with database.session() as session:
            await fn(session, principal=principal, document_id=doc_id, **kw)

    # Province: awaiting direction (urgent), in progress, overdue, done — registered oldest
    # first, as a clerk would: arrival numbers and dates run in the same order.
    d4 = await add(
        province,
        "mai.tran",
        "09/TB-HLHPN",
        "Hội LHPN huyện Mỏ Cày Nam",
        "TB",
        "Thông báo kết quả Đại hội đại biểu Phụ nữ huyện Mỏ Cày Nam nhiệm kỳ 2026-2031",
        20,
    )
    d3 = await add(
        province,
        "mai.tran",
        "312/SYT-NVY",
        "Sở Y tế tỉnh Bến Tre",
        "CV",
        "Về việc phối hợp truyền thông chăm sóc sức khỏe sinh sản cho phụ nữ vùng nông thôn",
        12,
    )
    d2 = await add(
        province,
        "mai.tran",
        "48/HD-TWHLHPN",
        "Trung ương Hội LHPN Việt Nam",
        "HD",
        "Hướng dẫn tổ chức Ngày hội phụ nữ khởi nghiệp năm 2026",
        3,
    )
    await add(
        province,
        "mai.tran",
        "125/KH-UBND",
        "Ủy ban nhân dân tỉnh Bến Tre",
        "KH",
        "Kế hoạch tổ chức Tháng hành động vì bình đẳng giới và phòng ngừa, ứng phó với bạo lực trên cơ sở giới",
        0,
        urgency="urgent",
    )
    await direct(
        d2,
        "lan.nguyen",
        "thu.le",
        "Giao Ban Tuyên giáo chủ trì, phối hợp Ban Gia đình - Xã hội tham mưu kế hoạch triển khai.",
        5,
        co_user_ids=[users["hanh.pham"].id],
        info_user_ids=[users["hue.do"].id],
    )
    await act(d2, "thu.le", incoming.record_progress, body="Đã xây dựng dự thảo kế hoạch, đang xin ý kiến Ban GĐXH.")
    await direct(d3, "hue.do", "hanh.pham", "Ban Gia đình - Xã hội nghiên cứu, đề xuất nội dung phối hợp.", 3)
    async with database.session() as session:
        # Demo only: move the due date into the past so the page shows an overdue document.
        doc = await session.get(IncomingDocument, d3)
        assert doc is not None
        doc.due_date = today - timedelta(days=3)
    await direct(d4, "lan.nguyen", "ngoc.vo", "Văn phòng tổng hợp, báo cáo Thường trực.", 5)
    await act(d4, "ngoc.vo", incoming.complete, result="Đã tổng hợp vào báo cáo tháng của Hội LHPN tỉnh.")
    # Documents delivered through the system, waiting for the clerks.
    subject1 = "Báo cáo kết quả thực hiện Đề án 939 hỗ trợ phụ nữ khởi nghiệp quý III"
    subject2 = "Về việc báo cáo sơ kết 6 tháng thực hiện Nghị quyết Đại hội Phụ nữ các cấp"
    sha = blobs.put(demo_pdf("27/BC-HLHPN — Hội LHPN huyện Châu Thành", subject1))
    sha2 = blobs.put(demo_pdf("156/HLHPN-VP — Hội LHPN tỉnh Bến Tre", subject2))
    async with database.session() as session:
        a1 = await incoming.receive_from_system(
            session,
            actor=seeder,
            recipient_org_id=province.id,
            sender_org_id=district.id,
            outgoing_ref="demo-chauthanh-27",
            number_notation="27/BC-HLHPN",
            document_date=today - timedelta(days=1),
            doc_type="BC",
            subject=subject1,
            files=[("27-BC-HLHPN.pdf", "application/pdf", sha)],
            signer_name="Nguyễn Thị Lan Phương",
        )
        a2 = await incoming.receive_from_system(
            session,
            actor=seeder,
            recipient_org_id=district.id,
            sender_org_id=province.id,
            outgoing_ref="demo-bentre-156",
            number_notation="156/HLHPN-VP",
            document_date=today,
            doc_type="CV",
            urgency="urgent",
            subject=subject2,
            files=[("156-HLHPN-VP.pdf", "application/pdf", sha2)],
            signer_name="Nguyễn Thị Lan",
        )
        ids += [a1.id, a2.id]
    # District: registered and being handled.
    d5 = await add(
        district,
        "chauthanh.vanthu",
        "88/UBND-VX",
        "Ủy ban nhân dân huyện Châu Thành",
        "CV",
        "Về việc tham gia Hội thi nấu ăn ngon chào mừng Ngày Phụ nữ Việt Nam 20/10",
        2,
    )
    await direct(d5, "chauthanh.chutich", "chauthanh.chuyenvien", "Văn phòng chủ trì chuẩn bị đội thi.", 7)
    await outbox.tell_all(database, "incoming", ids)
