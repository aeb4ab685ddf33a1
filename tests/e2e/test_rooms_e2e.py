"""The rooms in Chromium against a real `lienthong dev`: a participant reads the meeting's
documents page by page on a phone, and the projector fits a 1366×768 and a 1920×1080 screen
without scrolling (the timer on one line, the result and the quorum in view)."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from demo.directory import DEMO_PASSWORD
from demo.incoming import demo_pdf
from tests.e2e.conftest import PHONE, screenshot, sign_in
from tests.e2e.signview import pdf_pages

pytestmark = pytest.mark.e2e
LIVE = "Họp Ban Thường vụ Hội LHPN tỉnh tháng 11/2026"  # open, a speaker and a vote open
DONE = "Hội nghị triển khai Chương trình phối hợp giữa Hội LHPN tỉnh và Sở Lao động năm 2026"  # closed, votes closed
SCREENS = ({"width": 1366, "height": 768}, {"width": 1920, "height": 1080})


def _as(browser, base: str, username: str, size):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=size, locale="vi-VN")
    page = context.new_page()
    page.set_default_timeout(90_000)  # a loaded machine: the demo seeding may still run meanwhile
    sign_in(page, base, username, DEMO_PASSWORD)
    return context, page


def _meeting(page, base: str, title: str) -> str:  # type: ignore[no-untyped-def]
    """The meeting's URL from the list (the demo seeding may still run)."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        page.goto(base + "/meetings")
        link = page.locator("main a[href^='/meetings/']", has_text=title)
        for n in range(link.count()):
            href = link.nth(n).get_attribute("href")
            if re.fullmatch(r"/meetings/\d+", href):
                return base + href
        time.sleep(3)
    raise AssertionError(f"the demo meeting {title!r} did not appear")


def _two_page_pdf(tmp: Path) -> Path:
    for n in (1, 2):
        (tmp / f"{n}.pdf").write_bytes(demo_pdf(f"Tai lieu hop - trang {n}"))
    subprocess.run(["pdfunite", str(tmp / "1.pdf"), str(tmp / "2.pdf"), str(tmp / "tai-lieu-hop.pdf")], check=True)
    return tmp / "tai-lieu-hop.pdf"


def test_a_participant_reads_the_meeting_documents_on_a_phone(live_dev, browser) -> None:  # type: ignore[no-untyped-def]
    base = live_dev.url
    context, page = _as(browser, base, "mai.tran", {"width": 1280, "height": 860})
    url = _meeting(page, base, LIVE)
    with tempfile.TemporaryDirectory() as work:
        pdf = _two_page_pdf(Path(work))
        page.goto(url + "#documents")
        form = page.locator("#documents form")
        form.locator("input[type=file]").set_input_files(str(pdf))
        form.locator("input[name=title]").fill("Dự thảo Kế hoạch Tháng hành động")
        form.get_by_role("button", name="Tải lên").click()
        page.wait_for_load_state()
        data = pdf.read_bytes()
    context.close()

    context, page = _as(browser, base, "thu.le", PHONE)
    try:
        page.goto(url + "/room")
        section = page.locator(".mt-docs")
        item = section.locator("details", has_text="Dự thảo Kế hoạch Tháng hành động")
        item.locator("summary").click()
        images = item.locator("[data-doc-images] img")
        images.first.wait_for()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=images.first.element_handle())
        assert images.count() == pdf_pages(data) == int(item.locator("[data-doc-images]").get_attribute("data-pages")) == 2
        assert re.fullmatch(r"/meetings/\d+/documents/\d+/pdf/[0-9a-f]{64}/pages/1\.png", images.first.get_attribute("src"))
        assert images.first.bounding_box()["width"] >= 300  # the page fills the phone's width
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        item.scroll_into_view_if_needed()
        screenshot(page, "room-documents-390")
    finally:
        context.close()


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: f"{s['width']}x{s['height']}")
def test_the_projector_fits_the_screen_without_scrolling(live_dev, browser, screen) -> None:  # type: ignore[no-untyped-def]
    base = live_dev.url
    context, page = _as(browser, base, "lan.nguyen", screen)
    try:
        for title, name in ((LIVE, "live"), (DONE, "result")):
            page.goto(_meeting(page, base, title) + "/projector")
            page.locator("[data-bind=quorum] span").wait_for()
            if name == "result":
                page.locator(".pj-vote .poll-result .bars li").first.wait_for()
            else:
                page.locator(".pj-vote .poll-open, .pj-vote .poll-result").first.wait_for()
            fit = page.evaluate("""() => ({
                height: document.scrollingElement.scrollHeight, width: document.scrollingElement.scrollWidth,
                innerHeight, innerWidth })""")
            assert fit["height"] <= fit["innerHeight"] and fit["width"] <= fit["innerWidth"], fit
            # The timer keeps to one line, and what the hall must read stays on the screen.
            timer = page.locator(".pj-timer")
            assert timer.evaluate("p => p.getBoundingClientRect().height <= parseFloat(getComputedStyle(p).lineHeight) * 1.5")
            for selector in (".pj-vote [data-bind=poll] > div", "[data-bind=quorum]", ".pj-current", ".pj-clock"):
                box = page.locator(selector).first.bounding_box()
                assert box and box["y"] >= 0 and box["y"] + box["height"] <= screen["height"], (selector, box)
            # Readable from the back of a hall: no running text below ~2.5 % of the screen height.
            quorum_px = page.locator("[data-bind=quorum]").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
            current_px = page.locator(".pj-current").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
            assert quorum_px >= screen["height"] * 0.025 and current_px >= screen["height"] * 0.05, (quorum_px, current_px)
            screenshot(page, f"projector-{name}-{screen['width']}x{screen['height']}")
    finally:
        context.close()
