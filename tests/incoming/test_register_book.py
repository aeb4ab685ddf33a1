"""The register book a page at a time: keyset pages by register number (next page, back to the
start, from any number), the whole book in the print; the outgoing register likewise."""

from __future__ import annotations

import io
import re

import docx
import pytest

from tests.helpers import sign_in
from tests.incoming.conftest import org_id, register
from tests.reports.factory import create_request
from tests.reports.factory import org_id as report_org

ROW = re.compile(r'<td data-label="Số đến">(\d+)</td>')


def _numbers(html: str) -> list[int]:
    return [int(n) for n in ROW.findall(html)]


def _next(html: str) -> str | None:
    found = re.search(r'<a class="button primary" href="([^"]+)" rel="next">', html)
    return found.group(1).replace("&amp;", "&") if found else None


async def test_a_year_of_incoming_documents_is_paged_by_number_and_printed_whole(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    for i in range(205):
        await register(db, settings, notation=f"{i + 1}/CV-UBND")
    province = await org_id(db, "hlhpn-bentre")
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")

    first = await clerk.get(f"/incoming/book?org={province}")
    assert first.status_code == 200
    assert _numbers(first.text) == list(range(1, 101))
    assert "Đang hiển thị 100 dòng; sổ có 205 văn bản." in first.text and "Đầu sổ" not in first.text
    second = await clerk.get(_next(first.text) or "")
    assert _numbers(second.text) == list(range(101, 201)) and "Đầu sổ" in second.text
    last = await clerk.get(_next(second.text) or "")
    assert _numbers(last.text) == list(range(201, 206)) and _next(last.text) is None

    jumped = await clerk.get(f"/incoming/book?org={province}&start=150")
    assert _numbers(jumped.text)[:2] == [150, 151] and len(_numbers(jumped.text)) == 56
    beyond = await clerk.get(f"/incoming/book?org={province}&start=999")
    assert _numbers(beyond.text) == [] and "Không có văn bản nào sau số này trong sổ." in beyond.text
    assert (await clerk.get(f"/incoming/book?org={province}&after=-1")).status_code == 422

    printed = await clerk.get(f"/incoming/book?org={province}&format=docx")
    table = docx.Document(io.BytesIO(printed.content)).tables[0]
    numbers = [row.cells[1].text for row in table.rows if row.cells[1].text.strip().isdigit()]
    assert len(numbers) == 205, "the print is the whole book"


async def test_the_outgoing_register_is_paged_across_its_series(
    demo_db_sqlite, client_for, settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import web.register_book
    import web.routes.outgoing

    monkeypatch.setattr(web.register_book, "BOOK_PAGE", 2)
    monkeypatch.setattr(web.routes.outgoing, "BOOK_PAGE", 2)
    db = demo_db_sqlite
    district = await report_org(db, "hlhpn-tpbentre")
    letters = [await create_request(db, settings, [district], title=f"Báo cáo số {i}") for i in range(5)]
    notations = [r.notation for r in letters]
    province = await org_id(db, "hlhpn-bentre")
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    seen: list[str] = []
    url: str | None = f"/outgoing/register/{letters[0].created_at.year}?org={province}"
    pages = 0
    while url:
        page = await clerk.get(url)
        assert page.status_code == 200
        seen += [n for n in notations if n and f"<strong>{n}</strong>" in page.text]
        url, pages = _next(page.text), pages + 1
    assert pages == 3 and sorted(seen) == sorted(notations) and len(seen) == len(set(seen))
