"""Demo outgoing documents of Hội LHPN tỉnh Bến Tre in every state a newcomer should see:
a draft, one returned for revision, one in review (overdue for its first reviewer), one
awaiting the leader's signature, one signed and waiting for the clerk, and two issued and
dispatched to the districts (whose clerks then find them in their incoming queues).

Created through the services and the real signing steps, then handed to their workflows.
Idempotent: nothing happens when the first demo document exists.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from demo.directory import DEMO_PIN
from services.audit.service import Actor
from services.blobs import BlobStore
from services.config import Settings
from services.db import Database, utcnow
from services.directory.models import Organization, Unit, User
from services.outbox import service as outbox
from services.outgoing import service as outgoing
from services.outgoing.models import Decision, OutgoingDocument, OutgoingReview, ReviewMode, Urgency

log = logging.getLogger(__name__)
DISTRICTS = ("hlhpn-tpbentre", "hlhpn-chauthanh", "hlhpn-mocaynam")
COMMUNES = ("hlhpn-phukhuong", "hlhpn-mythanhan", "hlhpn-tanthach", "hlhpn-ankhanh", "hlhpn-andinh", "hlhpn-daphuochoi")

DOCS = [
    # (ref, type, drafter, subject, body, recipients, stage)
    (
        "demo-outgoing-1",
        "KH",
        "thu.le",
        "Kế hoạch tổ chức Tháng hành động vì bình đẳng giới năm 2026",
        "I. MỤC ĐÍCH, YÊU CẦU\nNâng cao nhận thức của hội viên, phụ nữ về bình đẳng giới, phòng chống bạo lực gia đình.\n"
        "II. NỘI DUNG\n1. Tổ chức mít tinh hưởng ứng tại 09 huyện, thành phố.\n2. Tuyên truyền trên mạng xã hội của Hội.\n"
        "III. TỔ CHỨC THỰC HIỆN\nBan Tuyên giáo chủ trì, phối hợp Văn phòng triển khai kế hoạch.",
        DISTRICTS,
        "draft",
    ),
    (
        "demo-outgoing-2",
        "CV",
        "hanh.pham",
        "V/v rà soát hộ phụ nữ nghèo, cận nghèo năm 2026",
        "Thực hiện Chương trình mục tiêu quốc gia giảm nghèo bền vững, Ban Thường vụ Hội LHPN tỉnh đề nghị Hội LHPN các "
        "huyện, thành phố rà soát hộ phụ nữ nghèo, cận nghèo trên địa bàn.\nBáo cáo gửi về Hội LHPN tỉnh (qua Ban Gia đình - "
        "Xã hội) trước ngày 15/12/2026.",
        DISTRICTS,
        "returned",
    ),
    (
        "demo-outgoing-3",
        "BC",
        "hanh.pham",
        "Báo cáo kết quả công tác Hội và phong trào phụ nữ 11 tháng năm 2026",
        "I. KẾT QUẢ THỰC HIỆN\nCác cấp Hội tổ chức 1.245 cuộc tuyên truyền với 45.300 lượt hội viên tham dự.\n"
        "II. TỒN TẠI, HẠN CHẾ\nMột số cơ sở Hội chưa cập nhật số liệu kịp thời.\n"
        "III. PHƯƠNG HƯỚNG, NHIỆM VỤ THÁNG 12\nTổng kết công tác Hội năm 2026.",
        (),
        "in_review",
    ),
    (
        "demo-outgoing-4",
        "TTr",
        "ngoc.vo",
        "Tờ trình về việc khen thưởng tập thể, cá nhân tiêu biểu năm 2026",
        "Kính trình Ban Thường vụ xem xét khen thưởng 12 tập thể và 25 cá nhân có thành tích xuất sắc.\n"
        "Kính trình Ban Thường vụ xem xét, quyết định.",
        (),
        "awaiting_signature",
    ),
    (
        "demo-outgoing-5",
        "TB",
        "thu.le",
        "Thông báo lịch giao ban công tác Hội tháng 12/2026",
        "Ban Thường vụ Hội LHPN tỉnh thông báo lịch giao ban trực tuyến với Hội LHPN các huyện, thành phố vào "
        "8 giờ 00 ngày 05/12/2026 tại Phòng họp trực tuyến của Liên Thông.",
        DISTRICTS,
        "signed",
    ),
    (
        "demo-outgoing-6",
        "QĐ",
        "ngoc.vo",
        "Quyết định thành lập Ban Tổ chức Hội thi “Phụ nữ với chuyển đổi số” năm 2026",
        "BAN THƯỜNG VỤ HỘI LIÊN HIỆP PHỤ NỮ TỈNH\nCăn cứ Điều lệ Hội Liên hiệp Phụ nữ Việt Nam;\n"
        "Xét đề nghị của Chánh Văn phòng,\nQUYẾT ĐỊNH:\nĐiều 1. Thành lập Ban Tổ chức Hội thi gồm 07 thành viên.\n"
        "Điều 2. Quyết định có hiệu lực kể từ ngày ký.\nĐiều 3. Văn phòng, các ban và các cá nhân có tên tại Điều 1 "
        "chịu trách nhiệm thi hành Quyết định này.",
        DISTRICTS,
        "issued",
    ),
    (
        "demo-outgoing-7",
        "CV",
        "thu.le",
        "V/v tuyên truyền phòng chống xâm hại trẻ em dịp nghỉ Tết",
        "Ban Thường vụ Hội LHPN tỉnh đề nghị các cơ sở Hội đẩy mạnh tuyên truyền kỹ năng phòng chống xâm hại trẻ em "
        "trong dịp nghỉ Tết Nguyên đán.",
        DISTRICTS + COMMUNES[:2],
        "issued",
    ),
]


async def sign_and_issue(settings: Settings, database: Database, document_id: int, *, clerk: str, issue: bool = True) -> None:
    """The real steps after submission: the PDF rendered, signed by its leader with the demo PIN,
    then (with `issue`) numbered, sealed and issued by `clerk`. The caller tells the workflow."""
    # The signing steps live beside the workflows: imported here only, so services/ keeps no
    # import-time dependency on signing/ or workflows/.
    from signing.outgoing import issue_seal, sign_as_leader, signing_profile
    from signing.service import open_signer
    from workflows.context import ActivityContext
    from workflows.outgoing.activities import OutgoingActivities

    blobs = BlobStore.for_settings(settings)
    await OutgoingActivities(ActivityContext(settings, database)).render(document_id)
    async with database.session() as session:
        doc = await outgoing.get(session, document_id=document_id)
        leader = await session.get(User, doc.signer_id)
        assert leader is not None
        leader_actor = Actor(user_id=leader.id, name=leader.full_name, organization_id=doc.organization_id)
        profile = await signing_profile(session, settings=settings, organization_id=doc.organization_id, user_id=leader.id)
        key = await open_signer(session, settings=settings, actor=leader_actor, pin=DEMO_PIN, user=leader)
        assert doc.prepared_pdf_sha is not None
        signed = await sign_as_leader(
            settings=settings,
            profile=profile,
            actor=leader_actor,
            user=leader,
            signer=key,
            pdf=blobs.get(doc.prepared_pdf_sha),
            document_id=doc.id,
        )
        await outgoing.record_signature(session, settings=settings, actor=leader_actor, doc=doc, pdf=signed, method="pin", report_json=None)
    if not issue:
        return
    async with database.session() as session:
        doc = await outgoing.get(session, document_id=document_id)
        user = (await session.scalars(select(User).where(User.username == clerk))).one()
        clerk_actor = Actor(user_id=user.id, name=user.full_name, organization_id=doc.organization_id)
        org = await session.get(Organization, doc.organization_id)
        assert org is not None and doc.leader_pdf_sha is not None
        leader_pdf = blobs.get(doc.leader_pdf_sha)
        org_profile = await signing_profile(session, settings=settings, organization_id=org.id)
        seal_key = await open_signer(session, settings=settings, actor=clerk_actor, pin=DEMO_PIN, org=org)

        async def seal(stamp):
            return await issue_seal(
                settings=settings,
                profile=org_profile,
                actor=clerk_actor,
                org=org,
                signer=seal_key,
                leader_pdf=leader_pdf,
                stamp=stamp,
                pdf_attachments={},
            )

        await outgoing.issue(session, settings=settings, principal=None, actor=clerk_actor, document_id=document_id, seal=seal)


async def seed_demo(*, settings: Settings, database: Database, client: object) -> None:
    """Create the demo documents (once) and start their workflows."""
    async with database.session() as session:
        if await session.scalar(select(OutgoingDocument.id).where(OutgoingDocument.source_ref == DOCS[0][0])):
            return
    for ref, doc_type, drafter, subject, body, recipient_codes, stage in DOCS:
        try:
            async with database.session() as session:
                users = {u.username: u for u in (await session.scalars(select(User))).all()}
                province = await session.scalar(select(Organization).where(Organization.code == "hlhpn-bentre"))
                assert province is not None
                codes = {o.code: o.id for o in (await session.scalars(select(Organization))).all()}
                unit_code = "GDXH" if drafter == "hanh.pham" else "TG" if drafter == "thu.le" else "VP"
                unit = await session.scalar(select(Unit).where(Unit.organization_id == province.id, Unit.code == unit_code))
                author = users[drafter]
                actor = Actor(user_id=author.id, name=author.full_name, organization_id=province.id)
                signer = users["hue.do"] if doc_type == "TB" else users["lan.nguyen"]
                doc = await outgoing.create_draft(
                    session,
                    settings=settings,
                    actor=actor,
                    organization_id=province.id,
                    source_ref=ref,
                    fields=outgoing.DraftFields(
                        doc_type=doc_type,
                        subject=subject,
                        body=body,
                        signer_id=signer.id,
                        recipient_org_ids=[codes[c] for c in recipient_codes],
                        external_recipients=["Tỉnh đoàn Bến Tre"] if ref == "demo-outgoing-6" else [],
                        authority_prefix="KT." if signer.username == "hue.do" else "TM.",
                        authority_line="CHỦ TỊCH" if signer.username == "hue.do" else "BAN THƯỜNG VỤ",
                        unit_id=unit.id if unit else None,
                        urgency=Urgency.urgent if doc_type == "CV" else Urgency.normal,
                    ),
                )
                doc_id = doc.id
                if stage in ("returned", "in_review"):
                    reviewers = [users["ngoc.vo"].id, users["hue.do"].id]
                    await outgoing.submit(
                        session,
                        actor=actor,
                        doc=doc,
                        reviewer_ids=reviewers,
                        mode=ReviewMode.sequential,
                        due_at=utcnow() + timedelta(days=2),
                    )
                    if stage == "returned":
                        reviewer = users["ngoc.vo"]
                        await outgoing.decide(
                            session,
                            actor=Actor(user_id=reviewer.id, name=reviewer.full_name),
                            doc=doc,
                            decision=Decision.returned,
                            comment="Đề nghị bổ sung biểu mẫu thống kê kèm theo và thống nhất mốc thời gian báo cáo.",
                        )
                    else:  # the first reviewer's deadline passed yesterday: the list shows it overdue
                        for review in (await session.scalars(select(OutgoingReview).where(OutgoingReview.document_id == doc.id))).all():
                            review.due_at = utcnow() - timedelta(days=1)
                elif stage != "draft":
                    await outgoing.submit(session, actor=actor, doc=doc)
            if stage in ("signed", "issued"):
                await sign_and_issue(settings, database, doc_id, clerk="mai.tran", issue=stage == "issued")
            await outbox.tell_all(database, "outgoing", [doc_id], "changed", "demo")
        except Exception:  # one document must not stop the others
            log.exception("demo outgoing document %s failed", ref)
