"""Consolidated downloads of a report request: the figures as CSV and XLSX (one row per target,
a summary row), and a ZIP of every submitted file with both tables.

The XLSX is written with XlsxWriter: numbers as numbers, text always as text (a figure typed
as "=1+1" stays text, never a formula), a bold header and summary row.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import xlsxwriter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.blobs import BlobStore
from services.calendar import VN_TZ
from services.directory.models import Organization
from services.reports.models import FieldKind, ReportRequest, ReportSubmission, ReportTarget, SubmissionStatus
from services.reports.service import figures_of, target_state

STATE_VI = {
    "on_time": "Đúng hạn",
    "late": "Trễ hạn",
    "missing": "Không nộp",
    "overdue": "Quá hạn",
    "waiting": "Chưa nộp",
    "pending": "Đang gửi",
    "awaiting_approval": "Chờ lãnh đạo duyệt",
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
    rows = (
        await session.execute(
            select(ReportTarget, Organization.name, ReportSubmission)
            .join(Organization, Organization.id == ReportTarget.organization_id)
            .outerjoin(
                ReportSubmission,
                (ReportSubmission.target_id == ReportTarget.id) & (ReportSubmission.status == SubmissionStatus.submitted.value),
            )
            .where(ReportTarget.request_id == req.id)
            .order_by(ReportTarget.position)
        )
    ).all()
    fields = list(req.fields)
    header = ["STT", "Đơn vị", "Tình trạng", "Thời điểm nộp", "Phiên bản"] + [f"{f.name} ({f.unit})" if f.unit else f.name for f in fields]
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
        table_rows.append([i, name, STATE_VI.get(state, state), _vn(target.submitted_at), sub.version if sub is not None else ""] + cells)
    summary: list[object] = [
        "",
        "Tổng hợp",
        f"Đúng hạn {states.get('on_time', 0)}; trễ {states.get('late', 0)}; "
        f"chưa/không nộp {len(rows) - states.get('on_time', 0) - states.get('late', 0)}",
        "",
        "",
    ]
    for f, column in zip(fields, totals):
        if not column or f.kind == FieldKind.text.value:
            summary.append("")
        elif f.kind == FieldKind.percent.value:
            summary.append((sum(column, Decimal(0)) / len(column)).quantize(Decimal("0.01")))
        else:
            total = sum(column)
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


def to_xlsx(table: Table, *, sheet: str = "Tong hop") -> bytes:
    """A one-sheet workbook: header and summary rows bold, first row frozen, numbers as numbers."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_numbers": False, "strings_to_formulas": False})
    bold = book.add_format({"bold": True})
    ws = book.add_worksheet(sheet[:31])
    for i, width in enumerate([6, 40, 22, 18, 10] + [22] * (len(table.header) - 5)):
        ws.set_column(i, i, width)
    ws.freeze_panes(1, 0)
    all_rows: list[tuple[Sequence[object], object]] = [(table.header, bold), *((r, None) for r in table.rows), (table.summary, bold)]
    for r, (row, style) in enumerate(all_rows):
        for c, value in enumerate(row):
            if isinstance(value, Decimal):
                value = float(value)
            if value is None or value == "" or isinstance(value, bool):
                ws.write_blank(r, c, None, style)
            elif isinstance(value, (int, float)):
                ws.write_number(r, c, value, style)
            else:
                ws.write_string(r, c, str(value), style)  # never a formula, whatever a unit typed
    book.close()
    return buffer.getvalue()


def slug(text: str, limit: int = 60) -> str:
    """An ASCII file name part: "Hội LHPN xã Phú Khương" → "hoi-lhpn-xa-phu-khuong"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit] or "file"


async def archive(session: AsyncSession, *, req: ReportRequest, blobs: BlobStore) -> bytes:
    """ZIP: every target's current report file (one folder per organisation) plus the tables."""
    table = await figures_table(session, req=req)
    rows = (
        await session.execute(
            select(ReportSubmission, Organization.name, ReportTarget.position)
            .join(ReportTarget, ReportTarget.id == ReportSubmission.target_id)
            .join(Organization, Organization.id == ReportTarget.organization_id)
            .where(ReportTarget.request_id == req.id, ReportSubmission.status == SubmissionStatus.submitted.value)
            .order_by(ReportTarget.position)
        )
    ).all()
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
