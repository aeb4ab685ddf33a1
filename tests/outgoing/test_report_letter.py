"""A report request's letter is an outgoing document: the leader signs it, the clerk numbers it in
the outgoing register (the same numbering as every other document, no counter of its own),
seals and issues it; only then does the request open, and each target receives the signed
letter once, whether the outgoing dispatch or the report fan-out gets there first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.authz import load_principal
from services.blobs import BlobStore
from services.db import utcnow
from services.errors import Conflict, InvalidInput
from services.incoming.models import IncomingDocument, IncomingFile
from services.outgoing import service as outgoing
from services.outgoing.models import Status
from services.reports import service as reports
from services.reports.models import ReportRequest, ReportTarget, RequestStatus
from services.uploads import CheckedUpload
from tests.outgoing import flow
from tests.signing.conftest import make_tiny_pdf

TARGETS = ("hlhpn-tpbentre", "hlhpn-chauthanh")


async def test_the_letter_is_signed_numbered_in_the_outgoing_register_and_delivered_once(demo_db_sqlite, og_settings, demo_pki) -> None:
    db, settings = demo_db_sqlite, og_settings
    before = await flow.issued(db, settings)  # a decision issued earlier this year

    async with db.session() as session:
        lan = await load_principal(session, await flow.user(session, "lan.nguyen"))
        ids = [(await flow.org(session, code)).id for code in TARGETS]
        req = await reports.create_request(
            session,
            principal=lan,
            settings=settings,
            organization_id=lan.me.organization_id,
            title="Báo cáo kết quả hỗ trợ phụ nữ khởi nghiệp năm 2026",
            instructions="Đề nghị Hội LHPN các huyện báo cáo số liệu theo mẫu đính kèm.",
            deadline=utcnow() + timedelta(days=5),
            target_ids=ids,
            scope_label="Hội LHPN các huyện, thành phố",
            fields=[reports.FieldSpec("Số dự án được hỗ trợ", "dự án", "integer")],
            template=CheckedUpload(filename="mau-bao-cao.pdf", content_type="application/pdf", data=make_tiny_pdf("Mau bao cao")),
        )
        request_id, letter_id = req.id, req.letter_outgoing_id
        letter = await outgoing.get(session, document_id=letter_id)
        # Drafted by the requester, at the leader's for signature; the request waits for it.
        assert letter.status == Status.awaiting_signature and letter.signer_id == lan.user.id and letter.doc_type == "CV"
        assert req.status == RequestStatus.awaiting_letter.value and req.number is None and req.notation is None
        assert {r.organization_id for r in await outgoing.recipients(session, document_id=letter_id)} == set(ids)

    officer = await _principal(db, "tpbentre.chuyenvien")
    async with db.session() as session:
        with pytest.raises(Conflict):  # nothing reached the districts yet
            await reports.submit(
                session, principal=officer, settings=settings, request_id=request_id, organization_id=ids[0], file=None, figures={}
            )

    await flow.render(db, settings, letter_id)
    await flow.sign(db, settings, letter_id)
    issued = await flow.issue(db, settings, letter_id)
    assert issued.number == before.number + 1, "one numbering for every document of the register"
    assert issued.notation == f"{issued.number:02d}/HLHPN-VP"

    async with db.session() as session:
        req = await reports.get_request(session, request_id=request_id)
        assert req.status == RequestStatus.open.value and req.notation == issued.notation and req.number == issued.number
        rows = await outgoing.register_rows(session, organization_id=issued.organization_id, year=issued.year)
        assert issued.notation in [str(row["notation"]) for row in rows]

    # The request's fan-out delivers its letter; the outgoing dispatch leaves the targets to it (one
    # delivery each, not two racing), but a direct delivery of the letter stays idempotent.
    async with db.session() as session:
        assert await outgoing.pending_deliveries(session, document_id=letter_id) == []
        await reports.deliver(session, settings=settings, request_id=request_id, organization_id=ids[0])
    async with db.session() as session:
        for recipient_id in (
            await session.scalars(select(outgoing.OutgoingRecipient.id).where(outgoing.OutgoingRecipient.document_id == letter_id))
        ).all():
            await outgoing.deliver(session, settings=settings, document_id=letter_id, recipient_id=recipient_id)
    async with db.session() as session:
        await reports.deliver(session, settings=settings, request_id=request_id, organization_id=ids[1])
        await reports.deliver(session, settings=settings, request_id=request_id, organization_id=ids[0])
    async with db.session() as session:
        targets = {
            t.organization_id: t for t in (await session.scalars(select(ReportTarget).where(ReportTarget.request_id == request_id))).all()
        }
        for oid in ids:
            copies = (
                await session.scalars(
                    select(IncomingDocument).where(
                        IncomingDocument.organization_id == oid, IncomingDocument.number_notation == issued.notation
                    )
                )
            ).all()
            assert len(copies) == 1 and targets[oid].incoming_id == copies[0].id
            files = (await session.scalars(select(IncomingFile).where(IncomingFile.document_id == copies[0].id))).all()
            assert [f.sha256 for f in files if f.is_main] == [issued.issued_pdf_sha]
            assert "mau-bao-cao.pdf" in {f.filename for f in files}
        assert (
            await session.scalar(
                select(func.count()).select_from(IncomingDocument).where(IncomingDocument.number_notation == issued.notation)
            )
            == 2
        )

    # The letter everyone downloads is the signed PDF: the leader's signature and the seal validate.
    async with db.session() as session:
        name, content_type, sha = await reports.blob_for(session, principal=lan, request_id=request_id, kind="letter")
    assert content_type == "application/pdf" and sha == issued.issued_pdf_sha
    pdf = BlobStore.for_data_dir(settings.data_dir).get(sha)
    checked = flow.pdfsig(pdf, demo_pki.nss_db)
    assert checked.count("Signature is Valid.") == 2 and "Sig-leader" in checked and "Sig-seal" in checked
    text = flow.pdftotext(pdf)
    assert f"Số: {issued.notation}" in " ".join(text.split()) and "Số dự án được hỗ trợ" in text and "[[" not in text
    flow.render_png(pdf, "report-letter-issued")

    # Submitting now works.
    async with db.session() as session:
        req = await reports.get_request(session, request_id=request_id)
        await reports.submit(
            session,
            principal=officer,
            settings=settings,
            request_id=request_id,
            organization_id=ids[0],
            file=CheckedUpload(filename="bao-cao.pdf", content_type="application/pdf", data=make_tiny_pdf("Bao cao")),
            figures={str(req.fields[0].id): "7"},
        )


async def test_an_organisation_without_a_leader_cannot_send_a_request(demo_db_sqlite, og_settings) -> None:
    from services.directory.models import LEADERS, RoleAssignment

    db, settings = demo_db_sqlite, og_settings
    async with db.session() as session:
        clerk = await flow.user(session, "mai.tran")
        province = await flow.org(session, "hlhpn-bentre")
        await session.execute(
            RoleAssignment.__table__.delete().where(RoleAssignment.organization_id == province.id, RoleAssignment.role.in_(LEADERS))
        )
    async with db.session() as session:
        who = await load_principal(session, clerk)
        district = (await flow.org(session, "hlhpn-tpbentre")).id
        with pytest.raises(InvalidInput) as refused:
            await reports.create_request(
                session,
                principal=who,
                settings=settings,
                organization_id=province.id,
                title="Báo cáo thử",
                instructions="",
                deadline=utcnow() + timedelta(days=5),
                target_ids=[district],
            )
        assert "lãnh đạo" in refused.value.message
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(ReportRequest)) == 0


async def _principal(db, username: str):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return await load_principal(session, await flow.user(session, username))


async def test_a_request_withdrawn_before_its_letter_went_out_leaves_nobody_missing(demo_db_sqlite, og_settings) -> None:
    from dashboard.queries import Period, report_punctuality
    from services import calendar
    from tests.reports.factory import create_request

    db, settings = demo_db_sqlite, og_settings
    async with db.session() as session:
        lan = await load_principal(session, await flow.user(session, "lan.nguyen"))
        ids = [(await flow.org(session, code)).id for code in TARGETS]
        withdrawn = await reports.create_request(
            session, principal=lan, settings=settings, organization_id=lan.me.organization_id, title="Báo cáo rút lại",
            instructions="", deadline=utcnow() + timedelta(days=5), target_ids=ids,
        )  # fmt: skip
    async with db.session() as session:
        assert await reports.close(session, principal=lan, request_id=withdrawn.id, reason="Soạn lại công văn") == []
    sent = await create_request(db, settings, ids[:1], deadline=utcnow() + timedelta(days=1))
    async with db.session() as session:
        await reports.deliver(session, settings=settings, request_id=sent.id, organization_id=ids[0])
    async with db.read() as session:
        statuses = (await session.scalars(select(ReportTarget.status).where(ReportTarget.request_id == withdrawn.id))).all()
        assert set(statuses) == {"pending"}, "nothing reached them: nobody is missing"
        today = calendar.vn_today()
        rows = await report_punctuality(session, org_ids=[lan.me.organization_id], period=Period(today, today))
    assert [(r.requests, r.missing, r.waiting) for r in rows] == [(1, 0, 1)], "only the request that went out counts"
