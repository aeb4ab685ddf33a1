"""The whole outgoing flow through the pages, on a real Temporal dev server with a worker:
draft → sequential review (with reminders) → PDF rendered by the workflow → leader signs with
the PIN → clerk numbers, seals and issues → the workflow delivers to three organisations, whose
clerks see the document arrive, and the sender's page shows each recipient's status."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from services.audit.models import AuditEntry
from services.documents.register_prints import RegisterPrint
from services.incoming.models import IncomingDocument
from services.notifications.models import Notification
from services.outgoing.models import OutgoingDocument, OutgoingRecipient
from tests.helpers import csrf_of, send, sign_in
from tests.outgoing import flow
from tests.outgoing.flow import org, user
from tests.signing.conftest import make_tiny_pdf


async def wait_for(database, check, timeout: float = 90.0):  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with database.session() as session:
            result = await check(session)
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting for the workflow")
        await asyncio.sleep(0.3)


async def test_draft_review_sign_issue_dispatch_through_the_pages(
    og_worker,
    pyd_client,
    demo_db_sqlite,
    og_settings,
    client_for,
) -> None:
    db = demo_db_sqlite
    async with db.session() as session:
        districts = [(await org(session, c)).id for c in ("hlhpn-tpbentre", "hlhpn-chauthanh", "hlhpn-mocaynam")]
        leader, reviewer1, reviewer2 = [await user(session, u) for u in ("lan.nguyen", "ngoc.vo", "hanh.pham")]

    officer = await client_for(db, pyd_client)
    await sign_in(officer, "thu.le")
    form = await officer.get("/outgoing/new?doc_type=KH")
    assert form.status_code == 200 and "Kế hoạch" in form.text
    token = await csrf_of(officer, "/outgoing/new")
    created = await officer.post(
        "/outgoing",
        data={
            "csrf_token": token,
            "doc_type": "KH",
            "subject": "Kế hoạch tổ chức Ngày Gia đình Việt Nam 28/6/2026",
            "body": "I. MỤC ĐÍCH, YÊU CẦU\nTuyên truyền giá trị gia đình Việt Nam.\nII. NỘI DUNG\nTổ chức hội thi.",
            "signer_id": str(leader.id),
            "authority_prefix": "TM.",
            "authority_line": "BAN THƯỜNG VỤ",
            "urgency": "urgent",
            "secrecy": "normal",
            "groups": "district",
            "external_recipients": "Tỉnh đoàn Bến Tre",
        },
        files={"files": ("phu-luc.pdf", make_tiny_pdf("Phu luc"), "application/pdf")},
    )
    assert created.status_code == 303, created.text[:500]
    doc_id = int(created.headers["location"].split("/")[2].split("?")[0])
    async with db.session() as session:
        rows = (await session.scalars(select(OutgoingRecipient).where(OutgoingRecipient.document_id == doc_id))).all()
        assert sorted(r.organization_id for r in rows if r.organization_id) == sorted(districts)

    # Edit: a second version, compared with the first.
    token = await csrf_of(officer, f"/outgoing/{doc_id}/edit")
    edited = await officer.post(
        f"/outgoing/{doc_id}/edit",
        data={
            "csrf_token": token,
            "doc_type": "KH",
            "subject": "Kế hoạch tổ chức Ngày Gia đình Việt Nam 28/6/2026",
            "body": "I. MỤC ĐÍCH, YÊU CẦU\nTuyên truyền giá trị gia đình Việt Nam, phòng chống bạo lực gia đình.\nII. NỘI DUNG\nTổ chức hội thi.",
            "signer_id": str(leader.id),
            "authority_prefix": "TM.",
            "authority_line": "BAN THƯỜNG VỤ",
            "urgency": "urgent",
            "secrecy": "normal",
            "groups": "district",
            "external_recipients": "Tỉnh đoàn Bến Tre",
            "note": "Bổ sung nội dung phòng chống bạo lực gia đình",
        },
        files={"docx": ("", b"", "application/octet-stream")},
    )
    assert edited.status_code == 303, edited.text[:500]
    diff = await officer.get(f"/outgoing/{doc_id}/diff?a=1&b=2")
    assert "phòng chống bạo lực gia đình" in diff.text and "og-add" in diff.text

    due = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    token = await csrf_of(officer, f"/outgoing/{doc_id}")
    submitted = await officer.post(
        f"/outgoing/{doc_id}/submit",
        data={
            "csrf_token": token,
            "reviewer_ids": [str(reviewer1.id), str(reviewer2.id)],
            "mode": "sequential",
            "review_due": due,
        },
    )
    assert submitted.status_code == 303

    second = await client_for(db, pyd_client)
    await sign_in(second, "hanh.pham")
    token = await csrf_of(second, f"/outgoing/{doc_id}")
    early = await second.post(f"/outgoing/{doc_id}/review", data={"csrf_token": token, "decision": "initialled"})
    assert early.status_code == 409  # sequential: not her turn yet

    first = await client_for(db, pyd_client)
    await sign_in(first, "ngoc.vo")
    assert "Chờ góp ý" in (await first.get("/outgoing?tab=review")).text
    token = await csrf_of(first, f"/outgoing/{doc_id}")
    ok = await first.post(
        f"/outgoing/{doc_id}/review", data={"csrf_token": token, "decision": "commented", "comment": "Đề nghị ghi rõ thời gian hội thi."}
    )
    assert ok.status_code == 303
    token = await csrf_of(second, f"/outgoing/{doc_id}")
    ok = await second.post(f"/outgoing/{doc_id}/review", data={"csrf_token": token, "decision": "initialled"})
    assert ok.status_code == 303

    # The workflow renders the PDF for signing (LibreOffice, fields, reserved seal field).
    await wait_for(db, lambda s: _prepared(s, doc_id))

    lead = await client_for(db, pyd_client)
    await sign_in(lead, "lan.nguyen")
    assert "Kế hoạch tổ chức Ngày Gia đình" in (await lead.get("/outgoing?tab=sign")).text
    token = await csrf_of(lead, f"/outgoing/{doc_id}")
    wrong = await lead.post(f"/outgoing/{doc_id}/sign", data={"csrf_token": token, "pin": "000000"})
    assert wrong.status_code == 422 and "Còn 4 lần thử" in wrong.text
    # Not a dead end: the signing form again, the message beside the PIN, the pages to read above it.
    assert "data-pin-error" in wrong.text and f'action="/outgoing/{doc_id}/sign"' in wrong.text
    assert f"/outgoing/{doc_id}/pdf/" in wrong.text and 'name="pin"' in wrong.text
    signed = await lead.post(f"/outgoing/{doc_id}/sign", data={"csrf_token": token, "pin": "123456"})
    assert signed.status_code == 303, signed.text[:800]

    clerk = await client_for(db, pyd_client)
    await sign_in(clerk, "mai.tran")
    assert "Kế hoạch tổ chức Ngày Gia đình" in (await clerk.get("/outgoing?tab=issue")).text
    token = await csrf_of(clerk, f"/outgoing/{doc_id}")
    refused = await clerk.post(f"/outgoing/{doc_id}/issue", data={"csrf_token": token, "pin": "000000"})
    assert refused.status_code == 422 and "data-pin-error" in refused.text and "Còn 4 lần thử" in refused.text
    assert f'action="/outgoing/{doc_id}/issue"' in refused.text  # the seal's form again
    issued = await clerk.post(f"/outgoing/{doc_id}/issue", data={"csrf_token": token, "pin": "123456"})
    assert issued.status_code == 303, issued.text[:800]

    async with db.session() as session:
        doc = await session.get(OutgoingDocument, doc_id)
        assert doc.notation == "01/KH-HLHPN" and doc.status.value == "issued"

    # Dispatch: exactly one incoming document per district, the seal validated by the workflow.
    incoming = await wait_for(db, lambda s: _incoming(s, doc_id, 3))
    assert sorted(d.organization_id for d in incoming) == sorted(districts)
    assert all(d.number_notation == "01/KH-HLHPN" and d.status == "arrived" for d in incoming)
    await wait_for(db, lambda s: _validated(s, doc_id))

    page = await clerk.get(f"/outgoing/{doc_id}")
    assert page.text.count("Đã đến") >= 3
    assert "Chữ ký hợp lệ" in page.text and "Cấp số, đóng dấu, phát hành" in page.text

    # The recipient's clerk sees it in the incoming queue of her organisation.
    recipient = await client_for(db, pyd_client)
    await sign_in(recipient, "tpbentre.vanthu")
    listing = await recipient.get("/incoming")
    if listing.status_code == 200:
        assert "Kế hoạch tổ chức Ngày Gia đình" in listing.text

    # The register of the year, on screen and printable (DOCX, and PDF through LibreOffice).
    year = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).year
    chosen = await clerk.get(f"/outgoing/register?year={year}")
    assert chosen.status_code == 303 and chosen.headers["location"] == f"/outgoing/register/{year}"
    screen = await clerk.get(f"/outgoing/register/{year}")
    assert "01/KH-HLHPN" in screen.text and "Kế hoạch: Kế hoạch tổ chức Ngày Gia đình" in screen.text
    docx = await clerk.get(f"/outgoing/register/{year}?format=docx")
    assert docx.status_code == 200 and docx.content.startswith(b"PK")
    # The PDF is printed in the background: the clerk starts it, the worker prints it.
    token = await csrf_of(clerk, f"/outgoing/register/{year}")
    started = await clerk.post(f"/outgoing/register/{year}/print", data={"csrf_token": token})
    assert started.status_code == 303
    print_id = await wait_for(db, lambda s: s.scalar(select(RegisterPrint.id).where(RegisterPrint.status == "done")))
    pdf = await clerk.get(f"/registers/prints/{print_id}/book.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "01/KH-HLHPN" in flow.pdftotext(pdf.content) and "SỔ ĐĂNG KÝ VĂN BẢN ĐI" in flow.pdftotext(pdf.content)

    async with db.session() as session:
        actions = set((await session.scalars(select(AuditEntry.action).where(AuditEntry.object_id == str(doc_id)))).all())
        assert {
            "outgoing.create",
            "outgoing.version",
            "outgoing.submit",
            "outgoing.review",
            "outgoing.render",
            "outgoing.sign",
            "outgoing.issue",
            "outgoing.deliver",
            "outgoing.validate",
        } <= actions
        assert "signing.pin_failed" in set((await session.scalars(select(AuditEntry.action))).all())
        kinds = set((await session.scalars(select(Notification.kind))).all())
        assert {"outgoing.review", "outgoing.sign", "outgoing.signed", "outgoing.issued"} <= kinds


async def _prepared(session, doc_id):  # type: ignore[no-untyped-def]
    doc = await session.get(OutgoingDocument, doc_id)
    return doc.prepared_pdf_sha is not None


async def _incoming(session, doc_id, n):  # type: ignore[no-untyped-def]
    rows = (await session.scalars(select(IncomingDocument).where(IncomingDocument.outgoing_ref == f"outgoing-{doc_id}"))).all()
    delivered = (
        await session.scalars(
            select(OutgoingRecipient).where(OutgoingRecipient.document_id == doc_id, OutgoingRecipient.delivered_at.is_not(None))
        )
    ).all()
    return rows if len(rows) == n and len(delivered) == n else None


async def _validated(session, doc_id):  # type: ignore[no-untyped-def]
    doc = await session.get(OutgoingDocument, doc_id)
    return doc.validation_report and doc.validation_report.count('"field_name"') == 2


async def test_reviewers_are_reminded_before_and_after_their_deadline(og_worker, pyd_client, demo_db_sqlite, og_settings) -> None:
    """The workflow sleeps until a day before the review deadline, reminds, then reminds again
    once it has passed (the test server skips the waiting time)."""
    from services.db import utcnow
    from services.outgoing import service as outgoing

    db, settings = demo_db_sqlite, og_settings
    doc_id = await flow.draft(db, settings, doc_type="TB", subject="Thông báo lịch trực Tết 2027")
    async with db.session() as session:
        officer, reviewer = await user(session, "thu.le"), await user(session, "ngoc.vo")
        doc = await outgoing.get(session, document_id=doc_id)
        await outgoing.submit(
            session, actor=flow.actor_of(officer), doc=doc, reviewer_ids=[reviewer.id], due_at=utcnow() + dt.timedelta(days=2)
        )
    await send(pyd_client, settings, "outgoing", doc_id, "changed", "submitted")

    async def reminders(session):  # type: ignore[no-untyped-def]
        rows = (
            await session.scalars(
                select(Notification).where(Notification.kind == "outgoing.review_reminder", Notification.user_id == reviewer.id)
            )
        ).all()
        return rows if len(rows) == 2 else None

    rows = await wait_for(db, reminders, timeout=120)
    assert sorted(r.title.split(":")[0] for r in rows) == ["Quá hạn góp ý", "Sắp đến hạn góp ý"]
