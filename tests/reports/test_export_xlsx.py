"""The consolidated XLSX: numbers stay numbers, text stays text (never a formula), Vietnamese kept."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

from defusedxml import ElementTree

from services.reports.export import Table, to_xlsx

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}


def test_figures_workbook_keeps_types_and_never_writes_formulas() -> None:
    table = Table(
        header=["STT", "Đơn vị", "Số hội viên"],
        rows=[[1, "Hội LHPN xã Phú Khương", 120], [2, "Hội LHPN xã Mỹ Thạnh An", '=HYPERLINK("x")']],
        summary=["", "Tổng cộng", Decimal("120.5")],
    )
    with zipfile.ZipFile(io.BytesIO(to_xlsx(table))) as book:
        sheet = ElementTree.fromstring(book.read("xl/worksheets/sheet1.xml"))
        shared = [t.text for t in ElementTree.fromstring(book.read("xl/sharedStrings.xml")).iter(f"{{{NS['m']}}}t")]
    cells = {c.get("r"): c for c in sheet.iter(f"{{{NS['m']}}}c")}
    assert not list(sheet.iter(f"{{{NS['m']}}}f")), "no formula in the workbook"
    assert cells["C2"].get("t") is None and cells["C2"].find("m:v", NS).text == "120"
    assert cells["C4"].find("m:v", NS).text == "120.5"
    assert cells["C3"].get("t") == "s" and shared[int(cells["C3"].find("m:v", NS).text)] == '=HYPERLINK("x")'
    assert "Hội LHPN xã Phú Khương" in shared
    assert sheet.find("m:sheetViews/m:sheetView/m:pane", NS).get("state") == "frozen"
