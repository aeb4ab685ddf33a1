"""Printable incoming and outgoing registers (sổ đăng ký văn bản đến / đi), Decree 30 layout.

A4 landscape, one ruled table whose two header rows (titles, then column numbers) repeat on
every page, so a printed page can be read and filed on its own.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Final, Literal

from docx.document import Document
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.table import CT_Tbl
from docx.shared import Pt
from docx.table import Table

from services.documents.layout import (
    _finish_cells,
    _paragraph,
    _setup_document,
    _table,
    _to_bytes,
)
from services.errors import InvalidInput
from services.i18n import _l

__all__ = ["PART_ROWS", "REGISTER_COLUMNS", "RegisterKind", "build_register_docx"]

RegisterKind = Literal["incoming", "outgoing"]

# (row key, printed header, width in mm, alignment); widths fill the 262 mm of landscape text.
_Column = tuple[str, str, float, WD_ALIGN_PARAGRAPH]
_C, _L = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.LEFT

REGISTER_COLUMNS: Final[dict[RegisterKind, tuple[_Column, ...]]] = {
    "incoming": (
        ("arrival_date", "Ngày đến", 20, _C),
        ("arrival_number", "Số đến", 14, _C),
        ("issuer", "Tác giả", 34, _L),
        ("notation", "Số, ký hiệu", 30, _C),
        ("document_date", "Ngày tháng văn bản", 22, _C),
        ("type_and_subject", "Tên loại và trích yếu nội dung", 56, _L),
        ("receiver", "Đơn vị hoặc người nhận", 28, _L),
        ("passed_on_date", "Ngày chuyển", 20, _C),
        ("received_by", "Ký nhận", 20, _C),
        ("notes", "Ghi chú", 18, _L),
    ),
    "outgoing": (
        ("notation", "Số, ký hiệu văn bản", 30, _C),
        ("document_date", "Ngày tháng văn bản", 22, _C),
        ("type_and_subject", "Tên loại và trích yếu nội dung văn bản", 48, _L),
        ("signer", "Người ký", 30, _L),
        ("recipients", "Nơi nhận văn bản", 34, _L),
        ("file_copy_unit", "Đơn vị, người nhận bản lưu", 26, _L),
        ("copies", "Số lượng bản", 16, _C),
        ("sent_date", "Ngày chuyển", 20, _C),
        ("received_by", "Ký nhận", 18, _C),
        ("notes", "Ghi chú", 18, _L),
    ),
}

_TITLES: Final[dict[RegisterKind, str]] = {
    "incoming": "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN",
    "outgoing": "SỔ ĐĂNG KÝ VĂN BẢN ĐI",
}
_CELL_PT: Final = 11


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, (list, tuple)):
        return "; ".join(_cell_text(v) for v in value)
    return str(value)


def _mark_header_row(table: Table, index: int) -> None:
    """Repeat the row at the top of every page and never split it."""
    tr_pr = table.rows[index]._tr.get_or_add_trPr()
    tr_pr.append(OxmlElement("w:cantSplit"))
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    tr_pr.append(header)


def build_register_docx(
    *,
    kind: RegisterKind,
    org_name: str,
    year: int,
    rows: Sequence[Mapping[str, object]],
    heading: bool = True,
    first_page: int = 1,
    part_rows: int | None = None,
) -> bytes:
    """The register ``kind`` of ``org_name`` for ``year`` with ``rows`` (keys as in
    :data:`REGISTER_COLUMNS`; dates print as dd/mm/yyyy, lists joined with ``;``).

    A book printed a part at a time (``signing.register_print``) builds each part with this:
    the title only on the first (``heading``), the page numbers going on from ``first_page``."""
    if kind not in REGISTER_COLUMNS:
        raise InvalidInput(_l("Unknown register kind {kind!r}.", kind=kind))
    columns = REGISTER_COLUMNS[kind]
    # The register's own number and series are not columns (the printed number is the label):
    # the book's pages use them to know where a page ends.
    known = {key for key, *_ in columns} | {"number", "series"}
    for row in rows:
        unknown = set(row) - known
        if unknown:
            raise InvalidInput(
                _l("Register row has unknown columns: {sorted}", sorted=sorted(unknown)),
            )

    part_rows = part_rows or PART_ROWS
    doc = _setup_document(landscape=True, margins_mm=(15, 15, 15, 20))
    _footer_page_numbers(doc, first_page)
    if heading:
        _paragraph(doc, org_name.upper(), size=13, bold=True)
        _paragraph(doc, f"{_TITLES[kind]} — năm {year}", size=16, bold=True, before_pt=6, after_pt=10)

    # Titles, column numbers, and the formatted row every entry is a copy of.
    table = _table(doc, [width for _, _, width, _ in columns], rows=3, borders=True)
    for cell, (_, title, _, _) in zip(table.rows[0].cells, columns):
        _paragraph(cell, title, size=_CELL_PT, bold=True, before_pt=2, after_pt=2)
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    for number, cell in enumerate(table.rows[1].cells, start=1):
        _paragraph(cell, f"({number})", size=10, italic=True)
    _mark_header_row(table, 0)
    _mark_header_row(table, 1)
    model = table.rows[2]
    model._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
    for cell, (_, _, _, align) in zip(model.cells, columns):
        _paragraph(cell, "-", size=_CELL_PT, align=align, before_pt=2, after_pt=2)
    _finish_cells(table)
    # A year's register holds tens of thousands of rows, and python-docx formats a cell in
    # ~0.3 ms (a year of 19,000 rows: 57 s): each row is a copy of the formatted one, its texts set.
    tbl, model_tr = table._tbl, model._tr
    tbl.remove(model_tr)
    headed = copy.deepcopy(tbl)  # the two header rows, for the next part
    for index, values in enumerate(rows):
        if index and index % part_rows == 0:
            tbl = _next_part(tbl, headed)
        tr = copy.deepcopy(model_tr)
        for tc, (key, *_) in zip(tr.tc_lst, columns):
            run = tc.p_lst[0].r_lst[0]
            text = _cell_text(values.get(key))
            if not text:
                run.getparent().remove(run)
            elif "\t" in text or "\n" in text or "\r" in text:
                run.text = text  # as python-docx writes them: tabs and line breaks as their elements
            else:
                run[-1].text = text  # the run's w:t, as python-docx would write it
                if len(text.strip()) < len(text):
                    run[-1].set(qn("xml:space"), "preserve")
        tbl.append(tr)
    return _to_bytes(doc)


# LibreOffice lays out one table in time that grows with the square of its rows (1,000 rows: 2 s,
# 3,000: 37 s, a year of 19,000: past any timeout), so a long register is printed as parts of
# PART_ROWS rows, each a table of its own with the header rows, from the top of a new page.
PART_ROWS: Final = 500


def _next_part(tbl: CT_Tbl, headed: CT_Tbl) -> CT_Tbl:
    """A new table with the header rows, after `tbl`, on a new page."""
    gap = OxmlElement("w:p")  # tables need a paragraph between them: 1 pt, opening the new page
    p_pr = OxmlElement("w:pPr")
    p_pr.append(OxmlElement("w:pageBreakBefore"))
    spacing = OxmlElement("w:spacing")
    for key, value in (("w:before", "0"), ("w:after", "0"), ("w:line", "20"), ("w:lineRule", "exact")):
        spacing.set(qn(key), value)
    p_pr.append(spacing)
    gap.append(p_pr)
    part = copy.deepcopy(headed)
    tbl.addnext(gap)
    gap.addnext(part)
    return part


def _footer_page_numbers(doc: Document, first_page: int = 1) -> None:
    """``Trang N`` centred at the foot of every page of the register, counting from ``first_page``."""
    if first_page != 1:
        numbering = OxmlElement("w:pgNumType")
        numbering.set(qn("w:start"), str(first_page))
        sect_pr = doc.sections[0]._sectPr
        # Its place in the schema's order: after the margins, before the columns (which the
        # template's section has, then the grid).
        columns = sect_pr.find(qn("w:cols"))
        if columns is not None:
            columns.addprevious(numbering)
        else:
            sect_pr.append(numbering)
    footer = doc.sections[0].footer
    p = footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = p.add_run("Trang ")
    run.font.size = Pt(11)
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    r = OxmlElement("w:r")
    r_pr = OxmlElement("w:rPr")
    size = OxmlElement("w:sz")
    size.set(qn("w:val"), "22")
    r_pr.append(size)
    r.append(r_pr)
    t = OxmlElement("w:t")
    t.text = "1"
    r.append(t)
    field.append(r)
    p._p.append(field)
