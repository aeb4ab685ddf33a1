"""Consolidated downloads of a report request: the figures as CSV and XLSX (one row per target,
a summary row), and a ZIP of every submitted file with both tables.

The XLSX is written with the standard library (zipfile + minimal SpreadsheetML), no extra
dependency: strings inline, numbers as numbers, a bold header and summary row.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.blobs import BlobStore
from services.calendar import VN_TZ
from services.directory.models import Organization
from services.reports.models import FieldKind, ReportRequest, ReportSubmission, ReportTarget, SubmissionStatus
from services.reports.service import figures_of, target_state

STATE_VI = {
    "on_time": "Đúng hạn", "late": "Trễ hạn", "missing": "Không nộp", "overdue": "Quá hạn",
    "waiting": "Chưa nộp", "pending": "Đang gửi", "awaiting_approval": "Chờ lãnh đạo duyệt",
}


@dataclass
class Table:
    header: list[str]
    rows: list[list[object]]
    summary: list[object]


def _vn(value: datetime | None) -> str:
    return value.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M") if value else ""


def _number(kind: str, text: str | None) -> object:
    if text is None or text == "":
        return ""
    if kind == FieldKind.text.value:
        return text
    value = Decimal(text)
    return int(value) if kind == FieldKind.integer.value else value


async def figures_table(session: AsyncSession, *, req: ReportRequest, now: datetime | None = None) -> Table:
    """One row per target (its current report), then a summary row: sums of counts and
    amounts, the average of percentages, and how many reported on time, late or not at all."""
    rows = (await session.execute(
        select(ReportTarget, Organization.name, ReportSubmission)
        .join(Organization, Organization.id == ReportTarget.organization_id)
        .outerjoin(ReportSubmission, (ReportSubmission.target_id == ReportTarget.id)
                   & (ReportSubmission.status == SubmissionStatus.submitted.value))
        .where(ReportTarget.request_id == req.id).order_by(ReportTarget.position)
    )).all()
    fields = list(req.fields)
    header = ["STT", "Đơn vị", "Tình trạng", "Thời điểm nộp", "Phiên bản"] + [
        f"{f.name} ({f.unit})" if f.unit else f.name for f in fields]
    table_rows: list[list[object]] = []
    totals: list[list[Decimal]] = [[] for _ in fields]
    states: dict[str, int] = {}
    for i, (target, name, sub) in enumerate(rows, 1):
        state = target_state(target, now)
        states[state] = states.get(state, 0) + 1
        values = figures_of(sub) if sub is not None else {}
        cells: list[object] = []
        for j, f in enumerate(fields):
            value = _number(f.kind, values.get(str(f.id)))
            cells.append(value)
            if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
                totals[j].append(Decimal(value))
        table_rows.append([i, name, STATE_VI.get(state, state), _vn(target.submitted_at),
                           sub.version if sub is not None else ""] + cells)
    summary: list[object] = ["", "Tổng hợp",
                             f"Đúng hạn {states.get('on_time', 0)}; trễ {states.get('late', 0)}; "
                             f"chưa/không nộp {len(rows) - states.get('on_time', 0) - states.get('late', 0)}",
                             "", ""]
    for f, values in zip(fields, totals):
        if not values or f.kind == FieldKind.text.value:
            summary.append("")
        elif f.kind == FieldKind.percent.value:
            summary.append((sum(values) / len(values)).quantize(Decimal("0.01")))
        else:
            total = sum(values)
            summary.append(int(total) if f.kind == FieldKind.integer.value else total)
    return Table(header=header, rows=table_rows, summary=summary)


def to_csv(table: Table) -> bytes:
    """UTF-8 with a byte-order mark, so Excel shows Vietnamese correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(table.header)
    for row in table.rows:
        writer.writerow(["" if v is None else v for v in row])
    writer.writerow(table.summary)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _col(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _cell(ref: str, value: object, style: int) -> str:
    s = f' s="{style}"' if style else ""
    if isinstance(value, bool) or value is None or value == "":
        return f'<c r="{ref}"{s}/>' if style else ""
    if isinstance(value, (int, float, Decimal)):
        return f'<c r="{ref}"{s}><v>{value}</v></c>'
    text = escape(str(value))
    return f'<c r="{ref}" t="inlineStr"{s}><is><t xml:space="preserve">{text}</t></is></c>'


def to_xlsx(table: Table, *, sheet: str = "Tong hop") -> bytes:
    """A one-sheet workbook: header and summary rows bold, first row frozen."""
    lines = []
    all_rows = [(table.header, 1), *((r, 0) for r in table.rows), (table.summary, 1)]
    for r, (row, style) in enumerate(all_rows, 1):
        cells = "".join(_cell(f"{_col(c)}{r}", v, style) for c, v in enumerate(row))
        lines.append(f'<row r="{r}">{cells}</row>')
    widths = "".join(f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>'
                     for i, w in enumerate([6, 40, 22, 18, 10] + [22] * (len(table.header) - 5)))
    sheet_xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '</sheetView></sheetViews>'
        f'<cols>{widths}</cols><sheetData>{"".join(lines)}</sheetData></worksheet>'
    )
    files = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '</Types>'),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            '</Relationships>'),
        "xl/workbook.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
            'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'<sheets><sheet name="{escape(sheet)}" sheetId="1" r:id="rId1"/></sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
            '</Relationships>'),
        "xl/styles.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
            '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>'
            '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
            '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
            '</styleSheet>'),
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def slug(text: str, limit: int = 60) -> str:
    """An ASCII file name part: "Hội LHPN xã Phú Khương" → "hoi-lhpn-xa-phu-khuong"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit] or "file"


async def archive(session: AsyncSession, *, req: ReportRequest, blobs: BlobStore) -> bytes:
    """ZIP: every target's current report file (one folder per organisation) plus the tables."""
    table = await figures_table(session, req=req)
    rows = (await session.execute(
        select(ReportSubmission, Organization.name, ReportTarget.position)
        .join(ReportTarget, ReportTarget.id == ReportSubmission.target_id)
        .join(Organization, Organization.id == ReportTarget.organization_id)
        .where(ReportTarget.request_id == req.id, ReportSubmission.status == SubmissionStatus.submitted.value)
        .order_by(ReportTarget.position)
    )).all()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for sub, name, position in rows:
            if not sub.sha256:
                continue
            base = f"{position + 1:04d}-{slug(name)}"
            stem = (sub.filename or "bao-cao").rsplit(".", 1)[0]
            zf.writestr(f"bao-cao/{base}/{slug(stem, 80)}{_ext(sub.filename)}", blobs.get(sub.sha256))
        zf.writestr("tong-hop-so-lieu.csv", to_csv(table))
        zf.writestr("tong-hop-so-lieu.xlsx", to_xlsx(table))
    return buffer.getvalue()


def _ext(filename: str | None) -> str:
    if filename and "." in filename:
        return "." + re.sub(r"[^a-z0-9]", "", filename.rsplit(".", 1)[1].lower())[:5]
    return ""
