"""edXML as other systems build it: packages written by hand from the standard's field list in
the SDK shape (and in our earlier shape) are read field by field; what we write follows the SDK
shape strictly; an SDK package imports into the addressed organisation's register."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring

from services.authz import load_principal
from services.errors import InvalidInput
from services.incoming.models import IncomingDocument
from services.outgoing import edxml, exchange
from tests.helpers import csrf_of, sign_in
from tests.outgoing import flow

FIXTURES = Path(__file__).parent / "edxml_fixtures"
SDK = (FIXTURES / "sdk-cong-van.edxml").read_bytes()
EARLIER = (FIXTURES / "lienthong-earlier.edxml").read_bytes()
PDF = (FIXTURES / "cong-van-1234.pdf").read_bytes()
NS = b' xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"'


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def test_a_package_in_the_sdk_shape_is_read_field_by_field() -> None:
    package = edxml.parse(SDK)
    assert package.sender == edxml.Organ(
        "000.00.00.H08", "Ủy ban nhân dân tỉnh Bến Tre", "vanthu@bentre.gov.vn", "Ủy ban nhân dân tỉnh Bến Tre"
    )
    assert [r.organ_id for r in package.recipients] == ["000.00.31.H08", "000.00.12.H08"]
    assert package.number_notation == "1234/UBND-VX" and package.place == "Bến Tre"
    assert package.promulgation_date == dt.date(2026, 11, 28) and package.due_date == dt.date(2026, 12, 15)
    assert package.doc_type == "CV" and package.type_name == "Công văn"  # TypeDetail 18 of Decree 30
    assert package.subject.startswith("V/v tổ chức các hoạt động hưởng ứng")
    assert (package.signer_competence, package.signer_position, package.signer_name) == ("KT. CHỦ TỊCH", "PHÓ CHỦ TỊCH", "Trần Văn Bình")
    assert package.to_places == ["Như trên", "Lưu: VT, KGVX"] and package.urgency == "urgent" and package.steering_type == 1
    assert package.business_type == 0 and package.traces == [edxml.Trace("000.00.00.H08", "2026/11/28 15:42:07")]
    assert package.document_id == "000.00.00.H08,2026/11/28,1234/UBND-VX"
    main, appendix = package.attachments
    assert (main.name, main.content_type, main.description, main.data) == ("1234-UBND-VX.pdf", "application/pdf", "Văn bản chính", PDF)
    assert appendix.name == "phu-luc.txt" and appendix.data == b"Phu luc: danh sach don vi phoi hop\n"  # unzipped
    # The same package without any namespace reads the same.
    bare = SDK.replace(NS, b"").replace(b"edXML:", b"").replace(b' xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016"', b"")
    assert edxml.parse(bare) == package


def test_our_earlier_shape_still_imports_and_its_digests_are_checked() -> None:
    package = edxml.parse(EARLIER)
    assert package.sender.organ_id == "hlhpn-khac" and package.number_notation == "12/QĐ-HLHPN"
    assert package.doc_type == "QĐ" and package.promulgation_date == dt.date(2025, 12, 30)
    assert package.attachments[0].data == PDF and package.attachments[0].sha256 == hashlib.sha256(PDF).hexdigest()
    forged = EARLIER.replace(base64.b64encode(PDF), base64.b64encode(PDF.replace(b"1234", b"9999")))
    with pytest.raises(InvalidInput, match="digest mismatch"):
        edxml.parse(forged)


def test_another_systems_document_id_is_kept_but_an_altered_header_is_refused() -> None:
    uuid_id = SDK.replace(b"000.00.00.H08,2026/11/28,1234/UBND-VX", b"5b7e1c0a-2f4d-4e8b-9c3a-1d2e3f405162")
    assert edxml.parse(uuid_id).document_id == "5b7e1c0a-2f4d-4e8b-9c3a-1d2e3f405162"
    with pytest.raises(InvalidInput, match="DocumentId"):
        edxml.parse(SDK.replace(b"<edXML:CodeNumber>1234<", b"<edXML:CodeNumber>1235<"))


def test_what_we_write_is_the_sdk_shape() -> None:
    package = edxml.parse(SDK)
    data = edxml.build(package)
    root = fromstring(data)
    assert _local(root.tag) == "edXML" and [_local(c.tag) for c in root] == ["edXMLEnvelope", "AttachmentEncoded"]
    envelope, encoded = root
    header = envelope[0]
    message, traces = header
    assert [_local(c.tag) for c in traces] == ["Bussiness", "TraceHeader"]  # Bussiness inside TraceHeaderList
    text = {_local(e.tag): (e.text or "") for e in message.iter()}
    assert text["PromulgationDate"] == "2026/11/28" and text["DueDate"] == "2026/12/15"
    assert text["Type"] == "1" and text["TypeDetail"] == "18" and text["DocumentId"] == package.document_id
    files = [{_local(e.tag): e.text for e in a} for a in encoded]
    assert [f["ContentId"] for f in files] == [a.content_id for a in package.attachments]
    assert base64.b64decode(files[0]["ContentTransferEncoded"] or "") == PDF
    refs = [r for r in envelope.iter() if _local(r.tag) == "Reference"]
    assert [next(e.text for e in r if _local(e.tag) == "ContentId") for r in refs] == [f["ContentId"] for f in files]
    assert edxml.parse(data) == package


def test_the_writer_refuses_a_package_a_gateway_would_refuse() -> None:
    package = edxml.parse(SDK)
    package.attachments = []
    with pytest.raises(InvalidInput, match="attachments"):
        edxml.build(package)


async def test_an_sdk_package_lands_in_the_addressed_register(demo_db_sqlite, og_settings, client_for) -> None:
    db, settings = demo_db_sqlite, og_settings
    # Through the clerk's import page, as the .edxml file a gateway delivers.
    browser = await client_for(db)
    await sign_in(browser, "mai.tran")
    token = await csrf_of(browser, "/outgoing/edxml/import")
    files = {"package": ("1234-UBND-VX.edxml", SDK, "application/octet-stream")}
    imported = await browser.post("/outgoing/edxml/import", data={"csrf_token": token}, files=files)
    assert imported.status_code == 303 and imported.headers["location"].startswith("/incoming/")
    async with db.session() as session:
        clerk = await load_principal(session, await flow.user(session, "mai.tran"))
        copy, package = await exchange.import_package(session, settings=settings, principal=clerk, data=SDK)
        assert imported.headers["location"].startswith(f"/incoming/{copy.id}")  # the same document, once
        province = await flow.org(session, "hlhpn-bentre")
    async with db.session() as session:
        doc = await session.get(IncomingDocument, copy.id)
        assert doc.organization_id == province.id and doc.number_notation == "1234/UBND-VX"
        assert doc.doc_type == "CV" and doc.urgency == "urgent" and doc.document_date == dt.date(2026, 11, 28)
        assert doc.issuer_name == "Ủy ban nhân dân tỉnh Bến Tre" and doc.arrival_number is not None


def test_a_status_package_written_by_hand_is_read_and_ours_reads_back() -> None:
    data = (FIXTURES / "sdk-trang-thai-03.edxml").read_bytes()
    assert edxml.is_status(data) and not edxml.is_status(SDK)
    status = edxml.parse_status(data)
    assert status.code == "03" and status.response_for == "000.00.31.H08,2026/11/30,15/QĐ-HLHPN"  # "3" read as 03
    assert status.sender.organ_id == "000.00.40.H08" and status.sender.name == "Tỉnh đoàn Bến Tre"
    assert status.description.startswith("Đã tiếp nhận") and status.timestamp == "2026/12/01 08:15:42" and status.staff == "Lê Văn Thư"
    assert edxml.parse_status(edxml.build_status(status)) == status
    with pytest.raises(InvalidInput, match="status code"):
        edxml.parse_status(data.replace(b"<StatusCode>3<", b"<StatusCode>42<"))
    with pytest.raises(InvalidInput):
        edxml.build_status(edxml.Status(sender=status.sender, response_for="", code="03"))
