"""Search and the dashboard in Chromium against a real `lienthong dev` (demo data): an accented
phrase whose words are not side by side finds the document; the dashboard and the incoming
statistics read in Vietnamese and English; pages at 390 px and desktop."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from demo.directory import DEMO_PASSWORD
from tests.e2e.conftest import DESKTOP, PHONE, screenshot, sign_in

pytestmark = pytest.mark.e2e

SUBJECT = "Kế hoạch tổ chức Tháng hành động vì bình đẳng giới"  # a demo document, seeded as the server starts


def _wait_for_demo_document(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        page.goto(base_url + "/incoming/search?q=" + quote("125/KH-UBND"))
        if page.get_by_role("link", name="125/KH-UBND").count():
            return
        page.wait_for_timeout(1000)  # seeding runs in the background of `dev`
    raise AssertionError("the demo documents were not seeded")


def test_search_finds_every_word_with_accents_and_pages_read_in_both_languages(live_dev, browser) -> None:
    ctx = browser.new_context(viewport=DESKTOP, locale="vi-VN")
    page = ctx.new_page()
    sign_in(page, live_dev.url, "mai.tran", DEMO_PASSWORD)
    _wait_for_demo_document(page, live_dev.url)

    page.goto(live_dev.url + "/incoming/search")
    page.get_by_label("Từ khóa (số, ký hiệu, trích yếu, cơ quan ban hành)").fill("kế hoạch bình đẳng giới ỦY BAN")
    page.get_by_role("button", name="Tra cứu").click()
    page.wait_for_url("**/incoming/search?**")
    assert page.locator("table.list tbody tr").count() == 1
    assert SUBJECT in page.locator("table.list").inner_text()
    screenshot(page, "search-accented-desktop-vi")

    phone = browser.new_context(viewport=PHONE, locale="vi-VN")
    small = phone.new_page()
    sign_in(small, live_dev.url, "mai.tran", DEMO_PASSWORD)
    small.goto(live_dev.url + "/incoming/search?q=" + quote("binh dang gioi ke hoach"))
    assert SUBJECT in small.content()
    assert small.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(small, "search-accented-390-vi")

    for lang, viewport, percent in (("vi", DESKTOP, "\u00a0%"), ("en", PHONE, "%")):
        view = browser.new_context(viewport=viewport, locale="vi-VN")
        leader = view.new_page()
        sign_in(leader, live_dev.url, "lan.nguyen", DEMO_PASSWORD)
        view.add_cookies([{"name": "lt_lang", "value": lang, "url": live_dev.url}])
        leader.goto(live_dev.url + "/dashboard")
        kpis = leader.locator(".db-kpis").inner_text()
        assert percent in kpis and ("." not in kpis.split("\n")[-1] if lang == "vi" else "," not in kpis.split("\n")[-1])
        assert leader.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        screenshot(leader, f"dashboard-{'desktop' if viewport is DESKTOP else '390'}-{lang}")
        leader.goto(live_dev.url + "/incoming/stats")
        screenshot(leader, f"incoming-stats-{'desktop' if viewport is DESKTOP else '390'}-{lang}")
        leader.goto(live_dev.url + "/incoming/search?q=" + quote("ke hoach binh dang gioi"))
        assert SUBJECT in leader.content()
        screenshot(leader, f"search-{'desktop' if viewport is DESKTOP else '390'}-{lang}")
