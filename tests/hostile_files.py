"""Generated hostile Office files (zip bombs, macros, encryption, breakage, lying names) and a
valid DOCX, for the upload tests."""

from __future__ import annotations

import io
import zipfile
from functools import lru_cache

DOCX_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
DOCM_TYPES = DOCX_TYPES.replace(
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
    "application/vnd.ms-word.document.macroEnabled.main+xml",
).replace("</Types>", '<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/></Types>')
DOCUMENT = (
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    "<w:p><w:r><w:t>Báo cáo</w:t></w:r></w:p></w:body></w:document>"
)


def _zip(parts: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@lru_cache
def bomb_docx(unpacked_mb: int = 200) -> bytes:
    """A DOCX of about unpacked_mb KB that inflates to unpacked_mb MB (one part of zeros)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", DOCX_TYPES)
        archive.writestr("word/document.xml", DOCUMENT)
        with archive.open("word/media/anh.xml", "w", force_zip64=True) as part:
            block = b"\0" * (1024 * 1024)
            for _ in range(unpacked_mb):
                part.write(block)
    return buffer.getvalue()


def macro_docx() -> bytes:
    """A macro-enabled document (DOCM content type and a VBA project) wearing a .docx name."""
    return _zip(
        {"[Content_Types].xml": DOCM_TYPES, "word/document.xml": DOCUMENT, "word/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"VBA" * 100}
    )


def docm_types_only() -> bytes:
    """Only the content type says macro-enabled (no vbaProject part)."""
    return _zip({"[Content_Types].xml": DOCM_TYPES, "word/document.xml": DOCUMENT})


def activex_docx() -> bytes:
    return _zip(
        {
            "[Content_Types].xml": DOCX_TYPES,
            "word/document.xml": DOCUMENT,
            "word/activeX/activeX1.bin": b"\0" * 64,
            "word/activeX/activeX1.xml": "<ax/>",
        }
    )


def macro_xlsx() -> bytes:
    return _zip({"[Content_Types].xml": DOCX_TYPES, "xl/workbook.xml": "<workbook/>", "xl/vbaProject.bin": b"VBA" * 50})


def encrypted_docx() -> bytes:
    """A DOCX whose parts carry the zip "encrypted" flag (as a password-protected zip does)."""
    data = bytearray(_zip({"word/document.xml": DOCUMENT}))
    data[6] |= 0x1  # local file header: general purpose bit flag
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x1  # central directory: general purpose bit flag
    return bytes(data)


def corrupt_docx() -> bytes:
    """A DOCX whose document part is damaged inside (the directory still reads)."""
    data = bytearray(_zip({"[Content_Types].xml": DOCX_TYPES, "word/document.xml": DOCUMENT * 20}))
    start = data.find(b"word/document.xml") + len("word/document.xml")
    for i in range(start + 5, start + 40):
        data[i] ^= 0x5A
    return bytes(data)


def truncated_docx() -> bytes:
    return valid_docx()[:300]


def ole_file() -> bytes:
    """What Word writes for a password-protected DOCX (or an old DOC): an OLE compound file."""
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000


@lru_cache
def valid_docx() -> bytes:
    from docx import Document

    document = Document()
    document.add_paragraph("Báo cáo sơ kết công tác Hội Liên hiệp Phụ nữ 6 tháng đầu năm 2026")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


LONG_VIETNAMESE_NAME = (
    "Báo cáo tổng kết công tác Hội và phong trào phụ nữ năm 2026, phương hướng nhiệm vụ năm 2027 "
    "của Hội Liên hiệp Phụ nữ tỉnh Bến Tre — bản trình Ban Thường vụ xem xét, cho ý kiến lần thứ hai "
    "(đã chỉnh sửa theo góp ý của các huyện, thành phố và các ban chuyên môn).docx"
)


def says(message: str, phrase: str) -> bool:
    """Whether a refusal contains the phrase (one of the alternatives separated by "|")."""
    return any(alternative in message for alternative in phrase.split("|"))


def hostile_office_files() -> list[tuple[str, bytes, str]]:
    """(file name, bytes, a phrase the refusal must contain) for every hostile case."""
    from tests.signing.conftest import make_tiny_pdf

    return [
        ("bom-giai-nen.docx", bomb_docx(), "giải nén quá lớn"),
        ("macro.docx", macro_docx(), "macro"),
        ("chi-kieu-docm.docx", docm_types_only(), "macro"),
        ("activex.docx", activex_docx(), "ActiveX"),
        ("mat-khau.docx", encrypted_docx(), "mật khẩu"),
        ("mat-khau-office.docx", ole_file(), "mật khẩu"),
        ("hong.docx", corrupt_docx(), "bị hỏng"),
        ("cut-ngang.docx", truncated_docx(), "bị hỏng"),
        # A PDF named .docx: where PDFs are allowed the name is the lie; elsewhere the content is.
        ("gia-docx.docx", make_tiny_pdf("gia"), "có đuôi .docx nhưng nội dung là PDF|không đúng định dạng cho phép (DOCX)"),
        ("trang-web.docx", b"<html><script>alert(1)</script></html>", "không đúng định dạng"),
    ]
