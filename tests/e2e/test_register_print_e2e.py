"""Printing the incoming register in Chromium against a real `lienthong dev`: the clerk clicks
"In sổ (PDF)", the page shows the print under way and then, without a reload, the download link
(the worker printed it through LibreOffice); the file is a PDF of the book. Without JavaScript
the page refreshes itself until the print is done. Screenshots at desktop and phone widths."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from demo.directory import DEMO_PASSWORD
from tests.e2e.conftest import DESKTOP, PHONE, screenshot, sign_in

DONE_TIMEOUT = 180_000  # ms: the first print of the run starts LibreOffice on a loaded machine


def _print_and_download(page, width: int) -> None:  # type: ignore[no-untyped-def]
    panel = page.locator("[data-print-panel]").first
    panel.locator("[data-print-start]").click()
    page.wait_for_url(re.compile(r"/incoming/book\?.*#register-print$"))
    # The page the click led to shows the print under way (rendered before the worker has it).
    expect(panel.locator("[data-print-progress]")).to_contain_text("Đang in sổ")
    expect(panel.locator("progress")).to_be_visible()
    screenshot(page, f"register-print-progress-{width}")
    page.evaluate("window.stillTheSamePage = true")
    link = panel.locator("[data-print-download]")
    expect(link).to_be_visible(timeout=DONE_TIMEOUT)
    assert page.evaluate("window.stillTheSamePage === true")  # came live: the page was not reloaded
    expect(panel.locator("[data-print-done]")).to_contain_text("Sổ đã in xong lúc")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"register-print-done-{width}")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename.startswith("so-van-ban-den-") and download.value.suggested_filename.endswith(".pdf")
    with open(download.value.path(), "rb") as handle:
        assert handle.read(5) == b"%PDF-"


def test_clerk_prints_the_incoming_register_in_the_background(live_dev, browser) -> None:  # type: ignore[no-untyped-def]
    for size in (DESKTOP, PHONE):
        context = browser.new_context(viewport=size, locale="vi-VN", accept_downloads=True)
        page = context.new_page()
        sign_in(page, live_dev.url, "mai.tran", DEMO_PASSWORD)
        page.goto(live_dev.url + "/incoming/book")
        _print_and_download(page, size["width"])  # at the second width: "In lại" (print again)
        context.close()


def test_without_javascript_the_page_refreshes_until_the_print_is_done(live_dev, browser) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=PHONE, locale="vi-VN", java_script_enabled=False)
    page = context.new_page()
    sign_in(page, live_dev.url, "mai.tran", DEMO_PASSWORD)
    page.goto(live_dev.url + "/outgoing/register")
    page.locator("[data-print-panel] [data-print-start]").click()
    expect(page.locator("[data-print-panel] [data-print-progress]")).to_contain_text("Đang in sổ")
    # A <noscript> meta refresh reloads the page every 5 s while the print runs.
    expect(page.locator("[data-print-panel] [data-print-download]")).to_be_visible(timeout=DONE_TIMEOUT)
    response = page.request.get(live_dev.url + (page.locator("[data-print-download]").get_attribute("href") or ""))
    assert response.status == 200 and response.body().startswith(b"%PDF-")
    context.close()
