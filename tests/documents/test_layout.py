"""Documents laid out per Decree 30 come out of LibreOffice readable, with the signing tokens
where the placement contract promises them; registers print on several pages with headers."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest
from docx.shared import Mm
from pydantic import ValidationError

from services.documents import (
    DATE_FIELD,
    NUMBER_FIELD,
    BodyBlock,
    DocumentSpec,
    SigningBlock,
    build_document_docx,
    build_document_pdf,
    notation,
    notation_suffix,
    vn_date_line,
)
from services.errors import InvalidInput
from signing.convert import get_converter
from signing.register_print import print_book

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "documents"
PT_PER_MM = 72 / 25.4

LEADER = SigningBlock(authority_prefix="TM.", authority_line="Ban Thường vụ", position="Chủ tịch", signer_name="Nguyễn Thị Hồng Nhung")
DEPUTY = SigningBlock(authority_prefix="KT.", authority_line="Chủ tịch", position="Phó Chủ tịch", signer_name="Trần Thị Mai")

OFFICIAL_LETTER = DocumentSpec(
    issuing_body="Hội LHPN tỉnh Bến Tre",
    doc_type="CV",
    notation_suffix=notation_suffix(type_code=None, org_abbr="HLHPN", unit_abbr="VP"),
    number=5,
    place="Bến Tre",
    date=dt.date(2026, 1, 5),
    subject="triển khai hệ thống quản lý văn bản điện tử",
    addressees=["Hội LHPN các huyện, thành phố"],
    body=[
        "Thực hiện chủ trương chuyển đổi số của Tỉnh ủy, Ban Thường vụ Hội LHPN tỉnh đề nghị Hội LHPN "
        "các huyện, thành phố triển khai sử dụng hệ thống quản lý văn bản và điều hành Liên Thông "
        "từ ngày 15 tháng 01 năm 2026.",
        "Đề nghị các đơn vị cử cán bộ văn thư tham dự tập huấn và báo cáo kết quả triển khai về "
        "Văn phòng Hội LHPN tỉnh trước ngày 31 tháng 01 năm 2026.",
    ],
    recipients=["Như trên", "Thường trực Hội (để b/c)"],
    filing="Lưu: VT, VP.",
    signers=[DEPUTY],
)

DECISION_DRAFT = DocumentSpec(
    issuing_body="Hội LHPN tỉnh Bến Tre",
    doc_type="QĐ",
    notation_suffix="/QĐ-HLHPN",
    place="Bến Tre",
    subject="Về việc ban hành Quy chế quản lý văn bản điện tử",
    body=[
        BodyBlock(text="BAN THƯỜNG VỤ HỘI LIÊN HIỆP PHỤ NỮ TỈNH BẾN TRE", style="center"),
        "Căn cứ Điều lệ Hội Liên hiệp Phụ nữ Việt Nam;",
        "Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về công tác văn thư;",
        "Xét đề nghị của Chánh Văn phòng,",
        BodyBlock(text="QUYẾT ĐỊNH:", style="center"),
        "Điều 1. Ban hành kèm theo Quyết định này Quy chế quản lý văn bản điện tử của Hội LHPN tỉnh Bến Tre.",
        "Điều 2. Quyết định có hiệu lực kể từ ngày ký. Văn bản điện tử được ký số có giá trị như bản gốc.",
        "Điều 3. Văn phòng, các ban chuyên môn và Hội LHPN các huyện, thành phố chịu trách nhiệm thi hành Quyết định này.",
    ],
    recipients=["Như Điều 3", "Trung ương Hội LHPN Việt Nam (để b/c)", "Thường trực Tỉnh ủy (để b/c)"],
    signers=[LEADER],
)
DECISION_FINAL = DECISION_DRAFT.model_copy(update={"number": 15, "date": dt.date(2026, 3, 9)})

MINUTES = DocumentSpec(
    issuing_body="Hội LHPN tỉnh Bến Tre",
    doc_type="BB",
    notation_suffix="/BB-HLHPN",
    number=3,
    place="Bến Tre",
    date=dt.date(2026, 2, 12),
    subject="Hội nghị Ban Thường vụ tháng 02 năm 2026",
    body=[
        "Thời gian: 08 giờ 00, ngày 12 tháng 02 năm 2026.",
        "Địa điểm: Hội trường Hội LHPN tỉnh Bến Tre, kết nối trực tuyến đến các huyện.",
        BodyBlock(text="I. NỘI DUNG HỘI NGHỊ", style="heading"),
        "Hội nghị thông qua kế hoạch công tác quý I năm 2026.",
    ],
    recipients=["Các đồng chí Ủy viên Ban Thường vụ"],
    filing="Lưu: VT.",
    signers=[
        SigningBlock(role="secretary", position="Thư ký", signer_name="Lê Thị Thu Hà"),
        SigningBlock(role="chair", position="Chủ trì", signer_name="Nguyễn Thị Hồng Nhung"),
    ],
)


@dataclass(frozen=True)
class Word:
    page: int
    text: str
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def cy(self) -> float:
        return (self.y0 + self.y1) / 2


@dataclass(frozen=True)
class Rendered:
    pdf: Path
    layout_text: str
    words: list[Word]
    page_size: tuple[float, float]


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _render(name: str, pdf: bytes) -> Rendered:
    """Keep the PDF and PNGs for people to look at, and read back text and word boxes."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.pdf"
    path.write_bytes(pdf)
    for old in ARTIFACTS.glob(f"{name}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", "70", "-png", str(path), str(ARTIFACTS / name)], check=True)
    layout = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True)
    bbox = subprocess.run(["pdftotext", "-bbox", str(path), "-"], check=True, capture_output=True, text=True).stdout
    pages = re.findall(r'<page width="([\d.]+)" height="([\d.]+)">(.*?)</page>', bbox, re.S)
    words = [
        Word(index, _nfc(m[4]), float(m[0]), float(m[1]), float(m[2]), float(m[3]))
        for index, (_, _, body) in enumerate(pages)
        for m in re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">(.*?)</word>', body)
    ]
    return Rendered(path, _nfc(layout.stdout), words, (float(pages[0][0]), float(pages[0][1])))


@pytest.fixture(scope="module")
async def rendered() -> dict[str, Rendered]:
    converter = get_converter()
    specs = {
        "official-letter": OFFICIAL_LETTER,
        "decision-draft": DECISION_DRAFT,
        "decision-final": DECISION_FINAL,
        "minutes": MINUTES,
    }
    return {name: _render(name, await build_document_pdf(spec, converter=converter)) for name, spec in specs.items()}


def _only(rendered: Rendered, prefix: str) -> Word:
    found = [w for w in rendered.words if w.text.startswith(prefix)]
    assert len(found) == 1, f"expected one {prefix!r}, found {found}"
    return found[0]


def _assert_clear_signature_space(rendered: Rendered, token: Word) -> None:
    """No other word within 14 mm above or below the token over a 60 mm wide box centred on it."""
    half = 30 * PT_PER_MM
    clearance = 14 * PT_PER_MM
    box = (token.cx - half, token.y0 - clearance, token.cx + half, token.y1 + clearance)
    intruders = [
        w
        for w in rendered.words
        if w != token and w.page == token.page and w.x1 > box[0] and w.x0 < box[2] and w.y1 > box[1] and w.y0 < box[3]
    ]
    assert intruders == []


# --- notation ------------------------------------------------------------------------------


def test_typed_document_notation_has_type_code_then_issuer() -> None:
    assert notation(number=15, type_code="QĐ", org_abbr="HLHPN", unit_abbr=None) == "15/QĐ-HLHPN"


def test_official_letter_notation_has_issuer_then_unit_and_leading_zero() -> None:
    assert notation(number=5, type_code=None, org_abbr="hlhpn", unit_abbr="vp") == "05/HLHPN-VP"
    assert notation(number=5, type_code="CV", org_abbr="HLHPN", unit_abbr="VP") == "05/HLHPN-VP"
    assert notation(number=123, type_code="TB", org_abbr="HLHPN", unit_abbr=None) == "123/TB-HLHPN"


def test_type_codes_keep_their_official_case() -> None:
    assert notation(number=2, type_code="qyđ", org_abbr="HLHPN", unit_abbr=None) == "02/QyĐ-HLHPN"
    assert notation(number=7, type_code="CTR", org_abbr="HLHPN", unit_abbr=None) == "07/CTr-HLHPN"
    assert notation(number=9, type_code="ttr", org_abbr="HLHPN", unit_abbr=None) == "09/TTr-HLHPN"
    assert notation(number=10, type_code="ct", org_abbr="HLHPN", unit_abbr=None) == "10/CT-HLHPN"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"number": 0, "type_code": "QĐ", "org_abbr": "HLHPN", "unit_abbr": None},
        {"number": 1, "type_code": "XYZ", "org_abbr": "HLHPN", "unit_abbr": None},
        {"number": 1, "type_code": None, "org_abbr": "HL HPN", "unit_abbr": "VP"},
        {"number": 1, "type_code": None, "org_abbr": "HLHPN", "unit_abbr": "V-P"},
    ],
)
def test_bad_notation_parts_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        notation(**kwargs)  # type: ignore[arg-type]


def test_date_line_has_leading_zeros_for_small_days_and_january_february() -> None:
    assert vn_date_line("Bến Tre", dt.date(2026, 1, 5)) == "Bến Tre, ngày 05 tháng 01 năm 2026"
    assert vn_date_line("Bến Tre", dt.date(2026, 2, 28)) == "Bến Tre, ngày 28 tháng 02 năm 2026"
    assert vn_date_line("Bến Tre", dt.date(2026, 3, 9)) == "Bến Tre, ngày 09 tháng 3 năm 2026"
    assert vn_date_line("Bến Tre", dt.date(2026, 12, 15)) == "Bến Tre, ngày 15 tháng 12 năm 2026"


# --- the spec ------------------------------------------------------------------------------


def test_minutes_need_a_secretary_and_a_chair() -> None:
    with pytest.raises(ValidationError):
        MINUTES.model_validate({**MINUTES.model_dump(), "signers": [LEADER.model_dump()]})


def test_unknown_document_type_is_refused() -> None:
    with pytest.raises(InvalidInput):
        DocumentSpec.model_validate({**DECISION_DRAFT.model_dump(), "doc_type": "XYZ"})


# --- rendered documents --------------------------------------------------------------------


def test_official_letter_reads_as_a_decree_30_document(rendered: dict[str, Rendered]) -> None:
    text = rendered["official-letter"].layout_text
    for expected in (
        "HỘI LHPN VIỆT NAM",
        "HỘI LHPN TỈNH BẾN TRE",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "Số: 05/HLHPN-VP",
        "Bến Tre, ngày 05 tháng 01 năm 2026",
        "V/v triển khai hệ thống",
        "Kính gửi: Hội LHPN các huyện, thành phố",
        "Nơi nhận:",
        "- Như trên;",
        "- Lưu: VT, VP.",
        "KT. CHỦ TỊCH",
        "PHÓ CHỦ TỊCH",
        "Trần Thị Mai",
    ):
        assert expected in text, expected
    assert "[[field:" not in text


def test_number_and_date_share_a_line_under_the_header(rendered: dict[str, Rendered]) -> None:
    doc = rendered["decision-final"]
    number = _only(doc, "15/QĐ-HLHPN")
    date_word = _only(doc, "09")
    assert abs(number.cy - date_word.cy) < 4
    assert "Bến Tre, ngày 09 tháng 3 năm 2026" in doc.layout_text
    assert "QUYẾT ĐỊNH" in doc.layout_text and "Về việc ban hành Quy chế" in doc.layout_text


def test_final_document_has_no_tokens_but_keeps_the_signature_token(rendered: dict[str, Rendered]) -> None:
    doc = rendered["decision-final"]
    assert not any(w.text.startswith("[[field:") for w in doc.words)
    _only(doc, "[[sig:leader]]")


def test_draft_reserves_number_and_date_fields(rendered: dict[str, Rendered]) -> None:
    doc = rendered["decision-draft"]
    width, _ = doc.page_size
    number = _only(doc, NUMBER_FIELD)
    label = _only(doc, "Số:")
    date_field = _only(doc, DATE_FIELD)
    assert number.x1 - number.x0 >= 30 * PT_PER_MM
    assert date_field.x1 - date_field.x0 >= 80 * PT_PER_MM
    # The field follows the black "Số:" on its line; the date field sits under the motto.
    assert abs(number.cy - label.cy) < 3 and number.x0 > label.x1
    assert date_field.x0 > width / 2 - 20 and abs(date_field.cy - number.cy) < 4
    assert "Số:" in doc.layout_text


def test_signature_token_has_room_for_the_stamp(rendered: dict[str, Rendered]) -> None:
    for name in ("official-letter", "decision-draft", "decision-final"):
        doc = rendered[name]
        width, height = doc.page_size
        token = _only(doc, "[[sig:leader]]")
        recipients = _only(doc, "nhận:")
        # Right half, on the last page, below the body (level with or under "Nơi nhận:").
        assert token.x0 > width / 2 and token.page == max(w.page for w in doc.words), name
        assert token.y0 > recipients.y1 and token.cy > height / 3, name
        _assert_clear_signature_space(doc, token)
        # A 60 x 26 mm stamp centred on the token stays inside the page's right margin.
        assert token.cx + 30 * PT_PER_MM <= width - 15 * PT_PER_MM, name


def test_signature_token_sits_in_a_column_wide_enough_for_the_stamp() -> None:
    for spec in (OFFICIAL_LETTER, DECISION_DRAFT, MINUTES):
        document = docx.Document(io.BytesIO(build_document_docx(spec)))
        cells = [cell for table in document.tables for row in table.rows for cell in row.cells if "[[sig:" in cell.text]
        assert cells and all(cell.width >= Mm(65) for cell in cells)


def test_minutes_have_secretary_left_and_chair_right(rendered: dict[str, Rendered]) -> None:
    doc = rendered["minutes"]
    width, _ = doc.page_size
    secretary = _only(doc, "[[sig:secretary]]")
    chair = _only(doc, "[[sig:chair]]")
    assert secretary.cx < width / 2 < chair.cx
    assert abs(secretary.cy - chair.cy) < 2
    for token in (secretary, chair):
        _assert_clear_signature_space(doc, token)
    for expected in ("BIÊN BẢN", "THƯ KÝ", "CHỦ TRÌ", "Lê Thị Thu Hà", "Số: 03/BB-HLHPN", "Nơi nhận:", "Lưu: VT."):
        assert expected in doc.layout_text, expected


# --- registers -----------------------------------------------------------------------------


def _incoming_rows(count: int) -> list[dict[str, object]]:
    return [
        {
            "arrival_date": dt.date(2026, 1, 2) + dt.timedelta(days=i // 3),
            "arrival_number": i,
            "issuer": "UBND tỉnh Bến Tre",
            "notation": f"{i:02d}/UBND-VP",
            "document_date": dt.date(2026, 1, 1) + dt.timedelta(days=i // 3),
            "type_and_subject": f"Công văn về việc triển khai chuyển đổi số năm 2026, đợt {i}",
            "receiver": "Văn phòng",
            "passed_on_date": dt.date(2026, 1, 2) + dt.timedelta(days=i // 3),
            "received_by": "",
            "notes": "",
        }
        for i in range(1, count + 1)
    ]


async def test_incoming_register_of_40_rows_repeats_its_header_on_every_page() -> None:
    pdf = await print_book(
        kind="incoming",
        org_name="Hội LHPN tỉnh Bến Tre",
        year=2026,
        rows=_incoming_rows(40),
        converter=get_converter(),
    )
    doc = _render("register-incoming", pdf)
    pages = [p for p in doc.layout_text.split("\f") if p.strip()]
    assert len(pages) >= 2
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN — năm 2026" in pages[0]
    for page in pages:
        assert "Số đến" in page and "Tác giả" in page and "Ký nhận" in page and "Ghi chú" in page
    width, height = doc.page_size
    assert width > height  # landscape
    for i in (1, 20, 40):
        assert f"{i:02d}/UBND-VP" in doc.layout_text


async def test_outgoing_register_has_the_decree_30_columns() -> None:
    rows = [
        {
            "notation": "15/QĐ-HLHPN",
            "document_date": dt.date(2026, 3, 9),
            "type_and_subject": "Quyết định ban hành Quy chế quản lý văn bản điện tử",
            "signer": "Nguyễn Thị Hồng Nhung",
            "recipients": ["Hội LHPN các huyện", "Lưu VT"],
            "file_copy_unit": "Văn phòng",
            "copies": 12,
            "sent_date": dt.date(2026, 3, 9),
        }
    ]
    pdf = await print_book(kind="outgoing", org_name="Hội LHPN tỉnh Bến Tre", year=2026, rows=rows, converter=get_converter())
    text = _render("register-outgoing", pdf).layout_text
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐI — năm 2026" in text
    for header in ("Người ký", "Nơi nhận văn bản", "lượng", "chuyển", "Ký nhận", "Ghi chú"):
        assert header in text, header
    assert "15/QĐ-HLHPN" in text and "09/03/2026" in text and "huyện; Lưu VT" in text


def test_register_row_with_unknown_column_is_refused() -> None:
    from services.documents import build_register_docx

    with pytest.raises(InvalidInput):
        build_register_docx(kind="incoming", org_name="X", year=2026, rows=[{"bogus": 1}])


def test_register_rows_keep_each_value_as_python_docx_writes_it() -> None:
    """Rows are copies of one formatted row: a line break, a tab, spaces at the ends and an
    empty value come out as python-docx writes them in a cell of its own."""
    from services.documents import build_register_docx

    rows = _incoming_rows(3)
    rows[0]["type_and_subject"] = "Công văn\nvề việc\tphối hợp"
    rows[1]["issuer"] = "  UBND tỉnh  "
    rows[2]["receiver"] = None
    table = docx.Document(io.BytesIO(build_register_docx(kind="incoming", org_name="X", year=2026, rows=rows))).tables[0]
    assert len(table.rows) == 2 + 3
    subject, issuer, receiver = table.cell(2, 5), table.cell(3, 2), table.cell(4, 6)
    assert subject.text == "Công văn\nvề việc\tphối hợp"
    xml = subject._tc.xml
    assert "<w:br/>" in xml and "<w:tab/>" in xml
    assert issuer.text == "  UBND tỉnh  " and 'xml:space="preserve"' in issuer._tc.xml
    assert receiver.text == "" and not receiver.paragraphs[0].runs
    assert table.cell(3, 3).text == "02/UBND-VP" and table.cell(4, 0).text == "03/01/2026"
    for cell in table.rows[3].cells:  # every row formatted as the first: one paragraph, 8 pt
        assert len(cell.paragraphs) == 1


async def test_a_long_register_is_printed_without_holding_up_the_event_loop() -> None:
    """A year's register takes seconds to lay out: other requests go on meanwhile."""
    import asyncio

    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.writer import PdfFileWriter

    writer, name = PdfFileWriter(), generic.NameObject
    writer.insert_page(
        generic.DictionaryObject(
            {name("/Type"): name("/Page"), name("/MediaBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 842, 595)])}
        )
    )
    blank = io.BytesIO()
    writer.write(blank)

    class Converter:  # the layout only, not LibreOffice's time: one blank page a part
        async def to_pdf(self, data: bytes, *, extra_seconds: float = 0.0) -> bytes:
            return blank.getvalue()

    counting = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    await print_book(kind="incoming", org_name="X", year=2026, rows=_incoming_rows(2000), converter=Converter())
    done.set()
    await counting
    assert ticks - before > 10, "the loop ran while the register was laid out"


async def test_a_long_register_is_printed_in_parts_each_from_a_new_page_with_its_headers(monkeypatch) -> None:
    """LibreOffice lays out one long table in quadratic time: parts of PART_ROWS rows, each a
    table with the header rows, from the top of a new page."""
    from services.documents import registers_print

    monkeypatch.setattr(registers_print, "PART_ROWS", 20)
    rows = _incoming_rows(45)
    table_count = len(
        docx.Document(io.BytesIO(registers_print.build_register_docx(kind="incoming", org_name="X", year=2026, rows=rows))).tables
    )
    assert table_count == 3
    pdf = await print_book(kind="incoming", org_name="Hội LHPN tỉnh Bến Tre", year=2026, rows=rows, converter=get_converter(), part_rows=20)
    pages = [p for p in _render("register-parts", pdf).layout_text.split("\f") if p.strip()]
    for page in pages:
        assert "Số đến" in page and "Ký nhận" in page
    text = "\f".join(pages)
    positions = [text.index(f"{i:02d}/UBND-VP") for i in range(1, 46)]
    assert positions == sorted(positions), "every row, in order"
    for first in (21, 41):  # a part opens a page: the row before it is on another one
        page = next(p for p in pages if f"{first:02d}/UBND-VP" in p)
        assert f"{first - 1:02d}/UBND-VP" not in page
