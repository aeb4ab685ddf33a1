"""In Chromium against a real `lienthong dev`: a partner's package and then its recall request
are dropped into the exchange inbox; the worker takes both in, and the clerk answers the recall
from the document's page (desktop and phone)."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import expect

from demo.directory import DEMO_PASSWORD
from tests.e2e.conftest import DESKTOP, PHONE, reload_until, screenshot, sign_in

FIXTURES = Path(__file__).resolve().parents[1] / "outgoing" / "edxml_fixtures"
REASON = "Văn bản ban hành chưa đúng thẩm quyền"


def _drop(inbox: Path, name: str, data: bytes) -> None:
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / f".{name}.part").write_bytes(data)
    (inbox / f".{name}.part").rename(inbox / name)  # as a partner writes: never half a file


def _taken(inbox: Path, name: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while (inbox / name).exists() or not (inbox / "done" / name).exists():
        assert not (inbox / "failed" / name).exists(), (inbox / "failed" / f"{name}.txt").read_text(encoding="utf-8")
        assert time.monotonic() < deadline, f"{name} was not taken in"
        time.sleep(0.5)


def test_the_clerk_answers_a_partners_recall_on_the_documents_page(live_dev, browser) -> None:  # type: ignore[no-untyped-def]
    sdk = (FIXTURES / "sdk-cong-van.edxml").read_bytes()
    recall = sdk.replace(b"<edXML:BussinessDocType>0<", b"<edXML:BussinessDocType>1<").replace(
        b"<edXML:BussinessDocReason></edXML:BussinessDocReason>", f"<edXML:BussinessDocReason>{REASON}</edXML:BussinessDocReason>".encode()
    )
    inbox = live_dev.data_dir / "exchange" / "inbox"
    _drop(inbox, "ubnd-1234.edxml", sdk)
    _taken(inbox, "ubnd-1234.edxml")
    _drop(inbox, "ubnd-1234-thuhoi.edxml", recall)
    _taken(inbox, "ubnd-1234-thuhoi.edxml")

    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    page = context.new_page()
    sign_in(page, live_dev.url, "mai.tran", DEMO_PASSWORD)
    page.goto(live_dev.url + "/incoming/to-register")
    page.get_by_role("link", name="1234/UBND-VX").first.click()
    reload_until(page, "[data-recall-request]")
    expect(page.locator("[data-recall-request]")).to_contain_text(REASON)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "incoming-recall-request-390")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "incoming-recall-request-1280")

    page.get_by_role("button", name="Từ chối thu hồi").click()  # no reason: refused, in Vietnamese
    expect(page.get_by_text("Nhập lý do từ chối thu hồi")).to_be_visible()
    page.go_back()
    page.get_by_role("button", name="Đồng ý thu hồi").click()
    page.wait_for_url("**/incoming/*?ok=recall_answered")
    expect(page.locator("[data-recall-request]")).to_have_count(0)
    expect(page.locator("ol.notes")).to_contain_text("Đồng ý cho cơ quan ban hành thu hồi văn bản.")
    screenshot(page, "incoming-recall-answered-1280")
    context.close()
