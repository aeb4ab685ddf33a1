"""Shared test material for the signing tests: a Decree 30 style DOCX with markers converted
to PDF, signed documents built once per process, and poppler helpers (text boxes, pdfsig,
rendering pages to PNG for a human to look at)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm, Pt, RGBColor

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "signing"
ORG_NAME = "Hội Liên hiệp Phụ nữ tỉnh Bến Tre"
NUMBER = "15/QĐ-HLHPN"
DATE_LINE = "Bến Tre, ngày 05 tháng 01 năm 2026"


def _white(paragraph: Any, text: str, *, size: float, italic: bool = False) -> None:
    run = paragraph.add_run(text)
    run.font.color.rgb = RGBColor(0xFF, 0xFF, 0xFF)
    run.font.size = Pt(size)
    run.italic = italic


def _run(paragraph: Any, text: str, *, size: float = 13, bold: bool = False, italic: bool = False) -> None:
    run = paragraph.add_run(text)
    run.font.size = Pt(size)
    run.bold = bold
    run.italic = italic
    run.font.name = "Times New Roman"


def marked_docx(*, signer_role: str = "leader", pages: int = 1) -> bytes:
    """A small decision (quyết định) with `[[field:number]]`, `[[field:date]]` and a signing
    block marked `[[sig:<signer_role>]]`, laid out as the templates do."""
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin, section.right_margin = Mm(30), Mm(15)
    section.top_margin = section.bottom_margin = Mm(20)
    head = doc.add_table(rows=1, cols=2)
    left, right = head.rows[0].cells
    p = left.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, "HỘI LIÊN HIỆP PHỤ NỮ", size=12, bold=True)
    p = left.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, "TỈNH BẾN TRE", size=12, bold=True)
    p = left.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, "Số: ")
    _white(p, "[[field:number]]" + "_" * 6, size=13)
    p = right.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", size=11, bold=True)
    p = right.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, "Độc lập - Tự do - Hạnh phúc", size=12, bold=True)
    p = right.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _white(p, "[[field:date]]" + "_" * 22, size=13, italic=True)
    doc.add_paragraph()
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, "QUYẾT ĐỊNH", bold=True)
    p = doc.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, "Về việc tổ chức Hội nghị tổng kết công tác Hội năm 2025", bold=True)
    for text in (
        "Điều 1. Tổ chức Hội nghị tổng kết công tác Hội và phong trào phụ nữ năm 2025, triển khai "
        "nhiệm vụ năm 2026 vào ngày 15 tháng 01 năm 2026 tại Hội trường Tỉnh Hội.",
        "Điều 2. Văn phòng Tỉnh Hội chủ trì, phối hợp các ban chuẩn bị nội dung, tài liệu và điều kiện tổ chức.",
        "Điều 3. Chánh Văn phòng, Trưởng các ban và các đơn vị có liên quan chịu trách nhiệm thi hành Quyết định này.",
    ):
        p = doc.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        _run(p, text)
    for _ in range(pages - 1):
        doc.add_page_break()
        _run(doc.add_paragraph(), "Phụ lục: danh sách đại biểu dự Hội nghị.")
    foot = doc.add_table(rows=1, cols=2)
    left, right = foot.rows[0].cells
    p = left.paragraphs[0]
    _run(p, "Nơi nhận:", size=12, bold=True, italic=True)
    for line in ("- Như Điều 3;", "- Lưu: VT, VP."):
        _run(left.add_paragraph(), line, size=11)
    p = right.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, "TM. BAN THƯỜNG VỤ", bold=True)
    p = right.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, "CHỦ TỊCH", bold=True)
    # Empty space for the signature with the marker in its middle: 26 mm ≈ 5 lines of 13 pt.
    for _ in range(2):
        right.add_paragraph()
    p = right.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _white(p, f"[[sig:{signer_role}]]", size=10)
    for _ in range(2):
        right.add_paragraph()
    p = right.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(p, "Nguyễn Thị Lan", bold=True)
    out = tempfile.SpooledTemporaryFile()
    doc.save(out)
    out.seek(0)
    return out.read()


def docx_to_pdf(docx: bytes) -> bytes:
    """Convert with a cold headless LibreOffice (own profile dir so parallel runs don't clash)."""
    with tempfile.TemporaryDirectory(prefix="lienthong-docx-") as tmp:
        src = Path(tmp) / "doc.docx"
        src.write_bytes(docx)
        subprocess.run(
            [
                shutil.which("libreoffice") or "soffice",
                f"-env:UserInstallation=file://{tmp}/profile",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                tmp,
                str(src),
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
        return (Path(tmp) / "doc.pdf").read_bytes()


@lru_cache(maxsize=4)
def marked_pdf(*, signer_role: str = "leader", pages: int = 1) -> bytes:
    """`marked_docx` as PDF, converted once per process."""
    return docx_to_pdf(marked_docx(signer_role=signer_role, pages=pages))


@dataclass(frozen=True)
class Word:
    text: str
    page: int
    x1: float
    y1: float
    x2: float
    y2: float
    """PDF user space (origin bottom left)."""


def words(pdf: bytes) -> list[Word]:
    """Every word pdftotext sees (widget appearances included), in PDF user space."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.pdf"
        path.write_bytes(pdf)
        html = subprocess.run(["pdftotext", "-bbox", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True).stdout.decode(
            "utf-8"
        )
    result: list[Word] = []
    for page_no, page_html in enumerate(html.split("<page ")[1:]):
        height = float(re.search(r'height="([\d.]+)"', page_html).group(1))  # type: ignore[union-attr]
        for m in re.finditer(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', page_html):
            x1, ymin, x2, ymax = (float(m.group(i)) for i in range(1, 5))
            text = m.group(5).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            result.append(Word(text, page_no, x1, height - ymax, x2, height - ymin))
    return result


def text_of(pdf: bytes) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.pdf"
        path.write_bytes(pdf)
        return subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True).stdout.decode("utf-8")


def render(pdf: bytes, name: str, *, first_page: int = 1, last_page: int = 1) -> list[Path]:
    """Render pages to `test-artifacts/signing/<name>-N.png` (80 dpi) for a human to inspect."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.pdf"
        path.write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", "80", "-png", "-f", str(first_page), "-l", str(last_page), str(path), str(ARTIFACTS / name)],
            check=True,
            capture_output=True,
        )
    return sorted(ARTIFACTS.glob(f"{name}-*.png"))


@dataclass(frozen=True)
class PdfsigSignature:
    field_name: str
    signer: str
    signature_validation: str
    certificate_validation: str
    signature_type: str


def parse_pdfsig(output: str) -> list[PdfsigSignature]:
    """Parse `pdfsig` output into one record per signature."""
    result = []
    for block in re.split(r"^Signature #\d+:\s*$", output, flags=re.M)[1:]:

        def field(label: str) -> str:
            m = re.search(rf"^\s*- {re.escape(label)}: (.*)$", block, flags=re.M)
            return m.group(1).strip() if m else ""

        result.append(
            PdfsigSignature(
                field_name=field("Signature Field Name"),
                signer=field("Signer Certificate Common Name"),
                signature_validation=field("Signature Validation"),
                certificate_validation=field("Certificate Validation"),
                signature_type=field("Signature Type"),
            )
        )
    return result


@dataclass(frozen=True)
class OutgoingFlow:
    """The outgoing-document path of DOMAIN.md, each stage's bytes kept for the tests."""

    plain: bytes
    prepared: bytes
    leader_signed: bytes
    filled: bytes
    sealed: bytes


_FLOWS: dict[tuple[int, str], OutgoingFlow] = {}


def outgoing_flow(dev_pki: Any, *, level: str = "B-T") -> OutgoingFlow:
    """Fields added and markers' text removed (`signing.outgoing.prepare_pdf`) → leader signs
    (certification, FILL_FORMS) → number and date filled → the clerk applies the seal into the
    reserved field. Built once per PKI and level."""
    from pyhanko.sign.fields import MDPPerm

    from signing.appearance import Appearance
    from signing.forms import fill_text_fields
    from signing.outgoing import prepare_pdf
    from signing.pades import sign_pdf

    key = (id(dev_pki), level)
    if key in _FLOWS:
        return _FLOWS[key]
    plain = marked_pdf()
    prepared = prepare_pdf(plain)
    leader_signed = sign_pdf(
        prepared,
        signer=dev_pki.person_signer("lan.nguyen"),
        level=level,
        trust=dev_pki.trust,
        appearance=Appearance.signature(name="Nguyễn Thị Lan", marker="leader"),
        field_name="Sig-leader",
        reason="Ký ban hành",
        location="Bến Tre",
        certify=MDPPerm.FILL_FORMS,
    )
    filled = fill_text_fields(leader_signed, {"number": NUMBER, "date": DATE_LINE})
    sealed = sign_pdf(
        filled,
        signer=dev_pki.org_signer("HLHPN-BT"),
        level=level,
        trust=dev_pki.trust,
        appearance=Appearance.seal(org_name=ORG_NAME, over_marker="leader"),
        field_name="Sig-seal",
    )
    flow = OutgoingFlow(plain, prepared, leader_signed, filled, sealed)
    _FLOWS[key] = flow
    return flow


def render_region(pdf: bytes, name: str, *, page: int, box: tuple[float, float, float, float], page_height: float, dpi: int = 200) -> Path:
    """Render one region (PDF user space box, with a small margin) at `dpi` for a close look."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    scale = dpi / 72
    x1, y1, x2, y2 = box
    margin = 20
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.pdf"
        path.write_bytes(pdf)
        subprocess.run(
            [
                "pdftoppm",
                "-r",
                str(dpi),
                "-png",
                "-singlefile",
                "-f",
                str(page + 1),
                "-l",
                str(page + 1),
                "-x",
                str(int((x1 - margin) * scale)),
                "-y",
                str(int((page_height - y2 - margin) * scale)),
                "-W",
                str(int((x2 - x1 + 2 * margin) * scale)),
                "-H",
                str(int((y2 - y1 + 2 * margin) * scale)),
                str(path),
                str(ARTIFACTS / name),
            ],
            check=True,
            capture_output=True,
        )
    return ARTIFACTS / f"{name}.png"
