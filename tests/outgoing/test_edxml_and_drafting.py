"""edXML packages round-trip exactly and unsafe XML is refused; drafts follow the Decree 30
templates, every edit is a version, and versions compare as text."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from docx import Document

from services.errors import InvalidInput
from services.outgoing import drafting, edxml
from services.outgoing import service as outgoing
from services.uploads import DOCX, check_upload
from tests.outgoing import flow


def _package(**changes) -> edxml.Package:  # type: ignore[no-untyped-def]
    base = dict(
        sender=edxml.Organ("hlhpn-bentre", "Hội Liên hiệp Phụ nữ tỉnh Bến Tre", "vanphong@hlhpn-bentre.vn"),
        recipients=[edxml.Organ("hlhpn-chauthanh", "Hội LHPN huyện Châu Thành")],
        code_number=5,
        code_notation="HLHPN-VP",
        place="Bến Tre",
        promulgation_date=dt.date(2026, 1, 5),
        doc_type="CV",
        type_name="Công văn",
        subject="V/v hưởng ứng Tháng hành động vì bình đẳng giới",
        signer_competence="TM. BAN THƯỜNG VỤ",
        signer_position="Chủ tịch",
        signer_name="Nguyễn Thị Lan",
        due_date=dt.date(2026, 1, 20),
        to_places=["Tỉnh đoàn Bến Tre", "Sở Văn hóa, Thể thao và Du lịch"],
        urgency="very_urgent",
        secrecy="normal",
        business_type=0,
        traces=[edxml.Trace("hlhpn-bentre", "2026/01/05 09:30:00")],
        attachments=[
            edxml.Attachment("cid:1", "05_HLHPN-VP.pdf", "application/pdf", b"%PDF-1.7\n\x00\xff binary \r\n"),
            edxml.Attachment("cid:2", "Phụ lục kèm theo.docx", DOCX, bytes(range(256)) * 3, "Phụ lục"),
        ],
    )
    base.update(changes)
    return edxml.Package(**base)  # type: ignore[arg-type]


def test_edxml_round_trip_keeps_every_field_and_file_byte_identical() -> None:
    package = _package()
    data = edxml.build(package)
    parsed = edxml.parse(data)
    assert parsed == package
    assert parsed.document_id == "hlhpn-bentre,2026/01/05,05/HLHPN-VP"
    assert [a.data for a in parsed.attachments] == [a.data for a in package.attachments]
    assert edxml.build(parsed) == data
    text = data.decode()
    for tag in (
        "From",
        "To",
        "Code",
        "PromulgationInfo",
        "DocumentType",
        "SignerInfo",
        "DueDate",
        "ToPlaces",
        "Priority",
        "SteeringType",
        "DocumentId",
        "TraceHeaderList",
        "BussinessDocType",
        "edXMLManifest",
    ):
        assert f"edXML:{tag}" in text or f":{tag}>" in text, tag


def test_edxml_recall_and_replace_business_types_survive() -> None:
    recall = _package(business_type=edxml.BUSINESS["recall"], business_reason="Ban hành nhầm đối tượng")
    assert edxml.parse(edxml.build(recall)).business_type == 1
    replace = _package(business_type=3, response_for="hlhpn-bentre,2026/01/04,04/HLHPN-VP")
    assert edxml.parse(edxml.build(replace)).response_for == "hlhpn-bentre,2026/01/04,04/HLHPN-VP"


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<edXMLEnvelope xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><s>&x;</s></edXMLEnvelope>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<edXMLEnvelope xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">&lol4;</edXMLEnvelope>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE edXMLEnvelope SYSTEM "http://127.0.0.1:9/evil.dtd">
<edXMLEnvelope xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"/>"""


@pytest.mark.parametrize("payload", [XXE, LAUGHS, EXTERNAL_DTD], ids=["external-entity", "billion-laughs", "external-dtd"])
def test_malicious_xml_is_refused(payload: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        edxml.parse(payload)
    assert "DTD" in caught.value.message


def test_tampered_or_broken_packages_are_refused() -> None:
    data = edxml.build(_package())
    with pytest.raises(InvalidInput):
        edxml.parse(data.replace(b"<edXML:CodeNumber>05", b"<edXML:CodeNumber>06"))
    with pytest.raises(InvalidInput):
        edxml.parse(b"<not-xml")


@pytest.mark.parametrize("code", list(drafting.TEMPLATES))
def test_every_template_renders_the_decree_30_layout_with_markers(code: str) -> None:
    spec = drafting.SpecInput(
        doc_type=code,
        subject="Về việc tổ chức Hội nghị sơ kết",
        body=drafting.SKELETONS[code],
        org_name="Hội Liên hiệp Phụ nữ tỉnh Bến Tre",
        org_abbr="HLHPN",
        parent_body="HỘI LHPN VIỆT NAM",
        place="Bến Tre",
        unit_abbr="VP",
        recipients=["Hội LHPN huyện Châu Thành"],
        signer_name="Nguyễn Thị Lan",
        signer_position="Chủ tịch",
        authority_prefix="TM.",
        authority_line="BAN THƯỜNG VỤ",
    )
    docx = drafting.render_docx(spec)
    assert not drafting.missing_markers(docx)
    text = drafting.docx_text(docx)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text and "HỘI LHPN TỈNH BẾN TRE" in text
    assert "TM. BAN THƯỜNG VỤ" in text and "Lưu: VT, VP." in text and "Nguyễn Thị Lan" in text
    if code == "CV":
        assert "V/v Về việc tổ chức Hội nghị sơ kết" in text and "Kính gửi:" in text
        assert drafting.suffix_for(doc_type=code, org_abbr="HLHPN", unit_abbr="VP") == "/HLHPN-VP"
    else:
        assert drafting.suffix_for(doc_type=code, org_abbr="HLHPN", unit_abbr="VP") == f"/{code}-HLHPN"
    Document(io.BytesIO(docx))  # opens as a valid DOCX


def test_body_lines_become_headings_centred_lines_and_paragraphs() -> None:
    blocks = drafting.body_blocks("I. MỤC ĐÍCH\nNội dung thường.\nQUYẾT ĐỊNH:\n\nĐiều 1. Áp dụng.")
    assert [getattr(b, "style", "paragraph") for b in blocks] == ["heading", "paragraph", "center", "paragraph"]


async def test_every_edit_is_a_version_and_versions_compare(demo_db_sqlite, og_settings) -> None:
    db, settings = demo_db_sqlite, og_settings
    doc_id = await flow.draft(db, settings, doc_type="CV", subject="V/v tuyên truyền phòng chống bạo lực gia đình")
    async with db.session() as session:
        officer = await flow.user(session, "thu.le")
        doc = await outgoing.get(session, document_id=doc_id)
        fields = outgoing.DraftFields(
            doc_type="CV",
            subject=doc.subject,
            body="Đề nghị Hội LHPN các huyện tổ chức tuyên truyền trong tháng 12.",
            signer_id=doc.signer_id,
            recipient_org_ids=[r.organization_id for r in await outgoing.recipients(session, document_id=doc_id) if r.organization_id],
            unit_id=doc.unit_id,
        )
        await outgoing.update_draft(session, settings=settings, actor=flow.actor_of(officer), doc=doc, fields=fields, note="Sửa nội dung")
        bad = check_upload(filename="tu-soan.docx", data=_plain_docx(), allowed={DOCX}, max_bytes=10**7)
        with pytest.raises(InvalidInput, match="lacks the markers"):
            await outgoing.upload_version(session, settings=settings, actor=flow.actor_of(officer), doc=doc, upload=bad)
        versions = await outgoing.versions(session, document_id=doc_id)
    assert [v.number for v in versions] == [1, 2] and versions[1].note == "Sửa nội dung"
    lines = drafting.diff_lines(versions[0].text, versions[1].text)
    assert any(l.kind == "add" and "tháng 12" in l.text for l in lines)
    assert any(l.kind == "remove" for l in lines)


def _plain_docx() -> bytes:
    document = Document()
    document.add_paragraph("Văn bản tự soạn không có ô đánh dấu")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
