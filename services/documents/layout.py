"""Administrative documents laid out per Decree 30/2020/NĐ-CP, written as DOCX.

What it owns: turning a :class:`DocumentSpec` into a DOCX (A4, margins 20/20/30/15 mm,
Times New Roman — Liberation Serif when rendered here), and the *placement contract* with the
signing code, which finds these tokens in the converted PDF with ``pdftotext -bbox``:

* ``[[sig:leader]]`` (minutes: ``[[sig:secretary]]``, ``[[sig:chair]]``): one centred word in
  white 6 pt inside the signature space of its signing block, with at least 14 mm of empty
  space above and below it and a column at least 65 mm wide. The stamp (60 × 26 mm) is centred
  on it.
* ``[[field:number]]____`` in white where the number and notation go while the document is a
  draft; the word's box reserves :data:`NUMBER_FIELD_MM`. The clerk's numbering fills it with
  the whole ``15/QĐ-HLHPN``; the black ``Số:`` label stays.
* ``[[field:date]]____`` in white italic where the place-and-date line goes while undated;
  its box reserves :data:`DATE_FIELD_MM` and will hold the whole line.

Once the signing code has reserved the fields and signature boxes it removes the tokens' text
(``signing.marker_text``), so no final PDF carries them in its text layer.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from io import BytesIO
from typing import Final, Literal, Protocol

from docx import Document as new_document
from docx.document import Document
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Length, Mm, Pt, RGBColor
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from services.documents.notation import OFFICIAL_LETTER, TYPE_CODES, canonical_type_code, format_number, vn_date_line

__all__ = [
    "DATE_FIELD",
    "DATE_FIELD_MM",
    "NUMBER_FIELD",
    "NUMBER_FIELD_MM",
    "BodyBlock",
    "DocumentSpec",
    "PdfConverter",
    "SigningBlock",
    "build_document_docx",
    "build_document_pdf",
    "sig_token",
]

# --- placement contract ------------------------------------------------------------------

NUMBER_FIELD: Final = "[[field:number]]"
DATE_FIELD: Final = "[[field:date]]"
#: Width reserved for the number and notation (``123/QĐ-HLHPN`` at 13 pt is about 30 mm).
NUMBER_FIELD_MM: Final = 36.0
#: Width reserved for the place-and-date line (a long place name at 14 pt is about 80 mm).
DATE_FIELD_MM: Final = 82.0
SIG_TOKEN_PT: Final = 6
#: Empty space kept above and below a signature token (the contract promises 14 mm).
SIG_SPACE_MM: Final = 16.0

Role = Literal["leader", "secretary", "chair"]


def sig_token(role: Role) -> str:
    """The token marking where ``role``'s signature stamp goes."""
    return f"[[sig:{role}]]"


# --- page and type ------------------------------------------------------------------------

FONT: Final = "Times New Roman"
PAGE_WIDTH_MM: Final = 210.0
PAGE_HEIGHT_MM: Final = 297.0
MARGIN_TOP_MM: Final = 20.0
MARGIN_BOTTOM_MM: Final = 20.0
MARGIN_LEFT_MM: Final = 30.0
MARGIN_RIGHT_MM: Final = 15.0
TEXT_WIDTH_MM: Final = PAGE_WIDTH_MM - MARGIN_LEFT_MM - MARGIN_RIGHT_MM  # 165 mm

BODY_PT: Final = 14
HEADER_LEFT_MM: Final = 70.0  # room for "HỘI LHPN TỈNH BẾN TRE" bold 13 pt (57 mm)
HEADER_RIGHT_MM: Final = TEXT_WIDTH_MM - HEADER_LEFT_MM  # "CỘNG HÒA …" bold 12 pt is 88 mm
RECIPIENTS_MM: Final = 72.0
SIGNING_MM: Final = TEXT_WIDTH_MM - RECIPIENTS_MM  # 93 mm, the contract wants ≥ 65 mm

# Advance widths in em of Times New Roman / Liberation Serif (metric-compatible), measured
# from the font files; they let us size rules and reserved fields without a font at run time.
_EM_MOTTO_BOLD: Final = 12.2417  # "Độc lập - Tự do - Hạnh phúc"
_EM_NUMBER_FIELD: Final = 6.4971  # "[[field:number]]", regular
_EM_DATE_FIELD: Final = 5.3887  # "[[field:date]]", italic
_EM_UNDERSCORE: Final = 0.5
_EM_CAPS_BOLD_AVG: Final = 0.59  # average per character of an upper-case bold name, spaces included
_MM_PER_PT: Final = 25.4 / 72

_WHITE: Final = RGBColor(0xFF, 0xFF, 0xFF)

NATIONAL_NAME: Final = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
_ARTICLE: Final = re.compile(r"^Điều \d+\.")
MOTTO: Final = "Độc lập - Tự do - Hạnh phúc"


# --- the spec ------------------------------------------------------------------------------


class BodyBlock(BaseModel):
    """One body paragraph with a style; a plain ``str`` in the body is a ``paragraph``.

    ``heading``: bold, aligned left with the body's indent (``I. MỤC ĐÍCH, YÊU CẦU``).
    ``center``: bold and centred (``QUYẾT ĐỊNH:`` or the issuing authority of a decision).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str = Field(min_length=1)
    style: Literal["paragraph", "heading", "center"] = "paragraph"


class SigningBlock(BaseModel):
    """Who signs, and how the block reads: ``TM. BAN THƯỜNG VỤ`` / ``CHỦ TỊCH`` / name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role = "leader"
    authority_prefix: Literal["TM.", "KT.", "TL.", "TUQ.", "Q."] | None = None
    authority_line: str | None = Field(None, description="e.g. BAN THƯỜNG VỤ; with KT. the head's title")
    position: str = Field(min_length=1, description="e.g. CHỦ TỊCH, PHÓ CHỦ TỊCH, THƯ KÝ")
    signer_name: str = Field(min_length=1)

    def heading_lines(self) -> list[str]:
        """Upper-case lines above the signature space."""
        lines: list[str] = []
        if self.authority_prefix or self.authority_line:
            lines.append(" ".join(p for p in (self.authority_prefix, self.authority_line) if p).upper())
        lines.append(self.position.upper())
        return lines


class DocumentSpec(BaseModel):
    """Everything printed on one administrative document."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parent_body: str | None = Field("HỘI LHPN VIỆT NAM", description="Line above the issuer, upper case, not bold; None to omit")
    issuing_body: str = Field(min_length=1, description="e.g. HỘI LHPN TỈNH BẾN TRE")
    doc_type: str = Field(description="Type code (QĐ, TB, KH, BC, TTr, GM, BB…) or CV for a công văn")
    type_title: str | None = Field(None, description="Defaults to the type's official title")
    notation_suffix: str = Field(description="What follows the number: /QĐ-HLHPN or /HLHPN-VP")
    number: int | None = Field(None, ge=1, description="None while a draft: a field is reserved")
    place: str = Field(min_length=1)
    date: dt.date | None = Field(None, description="None while undated: a field is reserved")
    subject: str = Field(min_length=1, description="Trích yếu; printed as V/v … on a công văn")
    addressees: list[str] = Field(default_factory=list, description="Kính gửi: lines (công văn)")
    body: list[str | BodyBlock] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list, description="Nơi nhận, without the filing line")
    filing: str = Field("Lưu: VT, VP.", description="Last Nơi nhận line")
    signers: list[SigningBlock] = Field(min_length=1, max_length=2)

    @field_validator("doc_type")
    @classmethod
    def _known_type(cls, value: str) -> str:
        if value.strip().upper() == OFFICIAL_LETTER:
            return OFFICIAL_LETTER
        return canonical_type_code(value)

    @field_validator("notation_suffix")
    @classmethod
    def _suffix_shape(cls, value: str) -> str:
        if not value.startswith("/") or " " in value or len(value) < 2:
            raise ValueError("notation_suffix looks like /QĐ-HLHPN, without spaces")
        return value

    @model_validator(mode="after")
    def _signers_fit_type(self) -> DocumentSpec:
        roles = [s.role for s in self.signers]
        if self.doc_type == "BB":
            if sorted(roles) != ["chair", "secretary"]:
                raise ValueError("minutes are signed by a secretary and a chair")
        elif roles != ["leader"]:
            raise ValueError("a document other than minutes has one signer, role 'leader'")
        return self

    @property
    def is_official_letter(self) -> bool:
        """A công văn: no title, its subject as ``V/v`` under the number."""
        return self.doc_type == OFFICIAL_LETTER

    @property
    def title(self) -> str | None:
        if self.is_official_letter:
            return None
        return (self.type_title or TYPE_CODES[self.doc_type]).upper()

    @property
    def number_text(self) -> str | None:
        return None if self.number is None else format_number(self.number) + self.notation_suffix


class PdfConverter(Protocol):
    """What turns DOCX into PDF (``signing.convert.Converter`` satisfies it)."""

    async def to_pdf(self, docx: bytes, *, extra_seconds: float = 0.0) -> bytes: ...


# --- low-level helpers ---------------------------------------------------------------------


def _set_fonts(rpr_parent: object, name: str = FONT) -> None:
    """Name the font for every script slot, so Vietnamese never falls back to another face."""
    rpr = rpr_parent.get_or_add_rPr()  # type: ignore[attr-defined]  # python-docx adds it at run time
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for slot in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
        fonts.set(qn(slot), name)


def _setup_document(*, landscape: bool = False, margins_mm: tuple[float, float, float, float] | None = None) -> Document:
    doc = new_document()
    normal = doc.styles["Normal"]
    normal.font.name = FONT
    normal.font.size = Pt(BODY_PT)
    _set_fonts(normal.element)
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "vi-VN")
    lang.set(qn("w:eastAsia"), "vi-VN")
    normal.element.get_or_add_rPr().append(lang)
    fmt = normal.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.line_spacing = 1.0
    section = doc.sections[0]
    top, right, bottom, left = margins_mm or (MARGIN_TOP_MM, MARGIN_RIGHT_MM, MARGIN_BOTTOM_MM, MARGIN_LEFT_MM)
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = Mm(PAGE_HEIGHT_MM), Mm(PAGE_WIDTH_MM)
    else:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = Mm(PAGE_WIDTH_MM), Mm(PAGE_HEIGHT_MM)
    section.top_margin, section.right_margin = Mm(top), Mm(right)
    section.bottom_margin, section.left_margin = Mm(bottom), Mm(left)
    section.header_distance = section.footer_distance = Mm(8)
    return doc


def _paragraph(
    where: Document | _Cell,
    text: str | None = None,
    *,
    size: float = BODY_PT,
    bold: bool = False,
    italic: bool = False,
    align: WD_ALIGN_PARAGRAPH = WD_ALIGN_PARAGRAPH.CENTER,
    before_pt: float = 0,
    after_pt: float = 0,
    first_line_mm: float = 0,
    left_mm: float = 0,
    line: float | Length = 1.0,
    keep_with_next: bool = False,
) -> Paragraph:
    p = where.add_paragraph()
    fmt = p.paragraph_format
    p.alignment = align
    fmt.space_before, fmt.space_after = Pt(before_pt), Pt(after_pt)
    fmt.line_spacing = line
    if first_line_mm:
        fmt.first_line_indent = Mm(first_line_mm)
    if left_mm:
        fmt.left_indent = Mm(left_mm)
    if keep_with_next:
        fmt.keep_with_next = True
    _mark_size(p, size)
    if text:
        _run(p, text, size=size, bold=bold, italic=italic)
    return p


# Children of w:pPr that must follow w:pBdr (OOXML fixes the order; Word rejects others).
_AFTER_PBDR: Final = (
    "w:shd",
    "w:tabs",
    "w:suppressAutoHyphens",
    "w:kinsoku",
    "w:wordWrap",
    "w:overflowPunct",
    "w:topLinePunct",
    "w:autoSpaceDE",
    "w:autoSpaceDN",
    "w:bidi",
    "w:adjustRightInd",
    "w:snapToGrid",
    "w:spacing",
    "w:ind",
    "w:contextualSpacing",
    "w:mirrorIndents",
    "w:suppressOverlap",
    "w:jc",
    "w:textDirection",
    "w:textAlignment",
    "w:textboxTightWrap",
    "w:outlineLvl",
    "w:divId",
    "w:cnfStyle",
    "w:rPr",
    "w:sectPr",
    "w:pPrChange",
)


def _mark_size(p: Paragraph, size: float) -> None:
    """Size the paragraph mark too: an empty or short line is as tall as its mark's font."""
    ppr = p._p.get_or_add_pPr()
    rpr = ppr.find(qn("w:rPr"))
    if rpr is None:
        rpr = OxmlElement("w:rPr")
        ppr.insert_element_before(rpr, "w:sectPr", "w:pPrChange")
    sz = OxmlElement("w:sz")
    sz.set(qn("w:val"), str(int(round(size * 2))))
    rpr.append(sz)


def _run(p: Paragraph, text: str, *, size: float, bold: bool = False, italic: bool = False, white: bool = False) -> None:
    run = p.add_run(text)
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.italic = italic
    if white:
        run.font.color.rgb = _WHITE


def _rule(where: Document | _Cell, *, width_mm: float, column_mm: float, after_pt: float = 0, gap_pt: float = 4) -> None:
    """A centred horizontal rule: the bottom border of a 1 pt paragraph indented to the width."""
    p = where.add_paragraph()
    fmt = p.paragraph_format
    side = max((column_mm - width_mm) / 2, 0)
    fmt.left_indent = fmt.right_indent = Mm(side)
    fmt.space_before, fmt.space_after = Pt(0), Pt(after_pt)
    # The border is drawn at the bottom of this paragraph: its height is the gap under the text.
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(gap_pt)
    _mark_size(p, 1)
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "0"), ("w:color", "000000")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    p._p.get_or_add_pPr().insert_element_before(borders, *_AFTER_PBDR)


def _table(doc: Document, widths_mm: list[float], *, rows: int = 1, borders: bool = False) -> Table:
    """A fixed-layout table with the given column widths and no cell side padding when
    borderless, so its text lines up with the page margins."""
    table = doc.add_table(rows=rows, cols=len(widths_mm))
    table.autofit = False  # writes <w:tblLayout w:type="fixed"/>
    tbl_pr = table._tbl.tblPr
    width = tbl_pr.find(qn("w:tblW"))
    width.set(qn("w:type"), "dxa")
    width.set(qn("w:w"), str(round(sum(widths_mm) / 25.4 * 1440)))
    edges = ("top", "left", "bottom", "right", "insideH", "insideV")
    tbl_borders = OxmlElement("w:tblBorders")
    for edge in edges:
        el = OxmlElement(f"w:{edge}")
        if borders:
            for key, value in (("w:val", "single"), ("w:sz", "4"), ("w:space", "0"), ("w:color", "000000")):
                el.set(qn(key), value)
        else:
            el.set(qn("w:val"), "nil")
        tbl_borders.append(el)
    tbl_pr.insert_element_before(tbl_borders, "w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook")
    margins = OxmlElement("w:tblCellMar")
    pad = "57" if borders else "0"  # twips; 1 mm inside ruled registers
    for side in ("left", "right"):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), pad)
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    tbl_pr.insert_element_before(margins, "w:tblLook", "w:tblCaption", "w:tblDescription")
    for column, width in zip(table.columns, widths_mm):
        column.width = Mm(width)
        for cell in column.cells:
            cell.width = Mm(width)
    return table


def _finish_cells(table: Table) -> None:
    """Drop the empty paragraph python-docx puts in every new cell once the cell has content."""
    for row in table.rows:
        for cell in row.cells:
            paragraphs = cell.paragraphs
            if len(paragraphs) > 1 and not paragraphs[0].text and not paragraphs[0].runs:
                element = paragraphs[0]._p
                element.getparent().remove(element)


def _keep_row_on_one_page(table: Table) -> None:
    for row in table.rows:
        row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


def _page_number_header(doc: Document) -> None:
    """Page numbers centred in the top margin from page 2 on, as Decree 30 asks."""
    section = doc.sections[0]
    section.different_first_page_header_footer = True
    p = section.header.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "2"
    run.append(text)
    field.append(run)
    p._p.append(field)
    _mark_size(p, 13)


def _reserved_field(p: Paragraph, token: str, *, token_em: float, width_mm: float, size: float, italic: bool) -> None:
    """Write ``token`` plus white underscores as one word at least ``width_mm`` wide."""
    token_mm = token_em * size * _MM_PER_PT
    underscore_mm = _EM_UNDERSCORE * size * _MM_PER_PT
    count = max(math.ceil((width_mm - token_mm) / underscore_mm) + 1, 1)
    _run(p, token + "_" * count, size=size, italic=italic, white=True)


def _to_bytes(doc: Document) -> bytes:
    out = BytesIO()
    doc.save(out)
    return out.getvalue()


# --- the document --------------------------------------------------------------------------


def _header(doc: Document, spec: DocumentSpec) -> None:
    table = _table(doc, [HEADER_LEFT_MM, HEADER_RIGHT_MM], rows=2)
    left, right = table.rows[0].cells
    if spec.parent_body:
        _paragraph(left, spec.parent_body.upper(), size=13)
    _paragraph(left, spec.issuing_body.upper(), size=13, bold=True)
    name_mm = len(spec.issuing_body) * _EM_CAPS_BOLD_AVG * 13 * _MM_PER_PT
    _rule(left, width_mm=min(max(name_mm * 0.4, 15), 30), column_mm=HEADER_LEFT_MM)

    _paragraph(right, NATIONAL_NAME, size=12, bold=True)
    _paragraph(right, MOTTO, size=13, bold=True)
    _rule(right, width_mm=_EM_MOTTO_BOLD * 13 * _MM_PER_PT, column_mm=HEADER_RIGHT_MM)

    number_cell, date_cell = table.rows[1].cells
    p = _paragraph(number_cell, "Số: ", size=13, before_pt=6)
    if spec.number_text is None:
        _reserved_field(p, NUMBER_FIELD, token_em=_EM_NUMBER_FIELD, width_mm=NUMBER_FIELD_MM, size=13, italic=False)
    else:
        _run(p, spec.number_text, size=13)
    if spec.is_official_letter:
        _paragraph(number_cell, f"V/v {spec.subject}", size=12, before_pt=2)

    p = _paragraph(date_cell, size=14, before_pt=6)
    if spec.date is None:
        _reserved_field(p, DATE_FIELD, token_em=_EM_DATE_FIELD, width_mm=DATE_FIELD_MM, size=14, italic=True)
    else:
        _run(p, vn_date_line(spec.place, spec.date), size=14, italic=True)
    _finish_cells(table)


def _title(doc: Document, spec: DocumentSpec) -> None:
    if spec.title is None:
        return
    _paragraph(doc, spec.title, size=14, bold=True, before_pt=18, keep_with_next=True)
    _paragraph(doc, spec.subject, size=14, bold=True, keep_with_next=True)
    _rule(doc, width_mm=40, column_mm=TEXT_WIDTH_MM, after_pt=10)


def _addressees(doc: Document, spec: DocumentSpec) -> None:
    if not spec.addressees:
        return
    before = 6 if spec.title else 18
    if len(spec.addressees) == 1:
        _paragraph(doc, f"Kính gửi: {spec.addressees[0]}", size=14, before_pt=before, after_pt=10)
        return
    _paragraph(doc, "Kính gửi:", size=14, align=WD_ALIGN_PARAGRAPH.LEFT, left_mm=35, before_pt=before)
    for index, name in enumerate(spec.addressees):
        last = index == len(spec.addressees) - 1
        _paragraph(doc, f"- {name}{'.' if last else ';'}", size=14, align=WD_ALIGN_PARAGRAPH.LEFT, left_mm=55, after_pt=10 if last else 0)


def _body(doc: Document, spec: DocumentSpec) -> None:
    if not spec.title and not spec.addressees:
        _paragraph(doc, size=6, before_pt=12)  # breathing room under a công văn's V/v line
    for item in spec.body:
        block = item if isinstance(item, BodyBlock) else BodyBlock(text=item)
        if block.style == "center":
            _paragraph(doc, block.text, size=BODY_PT, bold=True, before_pt=6, after_pt=6, keep_with_next=True)
        elif block.style == "heading":
            _paragraph(
                doc,
                block.text,
                size=BODY_PT,
                bold=True,
                align=WD_ALIGN_PARAGRAPH.JUSTIFY,
                first_line_mm=10,
                after_pt=6,
                line=1.15,
                keep_with_next=True,
            )
        else:
            p = _paragraph(doc, size=BODY_PT, align=WD_ALIGN_PARAGRAPH.JUSTIFY, first_line_mm=10, after_pt=6, line=1.15)
            # Articles of a decision or regulation open with a bold "Điều 1.", as in print.
            article = _ARTICLE.match(block.text)
            if article:
                _run(p, article.group(0), size=BODY_PT, bold=True)
            _run(p, block.text[article.end() if article else 0 :], size=BODY_PT)


def _signing_block(cell: _Cell, block: SigningBlock, *, pad_lines: int = 0) -> None:
    for _ in range(pad_lines):
        _paragraph(cell, size=14)
    for line in block.heading_lines():
        _paragraph(cell, line, size=14, bold=True)
    # The token sits alone in the signature space; the stamp is centred on it.
    p = _paragraph(cell, size=SIG_TOKEN_PT, before_pt=SIG_SPACE_MM / _MM_PER_PT, after_pt=SIG_SPACE_MM / _MM_PER_PT)
    _run(p, sig_token(block.role), size=SIG_TOKEN_PT, white=True)
    _paragraph(cell, block.signer_name, size=14, bold=True)


def _recipients(cell: _Cell | Document, spec: DocumentSpec, *, before_pt: float = 0) -> None:
    p = _paragraph(cell, "Nơi nhận:", size=12, bold=True, italic=True, align=WD_ALIGN_PARAGRAPH.LEFT, before_pt=before_pt)
    p.paragraph_format.keep_with_next = True
    for name in spec.recipients:
        _paragraph(cell, f"- {name.rstrip(';. ')};", size=11, align=WD_ALIGN_PARAGRAPH.LEFT)
    filing = spec.filing.strip().rstrip(".")
    _paragraph(cell, f"- {filing}.", size=11, align=WD_ALIGN_PARAGRAPH.LEFT)


def _closing(doc: Document, spec: DocumentSpec) -> None:
    """Recipients on the left and the signing block on the right; minutes: two signers."""
    if spec.doc_type == "BB":
        secretary = next(s for s in spec.signers if s.role == "secretary")
        chair = next(s for s in spec.signers if s.role == "chair")
        half = TEXT_WIDTH_MM / 2
        table = _table(doc, [half, half])
        left, right = table.rows[0].cells
        depth_left, depth_right = len(secretary.heading_lines()), len(chair.heading_lines())
        # Names line up at the bottom when both blocks have the same number of lines.
        _signing_block(left, secretary, pad_lines=max(depth_right - depth_left, 0))
        _signing_block(right, chair, pad_lines=max(depth_left - depth_right, 0))
        _keep_row_on_one_page(table)
        _finish_cells(table)
        if spec.recipients:
            _recipients(doc, spec, before_pt=12)
        return
    table = _table(doc, [RECIPIENTS_MM, SIGNING_MM])
    left, right = table.rows[0].cells
    _recipients(left, spec)
    _signing_block(right, spec.signers[0])
    _keep_row_on_one_page(table)
    _finish_cells(table)


def build_document_docx(spec: DocumentSpec) -> bytes:
    """Lay ``spec`` out as a Decree 30 document and return the DOCX bytes."""
    doc = _setup_document()
    doc.core_properties.title = spec.subject[:255]  # the OOXML property holds at most 255 characters
    doc.core_properties.author = spec.issuing_body
    doc.core_properties.language = "vi-VN"
    _page_number_header(doc)
    _header(doc, spec)
    _title(doc, spec)
    _addressees(doc, spec)
    _body(doc, spec)
    # The signing block never stands alone on a page: it keeps the last body line with it.
    doc.paragraphs[-1].paragraph_format.keep_with_next = True
    _paragraph(doc, size=6, before_pt=6, keep_with_next=True)
    _closing(doc, spec)
    return _to_bytes(doc)


async def build_document_pdf(spec: DocumentSpec, *, converter: PdfConverter) -> bytes:
    """Lay ``spec`` out and convert it to PDF with ``converter``."""
    return await converter.to_pdf(build_document_docx(spec))
