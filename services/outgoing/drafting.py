"""Turning an outgoing document's fields into a Decree 30 DOCX, and DOCX into comparable text.

Owns the templates per type (công văn, quyết định, thông báo, kế hoạch, báo cáo, tờ trình,
giấy mời and the other type codes), the default body skeleton of each, and the plain text
every version keeps so that versions can be compared with difflib.
"""

from __future__ import annotations

import difflib
import io
import re
import zipfile
from dataclasses import dataclass

from docx import Document

from services.documents.layout import BodyBlock, DocumentSpec, SigningBlock, build_document_docx
from services.documents.notation import OFFICIAL_LETTER, TYPE_CODES, notation_suffix
from services.errors import InvalidInput
from services.i18n import _l

#: The templates offered first on the drafting page (code → Vietnamese name).
TEMPLATES: dict[str, str] = {
    "CV": "Công văn",
    "QĐ": "Quyết định",
    "TB": "Thông báo",
    "KH": "Kế hoạch",
    "BC": "Báo cáo",
    "TTr": "Tờ trình",
    "GM": "Giấy mời",
}
AUTHORITY_PREFIXES = ("TM.", "KT.", "TL.", "TUQ.", "Q.")
REQUIRED_MARKERS = ("[[sig:leader]]", "[[field:number]]", "[[field:date]]")

SKELETONS: dict[str, str] = {
    "CV": "Thực hiện chỉ đạo của Trung ương Hội LHPN Việt Nam, Ban Thường vụ Hội LHPN tỉnh đề nghị …\n"
    "Đề nghị các đơn vị triển khai thực hiện và báo cáo kết quả về Hội LHPN tỉnh (qua Văn phòng).",
    "QĐ": "BAN THƯỜNG VỤ HỘI LIÊN HIỆP PHỤ NỮ TỈNH\n"
    "Căn cứ Điều lệ Hội Liên hiệp Phụ nữ Việt Nam;\n"
    "Xét đề nghị của Chánh Văn phòng,\n"
    "QUYẾT ĐỊNH:\n"
    "Điều 1. …\n"
    "Điều 2. Quyết định có hiệu lực kể từ ngày ký.\n"
    "Điều 3. Văn phòng, các ban và cá nhân có liên quan chịu trách nhiệm thi hành Quyết định này.",
    "TB": "Ban Thường vụ Hội LHPN tỉnh thông báo …",
    "KH": "I. MỤC ĐÍCH, YÊU CẦU\n…\nII. NỘI DUNG\n…\nIII. TỔ CHỨC THỰC HIỆN\n…",
    "BC": "I. KẾT QUẢ THỰC HIỆN\n…\nII. TỒN TẠI, HẠN CHẾ\n…\nIII. PHƯƠNG HƯỚNG, NHIỆM VỤ THỜI GIAN TỚI\n…",
    "TTr": "Kính gửi: Ban Thường vụ Hội LHPN tỉnh.\n…\nKính trình Ban Thường vụ xem xét, quyết định.",
    "GM": "Ban Thường vụ Hội LHPN tỉnh trân trọng kính mời … đến dự …\n"
    "Thời gian: … giờ … ngày …\nĐịa điểm: …\nRất mong đồng chí đến dự đúng giờ.",
}

_ROMAN_HEADING = re.compile(r"^[IVXLC]+\.\s")
_MARKER = re.compile(r"\[\[(sig|field):[a-z0-9_-]+\]\]_*")


def type_name(code: str) -> str:
    if code == OFFICIAL_LETTER:
        return "Công văn"
    return TEMPLATES.get(code) or TYPE_CODES.get(code, code).capitalize()


def body_blocks(body: str) -> list[str | BodyBlock]:
    """Body text (one paragraph per line) as layout blocks: ``I. …`` headings, centred
    ``QUYẾT ĐỊNH:`` style lines, plain paragraphs."""
    blocks: list[str | BodyBlock] = []
    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            continue
        letters = [c for c in line if c.isalpha()]
        if line.endswith(":") and letters and all(c.isupper() for c in letters) and len(line) < 60:
            blocks.append(BodyBlock(text=line, style="center"))
        elif _ROMAN_HEADING.match(line):
            blocks.append(BodyBlock(text=line, style="heading"))
        elif letters and all(c.isupper() for c in letters) and len(line) < 90 and not line.startswith("-"):
            blocks.append(BodyBlock(text=line, style="center"))
        else:
            blocks.append(line)
    return blocks


def issuer_line(org_name: str) -> str:
    """The issuing body as printed (``Hội Liên hiệp Phụ nữ`` shortened to ``HỘI LHPN``)."""
    return re.sub(r"(?i)^hội liên hiệp phụ nữ", "Hội LHPN", org_name.strip()).upper()


@dataclass(frozen=True)
class SpecInput:
    """Everything the layout needs, already resolved from the directory."""

    doc_type: str
    subject: str
    body: str
    org_name: str
    org_abbr: str
    parent_body: str | None
    place: str
    unit_abbr: str | None
    recipients: list[str]
    signer_name: str
    signer_position: str
    authority_prefix: str | None
    authority_line: str | None


def suffix_for(*, doc_type: str, org_abbr: str, unit_abbr: str | None) -> str:
    """``/QĐ-HLHPN`` for a typed document, ``/HLHPN-VP`` for a công văn (DOMAIN.md)."""
    if doc_type == OFFICIAL_LETTER:
        return notation_suffix(type_code=None, org_abbr=org_abbr, unit_abbr=unit_abbr or "VP")
    return notation_suffix(type_code=doc_type, org_abbr=org_abbr)


def build_spec(data: SpecInput) -> DocumentSpec:
    prefix = data.authority_prefix if data.authority_prefix in AUTHORITY_PREFIXES else None
    is_letter = data.doc_type == OFFICIAL_LETTER
    recipients = ["Như trên"] + data.recipients if is_letter and data.recipients else list(data.recipients)
    try:
        return DocumentSpec(
            parent_body=(data.parent_body or None),
            issuing_body=issuer_line(data.org_name),
            doc_type=data.doc_type,
            notation_suffix=suffix_for(doc_type=data.doc_type, org_abbr=data.org_abbr, unit_abbr=data.unit_abbr),
            place=data.place,
            subject=data.subject,
            addressees=list(data.recipients) if is_letter else [],
            body=body_blocks(data.body),
            recipients=recipients,
            filing=f"Lưu: VT, {data.unit_abbr or 'VP'}.",
            signers=[
                SigningBlock(
                    role="leader",
                    authority_prefix=prefix,
                    authority_line=(data.authority_line or None) if prefix else None,
                    position=data.signer_position or "Chủ tịch",
                    signer_name=data.signer_name,
                )
            ],
        )
    except ValueError as exc:
        raise InvalidInput(_l("Invalid document fields: {exc}", exc=exc)) from None


def render_docx(data: SpecInput) -> bytes:
    return build_document_docx(build_spec(data))


def docx_text(docx: bytes) -> str:
    """The visible text of a DOCX, one paragraph per line (markers removed), for diffs."""
    try:
        document = Document(io.BytesIO(docx))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise InvalidInput(_l("Broken DOCX: {exc}", exc=exc)) from None
    lines: list[str] = []

    def add(text: str) -> None:
        text = _MARKER.sub("", text).strip()
        if text:
            lines.append(text)

    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            add("".join(t.text or "" for t in child.iter() if t.tag.endswith("}t")))
        elif tag == "tbl":
            for paragraph in child.iter():
                if paragraph.tag.endswith("}p"):
                    add("".join(t.text or "" for t in paragraph.iter() if t.tag.endswith("}t")))
    return "\n".join(lines)


def missing_markers(docx: bytes) -> list[str]:
    """Markers an uploaded DOCX lacks (they tell where the signature, number and date go)."""
    try:
        with zipfile.ZipFile(io.BytesIO(docx)) as archive:
            xml = archive.read("word/document.xml").decode("utf-8", "replace")
    except (zipfile.BadZipFile, KeyError) as exc:
        raise InvalidInput(_l("Broken DOCX: {exc}", exc=exc)) from None
    # Word may split a token over several runs: compare the text without the XML tags.
    text = re.sub(r"<[^>]+>", "", xml)
    return [m for m in REQUIRED_MARKERS if m not in text]


@dataclass(frozen=True)
class DiffLine:
    kind: str  # same | add | remove | gap
    text: str


def diff_lines(old: str, new: str) -> list[DiffLine]:
    """A line diff of two versions' text (unchanged runs longer than 6 lines are elided)."""
    result: list[DiffLine] = []
    a, b = old.splitlines(), new.splitlines()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if tag == "equal":
            chunk = a[i1:i2]
            if len(chunk) > 6:
                result += [DiffLine("same", t) for t in chunk[:2]]
                result.append(DiffLine("gap", f"… {len(chunk) - 4} …"))
                result += [DiffLine("same", t) for t in chunk[-2:]]
            else:
                result += [DiffLine("same", t) for t in chunk]
            continue
        result += [DiffLine("remove", t) for t in a[i1:i2]]
        result += [DiffLine("add", t) for t in b[j1:j2]]
    return result
