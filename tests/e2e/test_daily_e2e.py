"""Daily pages in Chromium against a real `lienthong dev`: the duplicate override, the navigation
badges against the home page, the direction's co-handlers, the audit pages in people's words and
the organisation's video bridge; screenshots at desktop and 390 px."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest

from demo.directory import DEMO_PASSWORD
from services.calendar import vn_today
from tests.e2e.conftest import DESKTOP, PHONE, screenshot, sign_in

pytestmark = pytest.mark.e2e


def _page(browser, live_dev, username: str, viewport: dict[str, int]):  # type: ignore[no-untyped-def]
    page = browser.new_context(viewport=viewport, locale="vi-VN").new_page()
    sign_in(page, live_dev.url, username, DEMO_PASSWORD)
    return page


def _wait_for_demo_document(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    """The demo seeding may still run after start-up: wait until it has registered 125/KH-UBND."""
    deadline = time.monotonic() + 180
    while "125/KH-UBND" not in page.request.get(base_url + "/incoming/search?text=125%2FKH-UBND").text():
        assert time.monotonic() < deadline, "the demo never registered 125/KH-UBND"
        page.wait_for_timeout(500)


def test_duplicate_override_shows_only_once_a_duplicate_is_found(live_dev, browser) -> None:
    for viewport, suffix in ((DESKTOP, "desktop"), (PHONE, "390")):
        clerk = _page(browser, live_dev, "mai.tran", viewport)
        _wait_for_demo_document(clerk, live_dev.url)
        clerk.goto(live_dev.url + "/incoming/new")
        override = clerk.locator("#dup-confirm")
        assert not override.is_visible() and not clerk.locator("#dup-box").is_visible()
        screenshot(clerk, f"daily-incoming-new-fresh-{suffix}")
        # The demo registered 125/KH-UBND of the provincial People's Committee, dated two days ago.
        clerk.get_by_label("Cơ quan ban hành (tên)").fill("Ủy ban nhân dân tỉnh Bến Tre")
        clerk.get_by_label("Ngày văn bản").fill((vn_today() - timedelta(days=2)).isoformat())
        clerk.get_by_label("Số, ký hiệu").fill("125/KH-UBND")
        clerk.get_by_label("Số, ký hiệu").press("Tab")
        override.wait_for(state="visible")
        assert "125/KH-UBND" in clerk.locator("#dup-list").inner_text()
        assert clerk.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        screenshot(clerk, f"daily-incoming-new-duplicate-{suffix}")
        clerk.get_by_label("Số, ký hiệu").fill("126/KH-UBND")
        clerk.get_by_label("Số, ký hiệu").press("Tab")
        override.wait_for(state="hidden")


def test_an_earlier_arrival_date_asks_for_a_reason_on_the_form(live_dev, browser) -> None:
    """The demo registered today's documents: an earlier date comes back with its message and the
    reason field (the form filled as typed); with a reason it is registered and the note shows it."""
    from tests.signing.conftest import make_tiny_pdf

    for days, viewport, suffix in ((1, DESKTOP, "desktop"), (2, PHONE, "390")):
        # Each round's entry becomes the register's last one: the next round goes a day earlier.
        yesterday = vn_today() - timedelta(days=days)
        if yesterday.year != vn_today().year:
            pytest.skip("early January: no earlier date in this year's register")
        clerk = _page(browser, live_dev, "mai.tran", viewport)
        _wait_for_demo_document(clerk, live_dev.url)
        clerk.goto(live_dev.url + "/incoming/new")
        assert clerk.locator('input[name="backdate_reason"]').count() == 0
        notation = f"31/SNV-{suffix}"
        clerk.get_by_label("Cơ quan ban hành (tên)").fill("Sở Nội vụ tỉnh Bến Tre")
        clerk.get_by_label("Số, ký hiệu").fill(notation)
        clerk.get_by_label("Ngày văn bản").fill((yesterday - timedelta(days=1)).isoformat())
        clerk.get_by_label("Trích yếu").fill("Về việc rà soát biên chế năm 2027")
        clerk.get_by_label("Ngày đến").fill(yesterday.isoformat())
        upload = {"name": "cv.pdf", "mimeType": "application/pdf", "buffer": make_tiny_pdf(notation)}
        clerk.locator('input[name="files"]').set_input_files(upload)
        clerk.get_by_role("button", name="Vào sổ và cấp số đến").click()
        clerk.get_by_role("alert").get_by_text(re.compile("sớm hơn ngày đến của văn bản vào sổ gần nhất")).wait_for()
        reason = clerk.get_by_label(re.compile("Lý do ghi ngày đến sớm hơn"))
        assert reason.is_visible() and clerk.get_by_label("Số, ký hiệu").input_value() == notation
        assert clerk.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        screenshot(clerk, f"daily-incoming-backdate-{suffix}")
        reason.fill("Nhận bản giấy chiều thứ Bảy, vào sổ bổ sung")
        clerk.locator('input[name="files"]').set_input_files(upload)
        clerk.get_by_role("button", name="Vào sổ và cấp số đến").click()
        clerk.get_by_text("Nhận bản giấy chiều thứ Bảy, vào sổ bổ sung").wait_for()
        assert clerk.get_by_text("Vào sổ với ngày đến sớm hơn").first.is_visible()


def test_navigation_badges_count_the_lines_of_the_home_page(live_dev, browser) -> None:
    for username, viewport, suffix in (
        ("mai.tran", DESKTOP, "clerk-desktop"),
        ("lan.nguyen", PHONE, "leader-390"),
        ("thu.le", DESKTOP, "officer-desktop"),
    ):
        page = _page(browser, live_dev, username, viewport)
        badges = {}
        for badge in page.locator("[data-count]").all():
            # Shown unless `hidden` (the phone menu may be folded, so not "visible" as such).
            if badge.evaluate("e => getComputedStyle(e).display") != "none":
                badges[badge.get_attribute("data-count")] = int(badge.inner_text())
        lines: dict[str, int] = {}
        for line in page.locator("[data-waiting]").all():
            key = line.get_attribute("data-waiting")
            lines[key] = lines.get(key, 0) + int(line.get_attribute("data-n"))
        assert badges == lines, username
        assert "home" not in badges and all(n > 0 for n in badges.values())  # no "0" badges
        screenshot(page, f"daily-home-{suffix}")


def test_leader_cannot_name_the_administrator_or_herself_as_co_handler(live_dev, browser) -> None:
    leader = _page(browser, live_dev, "lan.nguyen", PHONE)
    _wait_for_demo_document(leader, live_dev.url)
    leader.goto(live_dev.url + "/incoming/to-direct")
    leader.get_by_role("link", name="125/KH-UBND").first.click()
    co = leader.locator("fieldset", has_text="Phối hợp").first.inner_text()
    assert "Lê Thị Thu" in co and "Lê Minh Quân" not in co and "Nguyễn Thị Lan" not in co
    assert "Lê Minh Quân" not in leader.locator("select[name=lead]").inner_text()
    leader.locator("#direct").scroll_into_view_if_needed()
    screenshot(leader, "daily-incoming-direct-390")


def test_audit_pages_speak_in_peoples_words(live_dev, browser) -> None:
    for viewport, suffix in ((DESKTOP, "desktop"), (PHONE, "390")):
        auditor = _page(browser, live_dev, "dung.huynh", viewport)
        auditor.goto(live_dev.url + "/audit")
        table = auditor.locator("table.audit tbody").inner_text()
        assert not re.search(r"\b(auth|incoming|outgoing|meeting)\.[a-z_]+", table)  # no raw action codes
        assert "{" not in table
        screenshot(auditor, f"daily-audit-{suffix}")
        auditor.get_by_label("Số, ký hiệu").fill("125/KH")
        auditor.get_by_role("button", name="Lọc").click()
        auditor.wait_for_url("**notation=125*")
        objects = auditor.locator("table.audit tbody a").all_inner_texts()
        assert objects and all(o.startswith("125/KH-UBND — Kế hoạch tổ chức Tháng hành động") for o in objects)
        auditor.locator("table.audit tbody a").first.click()
        auditor.wait_for_url("**/audit/object/incoming/*")
        assert "Văn bản đến" in auditor.locator("h1").inner_text()
        screenshot(auditor, f"daily-audit-object-{suffix}")
        auditor.get_by_role("link", name="Mở văn bản").click()
        auditor.get_by_role("link", name="Lịch sử").click()  # and back to its trail from the document
        auditor.wait_for_url("**/audit/object/incoming/*")
        assert auditor.evaluate("document.documentElement.scrollWidth") <= viewport["width"]


def test_organisation_page_says_which_video_bridge(live_dev, browser) -> None:
    for viewport, suffix in ((DESKTOP, "desktop"), (PHONE, "390")):
        admin = _page(browser, live_dev, "quantri", viewport)
        admin.goto(live_dev.url + "/admin")
        admin.get_by_role("link", name="Hội Liên hiệp Phụ nữ tỉnh Bến Tre").first.click()
        bridge = admin.locator("#video")
        assert "Chưa có" in bridge.inner_text() and "meet.jit.si" not in admin.content()
        bridge.scroll_into_view_if_needed()
        screenshot(admin, f"daily-admin-org-video-{suffix}")
