"""The hostile corpus: named files, file names and form values an attacker (or a broken scanner)
sends to every upload, import and form endpoint. Each endpoint must answer a clear 4xx in
Vietnamese and keep nothing; the `accepted` file cases are valid and must go through.

File names may hold "{ext}": the endpoint's own extension (pdf, docx, png, xml), so that a name
case carries a file the endpoint would otherwise accept."""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from functools import lru_cache

from tests.hostile_files import DOCUMENT, DOCX_TYPES, LONG_VIETNAMESE_NAME, hostile_office_files


@dataclass(frozen=True)
class FileCase:
    name: str
    filename: str
    data: bytes | None  # None: the endpoint's own valid file (a case about the name only)
    accepted: bool = False


@dataclass(frozen=True)
class FieldCase:
    """`field`: which kind of form field gets `value` ("date", "datetime", "text")."""

    name: str
    field: str
    value: str
    refused: bool = True  # False: plausible input that may be accepted, but never a 5xx


# --- PDFs -----------------------------------------------------------------------------------------


@lru_cache
def tiny_pdf() -> bytes:
    from tests.signing.conftest import make_tiny_pdf

    return make_tiny_pdf("Cong van den")


def _pdf_with(change) -> bytes:  # type: ignore[no-untyped-def]
    """The tiny PDF plus an incremental update made by `change(writer)`."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(tiny_pdf()))
    change(writer)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def tampered_after_signing(signed: bytes) -> dict[str, bytes]:
    """A signed PDF with content added after its signature: stray bytes after the end, and an
    incremental update that writes new text onto the first page (what a forger would do)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.stamp import TextStamp, TextStampStyle

    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    TextStamp(writer, style=TextStampStyle(stamp_text="SỐ TIỀN: 900.000.000 đồng")).apply(0, 72, 72)
    stamped = io.BytesIO()
    writer.write(stamped)
    return {"bytes appended": signed + b"\n% Appended after signing: 900.000.000 dong\n", "text stamped on the page": stamped.getvalue()}


def _action(writer, kind: str, **extra):  # type: ignore[no-untyped-def]
    from pyhanko.pdf_utils import generic

    entries = {generic.NameObject("/S"): generic.NameObject(kind)}
    entries.update({generic.NameObject(k): v for k, v in extra.items()})
    return writer.add_object(generic.DictionaryObject(entries))


def js_open_action_pdf() -> bytes:
    from pyhanko.pdf_utils import generic

    def change(writer):  # type: ignore[no-untyped-def]
        writer.root["/OpenAction"] = _action(writer, "/JavaScript", **{"/JS": generic.TextStringObject("app.alert(1)")})
        writer.update_root()

    return _pdf_with(change)


def js_names_tree_pdf() -> bytes:
    from pyhanko.pdf_utils import generic

    def change(writer):  # type: ignore[no-untyped-def]
        action = _action(writer, "/JavaScript", **{"/JS": generic.TextStringObject("this.exportDataObject()")})
        tree = generic.DictionaryObject({generic.NameObject("/Names"): generic.ArrayObject([generic.TextStringObject("x"), action])})
        writer.root["/Names"] = generic.DictionaryObject({generic.NameObject("/JavaScript"): writer.add_object(tree)})
        writer.update_root()

    return _pdf_with(change)


def page_aa_pdf() -> bytes:
    """JavaScript run when the first page opens (an additional action on the page)."""
    from pyhanko.pdf_utils import generic

    def change(writer):  # type: ignore[no-untyped-def]
        page_ref = writer.root["/Pages"].raw_get("/Kids").raw_get(0)
        page = page_ref.get_object()
        page["/AA"] = generic.DictionaryObject(
            {generic.NameObject("/O"): _action(writer, "/JavaScript", **{"/JS": generic.TextStringObject("app.launchURL('http://x')")})}
        )
        writer.update_container(page)

    return _pdf_with(change)


def launch_pdf() -> bytes:
    from pyhanko.pdf_utils import generic

    def change(writer):  # type: ignore[no-untyped-def]
        writer.root["/OpenAction"] = _action(writer, "/Launch", **{"/F": generic.TextStringObject("cmd.exe")})
        writer.update_root()

    return _pdf_with(change)


def encrypted_pdf() -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(tiny_pdf())))
    writer.encrypt("matkhau", "matkhau")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pageless_pdf() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
        b"trailer<</Root 1 0 R>>\n%%EOF\n"
    )


# --- Office and XML -------------------------------------------------------------------------------

XXE_ENTITY = '<!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
LAUGHS_DTD = (
    '<!DOCTYPE w [<!ENTITY a "lollollollollollollollollollol">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9))
    + "]>"
)


def _zip(parts: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def docx_with_dtd(dtd: str, use: str) -> bytes:
    document = DOCUMENT.replace("<w:document", f'<?xml version="1.0"?>{dtd}<w:document', 1).replace("Báo cáo", use)
    return _zip({"[Content_Types].xml": DOCX_TYPES, "word/document.xml": document})


def xlsx_with_dtd(dtd: str, use: str) -> bytes:
    types = DOCX_TYPES.replace("/word/document.xml", "/xl/workbook.xml").replace(
        "wordprocessingml.document.main", "spreadsheetml.sheet.main"
    )
    return _zip(
        {
            "[Content_Types].xml": types,
            "xl/workbook.xml": "<workbook/>",
            "xl/sharedStrings.xml": f'<?xml version="1.0"?>{dtd}<sst><si><t>{use}</t></si></sst>',
        }
    )


EDXML_NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
XML_XXE = f'<?xml version="1.0"?>{XXE_ENTITY.replace("w [", "r [")}<edXMLEnvelope xmlns="{EDXML_NS}">&x;</edXMLEnvelope>'
XML_LAUGHS = f'<?xml version="1.0"?>{LAUGHS_DTD}<edXMLEnvelope xmlns="{EDXML_NS}">&j;</edXMLEnvelope>'
XML_EXTERNAL_DTD = f'<?xml version="1.0"?><!DOCTYPE edXMLEnvelope SYSTEM "http://127.0.0.1:9/evil.dtd"><edXMLEnvelope xmlns="{EDXML_NS}"/>'


@lru_cache
def png() -> bytes:
    """A valid 1×1 white PNG."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0\xff\xff\xff"))
        + chunk(b"IEND", b"")
    )


@lru_cache
def marked_docx() -> bytes:
    """A valid draft: a DOCX holding the signature, number and date markers."""
    from docx import Document

    document = Document()
    document.add_paragraph("Số: [[field:number]]    Bến Tre, [[field:date]]")
    document.add_paragraph("Về việc tổ chức tập huấn cán bộ Hội cơ sở")
    document.add_paragraph("[[sig:leader]]")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --- the corpus -----------------------------------------------------------------------------------


def file_cases() -> list[FileCase]:
    office = [FileCase(f"office-{name.rsplit('.', 1)[0]}", name, data) for name, data, _ in hostile_office_files()]
    return office + [
        FileCase("pdf-js-openaction", "thu-moi.pdf", js_open_action_pdf()),
        FileCase("pdf-js-names-tree", "bao-cao.pdf", js_names_tree_pdf()),
        FileCase("pdf-js-page-open", "to-trinh.pdf", page_aa_pdf()),
        FileCase("pdf-launch-action", "quyet-dinh.pdf", launch_pdf()),
        FileCase("pdf-encrypted", "mat-khau.pdf", encrypted_pdf()),
        FileCase("pdf-truncated", "cut.pdf", tiny_pdf()[: len(tiny_pdf()) // 2]),
        FileCase("pdf-header-only", "rong.pdf", b"%PDF-1.7\n%%EOF\n"),
        FileCase("pdf-no-pages", "khong-trang.pdf", pageless_pdf()),
        FileCase("pdf-html-polyglot", "trang.pdf", b"%PDF-1.4\n<html><script>window.__xss=1</script></html>"),
        FileCase("docx-xxe", "xxe.docx", docx_with_dtd(XXE_ENTITY, "&x;")),
        FileCase("docx-billion-laughs", "cuoi.docx", docx_with_dtd(LAUGHS_DTD, "&j;")),
        FileCase("xlsx-xxe", "so-lieu.xlsx", xlsx_with_dtd(XXE_ENTITY, "&x;")),
        FileCase("xlsx-billion-laughs", "so-lieu-2.xlsx", xlsx_with_dtd(LAUGHS_DTD, "&j;")),
        FileCase("xml-xxe", "goi.xml", XML_XXE.encode()),
        FileCase("xml-billion-laughs", "goi-2.xml", XML_LAUGHS.encode()),
        FileCase("xml-external-dtd", "goi-3.xml", XML_EXTERNAL_DTD.encode()),
        FileCase("exe-named-pdf", "cong-van.pdf", b"MZ\x90\x00" + b"\0" * 500),
        FileCase("docx-named-pdf", "cong-van-2.pdf", _zip({"[Content_Types].xml": DOCX_TYPES, "word/document.xml": DOCUMENT})),
        FileCase("png-named-pdf", "anh.pdf", png()),
        FileCase("svg-script-named-png", "chu-ky.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="window.__xss=1"/>'),
        FileCase("html-named-docx", "soan-thao.docx", b"<html><body onload=alert(1)>x</body></html>"),
        FileCase("empty-file", "rong.{ext}", b""),
        FileCase("name-traversal", "../../etc/passwd.{ext}", None),
        FileCase("name-traversal-windows", "..\\..\\Windows\\win.ini.{ext}", None),
        FileCase("name-nul-byte", "cong-van.exe\x00.{ext}", None),
        FileCase("name-control-chars", "cong\r\nvan\x07.{ext}", None),
        FileCase("name-rtl-override", "hoso\u202egpj.{ext}", None),
        FileCase("name-device-con", "CON.{ext}", None),
        FileCase("name-device-lpt1", "lpt1.{ext}", None),
        # Valid files whose names are only unusual: accepted, shown and downloaded safely.
        FileCase("ok-long-vietnamese-name", LONG_VIETNAMESE_NAME.rsplit(".", 1)[0] + ".{ext}", None, accepted=True),
        FileCase("ok-decomposed-vietnamese", "Bi\u00ea\u0300n ba\u0309n ho\u0323p.{ext}", None, accepted=True),
        FileCase("ok-html-in-name", "<img src=x onerror=window.__xss=1>.{ext}", None, accepted=True),
    ]


LONG_TEXT = "Về việc " + "rất dài " * 20_000


def field_cases() -> list[FieldCase]:
    return [
        FieldCase("date-31-february", "date", "2026-02-31"),
        FieldCase("date-year-zero", "date", "0000-01-01"),
        FieldCase("date-far-future", "date", "9999-12-31"),
        FieldCase("date-far-past", "date", "0001-01-01"),
        FieldCase("date-garbage", "date", "hôm qua"),
        FieldCase("date-dmy-31-02", "date", "31/02/2026"),
        FieldCase("datetime-31-february", "datetime", "2026-02-31T08:00"),
        FieldCase("datetime-year-zero", "datetime", "0000-01-01T08:00"),
        FieldCase("datetime-far-future", "datetime", "9999-12-31T23:59"),
        FieldCase("datetime-garbage", "datetime", "sáng mai"),
        FieldCase("text-overlong", "text", LONG_TEXT),
        FieldCase("text-nul-byte", "text", "Về việc\x00 tập huấn"),
        FieldCase("text-blank", "text", "   \t "),
        FieldCase("text-600-chars", "text", "Về việc " + "tập huấn " * 70, refused=False),
        FieldCase("text-html", "text", "<script>window.__xss=1</script>", refused=False),
    ]


XSS_PAYLOADS = [
    "<img src=x onerror=window.__xss=1>",
    "<script>window.__xss=1</script>",
    '"><svg onload=window.__xss=1>',
    "javascript:window.__xss=1",
]
