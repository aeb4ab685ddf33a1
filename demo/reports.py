"""Demo report requests, created through the service, their letters signed and issued like any
outgoing document, and fanned out by the real workflows:
one collecting (some reports in, one awaiting approval), one past its deadline (overdue targets
get their notices), one closed, one from a district to its communes with leader approval."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select

from demo.outgoing import sign_and_issue
from services.authz import Principal, load_principal
from services.config import Settings
from services.db import Database, utcnow
from services.directory.models import Organization, Role, User
from services.outbox import service as outbox
from services.outgoing.service import users_with
from services.reports import service as reports
from services.reports.models import ReportRequest
from services.uploads import DOCX, CheckedUpload

log = logging.getLogger(__name__)

FIGURES = [
    reports.FieldSpec("Số hộ gia đình đăng ký thực hiện", "hộ", "integer"),
    reports.FieldSpec("Số hộ đạt tiêu chí 5 không 3 sạch", "hộ", "integer"),
    reports.FieldSpec("Tỷ lệ hộ đạt", "%", "percent"),
    reports.FieldSpec("Kinh phí vận động", "triệu đồng", "decimal"),
]


async def _principal(database: Database, username: str) -> Principal | None:
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
        return await load_principal(session, user) if user else None


def _docx(text: str) -> CheckedUpload:
    import io

    from docx import Document

    doc = Document()
    doc.add_heading(text, 1)
    doc.add_paragraph("Đơn vị báo cáo: ........................................")
    doc.add_paragraph("1. Kết quả thực hiện: ........................................")
    buffer = io.BytesIO()
    doc.save(buffer)
    return CheckedUpload(filename="bao-cao.docx", content_type=DOCX, data=buffer.getvalue())


async def _create(
    database: Database,
    settings: Settings,
    who: Principal,
    *,
    title: str,
    scope: str,
    under: str | None = None,
    deadline: datetime,
    now: datetime | None = None,
    approval: bool = False,
    fields: list[reports.FieldSpec] = FIGURES,
) -> ReportRequest | None:
    async with database.session() as session:
        exists = await session.scalar(
            select(ReportRequest.id).where(ReportRequest.organization_id == who.me.organization_id, ReportRequest.title == title)
        )
        if exists:
            return None
        under_id = await session.scalar(select(Organization.id).where(Organization.code == under)) if under else None
        ids, label = await reports.resolve_targets(session, organization_id=who.me.organization_id, mode=scope, under_id=under_id)
        req = await reports.create_request(
            session,
            principal=who,
            settings=settings,
            organization_id=who.me.organization_id,
            title=title,
            instructions="Căn cứ Kế hoạch công tác Hội năm 2026, đề nghị các cơ sở Hội báo cáo kết quả theo mẫu "
            "đính kèm và nhập các chỉ tiêu số liệu trên hệ thống.\nĐầu mối liên hệ: Ban Tuyên giáo.",
            deadline=deadline,
            target_ids=ids,
            scope_label=label,
            fields=fields,
            requires_approval=approval,
            template=_docx("MẪU BÁO CÁO"),
            now=now,
        )
        clerk = (await users_with(session, organization_id=who.me.organization_id, roles=[Role.clerk]))[0].username
    # Its letter signed by the leader, then numbered, sealed and issued: the request opens.
    assert req.letter_outgoing_id is not None
    await sign_and_issue(settings, database, req.letter_outgoing_id, clerk=clerk)
    await outbox.tell_all(database, "outgoing", [req.letter_outgoing_id], "changed", "demo")
    return req


async def _submit(
    database: Database, settings: Settings, req: ReportRequest, username: str, org_code: str, values: list[str], at: datetime | None = None
) -> None:
    who = await _principal(database, username)
    if who is None:
        return
    async with database.session() as session:
        oid = await session.scalar(select(Organization.id).where(Organization.code == org_code))
        assert oid is not None, org_code
        fresh = await reports.get_request(session, request_id=req.id)
        figures = {str(f.id): v for f, v in zip(fresh.fields, values)}
        try:
            await reports.submit(
                session,
                principal=who,
                settings=settings,
                request_id=req.id,
                organization_id=oid,
                file=_docx(f"BÁO CÁO {org_code.upper()}"),
                figures=figures,
                note="Đơn vị đã tổng hợp từ các chi hội.",
                at=at,
            )
        except reports.NotFound:
            log.info("demo: %s is not a target of request %s", org_code, req.id)


async def seed_demo(*, settings: Settings, database: Database, client) -> None:
    """Idempotent: a request that already exists (same organisation and title) is left alone."""

    lan = await _principal(database, "lan.nguyen")
    if lan is None:
        return
    now = utcnow()

    collecting = await _create(
        database,
        settings,
        lan,
        scope="subtree",
        deadline=now + timedelta(days=10),
        title="Báo cáo kết quả thực hiện Cuộc vận động xây dựng gia đình 5 không 3 sạch quý IV/2026",
    )
    if collecting:
        await _submit(database, settings, collecting, "tpbentre.chuyenvien", "hlhpn-tpbentre", ["1.250", "1.180", "94,4", "35,5"])
        await _submit(database, settings, collecting, "chauthanh.chuyenvien", "hlhpn-chauthanh", ["980", "901", "91,9", "22"])
        await _submit(database, settings, collecting, "phukhuong.chuyenvien", "hlhpn-phukhuong", ["312", "300", "96,2", "4,5"])

    overdue = await _create(
        database,
        settings,
        lan,
        scope="children",
        now=now - timedelta(days=20),
        deadline=now - timedelta(days=3),
        title="Báo cáo sơ kết 6 tháng đầu năm 2026 công tác Hội và phong trào phụ nữ",
        fields=[
            reports.FieldSpec("Số hội viên mới kết nạp", "người", "integer"),
            reports.FieldSpec("Số mô hình sinh kế được hỗ trợ", "mô hình", "integer"),
        ],
    )
    if overdue:
        await _submit(database, settings, overdue, "tpbentre.chuyenvien", "hlhpn-tpbentre", ["146", "12"], at=now - timedelta(days=6))
        await _submit(database, settings, overdue, "mocaynam.chuyenvien", "hlhpn-mocaynam", ["88", "5"], at=now - timedelta(days=1))

    closed = await _create(
        database,
        settings,
        lan,
        scope="children",
        now=now - timedelta(days=40),
        deadline=now - timedelta(days=25),
        title="Báo cáo số liệu hội viên tham gia Đề án 939 năm 2026",
        fields=[reports.FieldSpec("Số hội viên được hỗ trợ khởi nghiệp", "người", "integer")],
    )
    if closed:
        await _submit(database, settings, closed, "tpbentre.chuyenvien", "hlhpn-tpbentre", ["57"], at=now - timedelta(days=30))
        await _submit(database, settings, closed, "chauthanh.chuyenvien", "hlhpn-chauthanh", ["41"], at=now - timedelta(days=24))

    district = await _principal(database, "chauthanh.chutich")
    if district is not None:
        approval = await _create(
            database,
            settings,
            district,
            scope="children",
            deadline=now + timedelta(days=5),
            approval=True,
            title="Báo cáo tình hình tổ chức Ngày Gia đình Việt Nam 28/6 tại cơ sở",
            fields=[reports.FieldSpec("Số hoạt động tổ chức", "hoạt động", "integer"), reports.FieldSpec("Ghi chú nổi bật", "", "text")],
        )
        if approval:
            for user, code in (("tanthach.chuyenvien", "hlhpn-tanthach"), ("ankhanh.chuyenvien", "hlhpn-ankhanh")):
                await _submit(database, settings, approval, user, code, ["6", "Tổ chức hội thi gia đình hạnh phúc."])

    # Their workflows were queued when their letters were issued.
    if closed:
        async with database.session() as session:
            waiting = await reports.close(
                session, principal=lan, request_id=closed.id, reason="Đã đủ số liệu để tổng hợp báo cáo Trung ương Hội."
            )
            await outbox.tell(session, "report-request", closed.id, "wake")
            for organization_id in waiting:
                await outbox.tell(session, "report-target", closed.id, "changed", organization_id)
