"""The issued PDF: the leader's certification signature and the organisation's seal both
validate (pyHanko and poppler's pdfsig agree), only form filling happened after the leader
signed, and page 1 shows the number, the date and both stamps. The same document then goes
out as an edXML package and comes back in as an incoming document, byte for byte."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from services.authz import load_principal
from services.blobs import BlobStore
from services.directory.models import Role
from services.documents.notation import vn_date_line
from services.incoming.models import IncomingDocument, IncomingFile
from services.outgoing import edxml, exchange
from services.outgoing import service as outgoing
from signing.trust import TrustConfig
from signing.validation import async_validate_pdf
from tests.helpers import csrf_of, sign_in
from tests.outgoing import flow
from tests.signing.conftest import make_tiny_pdf


async def test_issued_pdf_has_valid_leader_and_seal_signatures_and_shows_number_and_date(
    demo_db_sqlite, og_settings, demo_pki, client_for
) -> None:
    db, settings = demo_db_sqlite, og_settings
    doc_id = await flow.draft(db, settings)
    await flow.submit_direct(db, doc_id)
    await flow.render(db, settings, doc_id)
    await flow.sign(db, settings, doc_id)
    doc = await flow.issue(db, settings, doc_id)
    blobs = BlobStore.for_data_dir(settings.data_dir)
    pdf = blobs.get(doc.issued_pdf_sha)
    assert pdf.startswith(blobs.get(doc.leader_pdf_sha))  # the leader's revision is kept intact

    report = await async_validate_pdf(pdf, trust=TrustConfig.from_settings(settings))
    by_field = {s.field_name: s for s in report.signatures}
    assert set(by_field) == {"Sig-leader", "Sig-seal"} and report.all_valid
    leader, seal = by_field["Sig-leader"], by_field["Sig-seal"]
    assert leader.signer.name == "Nguyễn Thị Lan" and leader.certification == "FILL_FORMS"
    assert leader.modification_level == "FORM_FILLING" and leader.docmdp_ok
    assert seal.signer.name == "Hội Liên hiệp Phụ nữ tỉnh Bến Tre" and seal.ok
    assert leader.pades_level in ("B-LT", "B-LTA") and seal.pades_level in ("B-LT", "B-LTA")

    pdfsig = flow.pdfsig(pdf, demo_pki.nss_db)
    assert pdfsig.count("Signature is Valid.") == 2 and pdfsig.count("Certificate is Trusted.") == 2
    assert "Sig-leader" in pdfsig and "Sig-seal" in pdfsig

    text = flow.pdftotext(pdf)
    first_page = text.split("\f")[0]
    assert doc.notation == "01/QĐ-HLHPN" and "01/QĐ-HLHPN" in first_page
    assert vn_date_line("Bến Tre", doc.issue_date) in first_page
    assert "Ký bởi: Nguyễn Thị Lan" in first_page and "TM. BAN THƯỜNG VỤ" in first_page
    assert "[[" not in text and "____" not in text  # the placement markers left the text layer
    png = flow.render_png(pdf, "issued-page-1")  # looked at by eye: number, date, signature, seal
    assert png.stat().st_size > 20_000

    # --- edXML: export, parse, import at a recipient: every field and file identical -------
    async with db.session() as session:
        doc = await outgoing.get(session, document_id=doc_id)
        package = await exchange.package_for(session, settings=settings, doc=doc)
        xml = edxml.build(package)
    parsed = edxml.parse(xml)
    assert parsed == package
    assert parsed.document_id == f"000.00.31.H08,{doc.issue_date:%Y/%m/%d},01/QĐ-HLHPN"  # the national identifier
    assert parsed.signer_name == "Nguyễn Thị Lan" and parsed.signer_competence == "TM. BAN THƯỜNG VỤ"
    assert parsed.to_places == ["Tỉnh đoàn Bến Tre"] and len(parsed.recipients) == 3
    assert parsed.attachments[0].data == pdf and edxml.build(parsed) == xml

    async with db.session() as session:
        clerk = await flow.user(session, "tpbentre.vanthu")
        principal = await load_principal(session, clerk)
        assert principal.orgs_with(Role.clerk)
        copy, _ = await exchange.import_package(session, settings=settings, principal=principal, data=xml)
        again, _ = await exchange.import_package(session, settings=settings, principal=principal, data=xml)
        assert again.id == copy.id  # importing twice gives the same incoming document
    async with db.session() as session:
        incoming = await session.get(IncomingDocument, copy.id)
        files = (await session.scalars(select(IncomingFile).where(IncomingFile.document_id == copy.id))).all()
        assert incoming.number_notation == "01/QĐ-HLHPN" and incoming.subject == doc.subject
        assert incoming.document_date == doc.issue_date and incoming.doc_type == "QĐ"
        assert incoming.signer_name == "Nguyễn Thị Lan" and incoming.organization_id == clerk.organization_id
        assert [f.sha256 for f in files[:-1]] == [a.sha256 for a in parsed.attachments]
        assert files[-1].filename == exchange.RECEIVED_NAME and blobs.get(files[-1].sha256) == xml
        assert blobs.get(files[0].sha256) == pdf

    # The import page does the same for a clerk (the second organisation addressed).
    browser = await client_for(db)
    await sign_in(browser, "chauthanh.vanthu")
    form = await browser.get("/outgoing/edxml/import")
    assert form.status_code == 200 and "Nhập gói edXML" in form.text
    token = await csrf_of(browser, "/outgoing/edxml/import")
    imported = await browser.post(
        "/outgoing/edxml/import", data={"csrf_token": token}, files={"package": ("goi.edxml.xml", xml, "application/xml")}
    )
    assert imported.status_code == 303 and imported.headers["location"].startswith("/incoming/")
    evil = await browser.post(
        "/outgoing/edxml/import",
        data={"csrf_token": token},
        files={
            "package": (
                "evil.xml",
                b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
                "application/xml",
            )
        },
    )
    assert evil.status_code == 422 and "DTD" in evil.text

    # Tỉnh đoàn (outside the system) answers "received" by a status file; the issuing clerk's
    # import page puts it on its row, and the document's page shows it.
    answer = edxml.Status(
        sender=edxml.Organ(organ_id="000.00.00.T01", name="Tỉnh đoàn Bến Tre"), response_for=parsed.document_id, code="03"
    )
    browser = await client_for(db)
    await sign_in(browser, "mai.tran")
    token = await csrf_of(browser, "/outgoing/edxml/import")
    status_file = {"package": ("trang-thai.xml", edxml.build_status(answer), "application/xml")}
    posted = await browser.post("/outgoing/edxml/import", data={"csrf_token": token}, files=status_file)
    assert posted.status_code == 303 and posted.headers["location"] == f"/outgoing/{doc_id}?ok=status", posted.text
    async with db.session() as session:
        rows = await outgoing.recipients(session, document_id=doc_id)
    assert [(r.name, r.status_code) for r in rows if r.external] == [("Tỉnh đoàn Bến Tre", "03")]

    # --- the register of the year lists it, printable as DOCX and PDF -------------------------
    async with db.session() as session:
        rows = await outgoing.register_rows(session, organization_id=doc.organization_id, year=doc.year)
    assert rows[0]["notation"] == "01/QĐ-HLHPN" and rows[0]["signer"] == "Nguyễn Thị Lan"
    assert "Hội LHPN huyện Châu Thành" in rows[0]["recipients"] and rows[0]["copies"] == 5
    assert isinstance(rows[0]["document_date"], dt.date)


async def test_leader_may_upload_a_pdf_signed_with_a_token_but_only_her_own_signature(demo_db_sqlite, og_settings, client_for) -> None:
    """The external-token path: the uploaded PDF must be this document's PDF, signed validly
    by the expected signer; anything else is refused with a reason."""
    from pyhanko.sign.fields import MDPPerm

    from signing.appearance import Appearance
    from signing.keystore import signer_for_person
    from signing.pades import async_sign_pdf

    db, settings = demo_db_sqlite, og_settings
    doc_id = await flow.draft(db, settings, doc_type="TB", subject="Thông báo nghỉ Tết Dương lịch 2027")
    await flow.submit_direct(db, doc_id)
    await flow.render(db, settings, doc_id)
    async with db.session() as session:
        prepared = BlobStore.for_data_dir(settings.data_dir).get((await outgoing.get(session, document_id=doc_id)).prepared_pdf_sha)
    trust = TrustConfig.from_settings(settings)

    async def signed_by(username: str, name: str) -> bytes:
        signer = signer_for_person(data_dir=settings.data_dir, username=username, pin="123456", settings=settings)
        return await async_sign_pdf(
            prepared,
            signer=signer,
            level="B-T",
            trust=trust,
            appearance=Appearance.signature(name=name, marker="leader"),
            field_name="Sig-leader",
            certify=MDPPerm.FILL_FORMS,
        )

    leader = await client_for(db)
    await sign_in(leader, "lan.nguyen")
    token = await csrf_of(leader, f"/outgoing/{doc_id}")
    other = await signed_by("hue.do", "Đỗ Thị Huệ Anh")
    refused = await leader.post(
        f"/outgoing/{doc_id}/sign", data={"csrf_token": token}, files={"signed_file": ("ky-so.pdf", other, "application/pdf")}
    )
    assert refused.status_code == 409 and "Nguyễn Thị Lan" in refused.text
    unrelated = await leader.post(
        f"/outgoing/{doc_id}/sign",
        data={"csrf_token": token},
        files={"signed_file": ("khac.pdf", make_tiny_pdf("other"), "application/pdf")},
    )
    assert unrelated.status_code == 422
    own = await signed_by("lan.nguyen", "Nguyễn Thị Lan")
    accepted = await leader.post(
        f"/outgoing/{doc_id}/sign", data={"csrf_token": token}, files={"signed_file": ("ky-so.pdf", own, "application/pdf")}
    )
    assert accepted.status_code == 303
    async with db.session() as session:
        doc = await outgoing.get(session, document_id=doc_id)
        assert doc.status.value == "signed" and doc.sign_method == "upload"
