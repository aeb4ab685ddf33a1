"""Checking uploads by their content (not their name): size, type, and that PDFs open."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from services.errors import InvalidInput

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
XML = "application/xml"
EXTENSIONS = {PDF: "pdf", DOCX: "docx", PNG: "png", JPEG: "jpg", TIFF: "tif", XML: "xml"}


@dataclass(frozen=True)
class CheckedUpload:
    filename: str
    content_type: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def sniff(data: bytes) -> str | None:
    """The content type the bytes really are, or None."""
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                if "word/document.xml" in archive.namelist():
                    return DOCX
        except zipfile.BadZipFile:
            return None
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<"):
        return XML
    return None


def _check_pdf(data: bytes) -> None:
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            raise InvalidInput(
                "Tệp PDF đang được đặt mật khẩu. Hãy gỡ mật khẩu rồi tải lên lại.", "The PDF is encrypted."
            )
        if reader.root["/Pages"]["/Count"] < 1:
            raise ValueError("no pages")
    except InvalidInput:
        raise
    except (PdfReadError, KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise InvalidInput(
            "Tệp không phải PDF hợp lệ (tệp hỏng hoặc chưa tải hết). Hãy tải lên tệp PDF khác.",
            f"The file is not a valid PDF ({exc}).",
        ) from None


def check_upload(
    *, filename: str | None, data: bytes, allowed: set[str], max_bytes: int
) -> CheckedUpload:
    """Validate one uploaded file; raise InvalidInput with a message a clerk understands."""
    name = (filename or "tep").replace("\\", "/").rsplit("/", 1)[-1][:200] or "tep"
    if not data:
        raise InvalidInput(f"Tệp “{name}” rỗng. Hãy chọn lại tệp.", f"The file {name} is empty.")
    if len(data) > max_bytes:
        raise InvalidInput(
            f"Tệp “{name}” quá lớn ({len(data) // (1024 * 1024)} MB). Giới hạn là {max_bytes // (1024 * 1024)} MB.",
            f"The file {name} is too large.",
        )
    kind = sniff(data)
    if kind not in allowed:
        labels = ", ".join(sorted(EXTENSIONS[a].upper() for a in allowed))
        raise InvalidInput(
            f"Tệp “{name}” không đúng định dạng cho phép ({labels}). Hãy chọn tệp khác.",
            f"The file {name} is not one of: {labels}.",
        )
    if kind == PDF:
        _check_pdf(data)
    return CheckedUpload(filename=name, content_type=kind, data=data)
