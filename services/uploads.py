"""Checking uploads by their content (not their name): size, type, that PDFs open, and that
Office files (DOCX, XLSX) are no zip bombs, carry no macros, DTDs or encryption and are not broken,
that PDFs carry no JavaScript or launch actions, and that file names are plain names."""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.errors import InvalidInput
from services.i18n import _l

if TYPE_CHECKING:
    from services.config import Settings

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"
XML = "application/xml"
EXTENSIONS = {PDF: "pdf", DOCX: "docx", XLSX: "xlsx", PNG: "png", JPEG: "jpg", TIFF: "tif", XML: "xml"}
OFFICE = {DOCX, XLSX}
# What a file name's extension claims; images count as one kind (a PNG saved as .jpg is harmless).
_CLAIMS = {
    "pdf": PDF,
    "docx": DOCX,
    "docm": DOCX,
    "xlsx": XLSX,
    "xlsm": XLSX,
    "xml": XML,
    "edxml": XML,
    "png": "image",
    "jpg": "image",
    "jpeg": "image",
    "tif": "image",
    "tiff": "image",
}
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # DOC/XLS, and every password-protected DOCX/XLSX
# A real DOCX/XLSX has tens to hundreds of parts; thousands only make the check itself expensive.
_MAX_OFFICE_PARTS = 5000
# Small parts compress extremely well (empty styles, repeated XML): the ratio only matters above this.
_RATIO_FLOOR = 1024 * 1024
_MACRO_TYPES = ("macroenabled", "vbaproject", "activex")
# Word and Excel never write a DTD; one in a part can only be an XXE or entity-expansion attempt.
_DTD = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)
# Bidirectional overrides disguise an extension ("hoso\u202efdp.exe" shows as "hosoexe.pdf").
_BIDI = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}
# PDF actions that run something: JavaScript (also as /OpenAction or /AA), launching a program.
_ACTIVE_KEYS = {"/JS", "/JavaScript"}
_ACTIVE_ACTIONS = {"/JavaScript", "/Launch"}
_MAX_PDF_OBJECTS = 50_000


@dataclass(frozen=True)
class OfficeLimits:
    """How much a DOCX/XLSX may unpack to, and how strongly compressed it may be."""

    max_unpacked_bytes: int = 100 * 1024 * 1024
    max_ratio: float = 100.0

    @classmethod
    def of(cls, settings: Settings) -> OfficeLimits:
        return cls(max_unpacked_bytes=settings.office_max_unpacked_bytes, max_ratio=settings.office_max_compression_ratio)


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
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError, EOFError, OSError):
            return None
        if "word/document.xml" in names:
            return DOCX
        if "xl/workbook.xml" in names:
            return XLSX
        return None
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<?xml") or stripped.startswith(b"<"):
        return XML
    return None


def _runs_something(reader) -> bool:
    """Whether any object reachable from the catalog is a JavaScript or launch action.

    Walks the object graph (names decoded by the parser, so `/J#53` is `/JS`), each indirect
    object once; stream contents are never decoded. A graph larger than any real letter counts
    as suspicious rather than being walked for minutes."""
    from pyhanko.pdf_utils import generic

    stack: list[object] = [reader.root]
    seen: set[tuple[int, int]] = set()
    while stack:
        item = stack.pop()
        if isinstance(item, generic.IndirectObject):
            key = (item.idnum, item.generation)
            if key in seen:
                continue
            seen.add(key)
            if len(seen) > _MAX_PDF_OBJECTS:
                return True
            item = item.get_object()
        if isinstance(item, generic.DictionaryObject):
            if _ACTIVE_KEYS & set(item.keys()) or dict.get(item, "/S") in _ACTIVE_ACTIONS:
                return True
            stack.extend(item.raw_get(k) for k in item.keys())
        elif isinstance(item, generic.ArrayObject):
            stack.extend(item.raw_get(i) for i in range(len(item)))
    return False


def _check_pdf(data: bytes) -> None:
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        if reader.encrypted:
            raise InvalidInput(_l("The PDF is encrypted."))
        if reader.root["/Pages"]["/Count"] < 1:
            raise ValueError("no pages")
        if _runs_something(reader):
            raise InvalidInput(
                _l("The PDF carries JavaScript or a launch action. Print it to a new PDF and upload again."),
            )
    except InvalidInput:
        raise
    except (PdfReadError, KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise InvalidInput(
            _l("The file is not a valid PDF ({exc}).", exc=exc),
        ) from None


def _office_refusal(name: str, why: str, limits: OfficeLimits) -> InvalidInput:
    limit_mb = limits.max_unpacked_bytes // (1024 * 1024)
    messages = {
        "bomb": (
            (
                f"Tệp “{name}” khi giải nén quá lớn hoặc bị nén bất thường (giới hạn {limit_mb} MB), có thể là tệp độc hại. "
                "Hãy mở và lưu lại tệp bằng Word/Excel rồi tải lên lại."
            ),
            f"The file {name} unpacks to too much data or is abnormally compressed (limit {limit_mb} MB).",
        ),
        "macro": (
            (
                f"Tệp “{name}” có chứa macro hoặc điều khiển ActiveX nên không được nhận. "
                "Hãy lưu lại dưới dạng DOCX/XLSX thông thường (không có macro) rồi tải lên lại."
            ),
            f"The file {name} contains macros or ActiveX controls. Save it as a plain DOCX/XLSX and upload again.",
        ),
        "encrypted": (
            f"Tệp “{name}” đang được đặt mật khẩu. Hãy gỡ mật khẩu rồi tải lên lại.",
            f"The file {name} is encrypted. Remove the password and upload again.",
        ),
        "dtd": (
            f"Tệp “{name}” có khai báo DTD/ENTITY (có thể là tệp độc hại) nên không được nhận. "
            "Hãy mở và lưu lại tệp bằng Word/Excel rồi tải lên lại.",
            f"The file {name} declares a DTD or entities (a possible attack). Save it again with Word/Excel.",
        ),
        "broken": (
            f"Tệp “{name}” bị hỏng hoặc chưa tải hết nên không đọc được. Hãy lưu lại tệp rồi tải lên lại.",
            f"The file {name} is broken or incomplete.",
        ),
    }
    return InvalidInput(*messages[why])


def check_office(data: bytes, *, name: str, limits: OfficeLimits) -> None:
    """Refuse a DOCX/XLSX that is a zip bomb, carries macros, is encrypted or broken.

    Every part is inflated (counting, in chunks, never held whole): zipfile stops a part at its
    declared size and checks its CRC, so a part that lies about its size shows up as broken.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            parts = archive.infolist()
            if len(parts) > _MAX_OFFICE_PARTS:
                raise _office_refusal(name, "bomb", limits)
            for part in parts:
                if part.flag_bits & 0x1:
                    raise _office_refusal(name, "encrypted", limits)
                lower = part.filename.lower()
                if lower.endswith(("vbaproject.bin", "vbadata.xml")) or "activex/" in lower:
                    raise _office_refusal(name, "macro", limits)
            declared = sum(part.file_size for part in parts)
            if declared > limits.max_unpacked_bytes or (declared > _RATIO_FLOOR and declared > limits.max_ratio * len(data)):
                raise _office_refusal(name, "bomb", limits)
            unpacked = 0
            for part in parts:
                unpacked_part, lower = 0, part.filename.lower()
                with archive.open(part) as stream:
                    while chunk := stream.read(1024 * 1024):
                        unpacked += len(chunk)
                        if unpacked > limits.max_unpacked_bytes:
                            raise _office_refusal(name, "bomb", limits)
                        if unpacked_part == 0 and lower.endswith((".xml", ".rels")) and _DTD.search(chunk[:4096]):
                            raise _office_refusal(name, "dtd", limits)
                        unpacked_part += len(chunk)
                        if part.filename == "[Content_Types].xml" and any(
                            marker in chunk.lower().decode("latin-1") for marker in _MACRO_TYPES
                        ):
                            raise _office_refusal(name, "macro", limits)
    except InvalidInput:
        raise
    # What zipfile raises for a damaged archive: bad headers, zip64 it refuses, an unknown
    # compression method, an encrypted part (RuntimeError), a truncated or corrupt stream.
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, OSError, ValueError, zlib.error):
        raise _office_refusal(name, "broken", limits) from None


def _opens(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)):
            return True
    except (zipfile.BadZipFile, ValueError, EOFError, OSError):
        return False


def _short_name(filename: str | None, limit: int = 200) -> str:
    """The file's own name (no folders), at most `limit` characters, keeping its extension.

    Refuses names no browser sends for a real file: control characters, direction overrides,
    parent-folder steps and Windows device names."""
    raw = unicodedata.normalize("NFC", filename or "")
    shown = "".join("?" if unicodedata.category(c) == "Cc" or c in _BIDI else c for c in raw)[:80]
    parts = raw.replace("\\", "/").split("/")
    stem = parts[-1].split(".", 1)[0].strip().lower()
    if any(c in _BIDI or unicodedata.category(c) == "Cc" for c in raw) or ".." in parts or stem in _RESERVED:
        raise InvalidInput(
            _l("The file name {shown!r} is not allowed (control characters, folder steps or a device name).", shown=shown),
        )
    name = parts[-1].strip() or "tep"
    if len(name) <= limit:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and len(extension) <= 10:
        return stem[: limit - len(extension) - 1] + "." + extension
    return name[:limit]


def check_upload(
    *, filename: str | None, data: bytes, allowed: set[str], max_bytes: int, office: OfficeLimits = OfficeLimits()
) -> CheckedUpload:
    """Validate one uploaded file; raise InvalidInput with a message a clerk understands.

    `office`: pass `OfficeLimits.of(settings)`; the default holds the settings' defaults."""
    name = _short_name(filename)
    if not data:
        raise InvalidInput(_l("The file {name} is empty.", name=name))
    if len(data) > max_bytes:
        raise InvalidInput(
            _l("The file {name} is too large.", name=name, value=len(data) // (1024 * 1024), value2=max_bytes // (1024 * 1024)),
        )
    kind = sniff(data)
    if kind is None and data.startswith(_OLE) and allowed & OFFICE:
        raise InvalidInput(
            _l("The file {name} is an old Office file (DOC, XLS) or is encrypted. Save it as DOCX/XLSX without a password.", name=name),
        )
    if kind is None and data.startswith(b"PK\x03\x04") and allowed & OFFICE and not _opens(data):
        raise _office_refusal(name, "broken", office)
    if kind not in allowed:
        labels = ", ".join(sorted(EXTENSIONS[a].upper() for a in allowed))
        raise InvalidInput(
            _l("The file {name} is not one of: {labels}.", name=name, labels=labels),
        )
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    claimed = _CLAIMS.get(extension)
    if claimed is not None and claimed != ("image" if kind in (PNG, JPEG, TIFF) else kind):
        raise InvalidInput(
            _l(
                "The file {name} is named .{extension} but holds a {EXTENSIONS}.",
                name=name,
                extension=extension,
                EXTENSIONS=EXTENSIONS[kind].upper(),
            ),
        )
    if kind == PDF:
        _check_pdf(data)
    if kind in OFFICE:
        check_office(data, name=name, limits=office)
    return CheckedUpload(filename=name, content_type=kind, data=data)
