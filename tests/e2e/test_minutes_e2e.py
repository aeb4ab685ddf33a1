"""Browser test on a real `lienthong dev`: the secretary types the minutes, a participant sees
the text appear live (escaped), at phone and desktop widths."""

from __future__ import annotations

import re
import time

from demo.directory import DEMO_PASSWORD
from tests.e2e.conftest import DESKTOP, PHONE, screenshot, sign_in
from tests.e2e.signview import check_viewer, wrong_pin

DRAFT_MEETING = "Họp chuyên đề công tác phòng, chống bạo lực gia đình"


def _minutes_url(page, base: str) -> str:  # type: ignore[no-untyped-def]
    """The demo's draft minutes, found from the secretary's task list."""
    page.goto(base + "/tasks")
    return base + page.get_by_role("link", name=DRAFT_MEETING).first.get_attribute("href")


def _settled_content(page) -> str:  # type: ignore[no-untyped-def]
    """The page's HTML once a navigation in progress (the live status reload) has finished."""
    for _ in range(20):
        try:
            return page.content()
        except Exception:  # noqa: BLE001 - "the page is navigating": wait for it to load
            page.wait_for_load_state()
            page.wait_for_timeout(250)
    return page.content()


def test_secretary_types_and_participant_sees_it_live(live_dev, browser) -> None:  # type: ignore[no-untyped-def]
    base = live_dev.url
    secretary_ctx = browser.new_context(viewport=DESKTOP, locale="vi-VN")
    member_ctx = browser.new_context(viewport=PHONE, locale="vi-VN")
    secretary, member = secretary_ctx.new_page(), member_ctx.new_page()
    try:
        live_dev.wait_for_demo()
        sign_in(secretary, base, "ngoc.vo", DEMO_PASSWORD)
        url = _minutes_url(secretary, base)
        assert re.search(r"/meetings/\d+/minutes$", url)
        secretary.goto(url)
        sign_in(member, base, "thu.le", DEMO_PASSWORD)
        member.goto(url)
        member.wait_for_timeout(1500)  # the live channel connects
        box = secretary.locator("[data-item] textarea[data-field=discussion]").first
        typed = "Đại biểu thống nhất tăng cường truyền thông <b>phòng chống</b> bạo lực gia đình."
        box.fill("")
        box.type(typed, delay=5)
        secretary.get_by_text(re.compile(r"Đã lưu \(phiên bản \d+\)")).wait_for(timeout=20000)
        shown = member.locator('[data-item] [data-show="discussion"]').first
        shown.wait_for()
        member.wait_for_function(
            "t => document.querySelector('[data-item] [data-show=\"discussion\"]').textContent === t", arg=typed, timeout=20000
        )
        # Shown as text: the typed tag is not turned into an element.
        assert member.locator("[data-item] [data-show=discussion] b").count() == 0
        assert shown.text_content() == typed
        screenshot(secretary, "minutes-secretary-desktop")
        screenshot(member, "minutes-participant-phone")
        member.goto(base + "/tasks")
        screenshot(member, "tasks-phone")
        secretary.set_viewport_size(PHONE)
        secretary.goto(url)
        screenshot(secretary, "minutes-secretary-phone")
    finally:
        secretary_ctx.close()
        member_ctx.close()


def test_chair_signs_the_waiting_minutes_and_they_are_numbered(live_dev, browser) -> None:  # type: ignore[no-untyped-def]
    base = live_dev.url
    ctx = browser.new_context(viewport=DESKTOP, locale="vi-VN")
    page = ctx.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        live_dev.wait_for_demo()
        sign_in(page, base, "lan.nguyen", DEMO_PASSWORD)
        page.goto(base + "/tasks")
        page.get_by_role("link", name="Họp Ban Thường vụ tháng 6/2026").first.click()
        # What the chair sees is what she signs: the secretary-signed PDF, page by page, above the PIN.
        minutes_id = re.search(r"/minutes/(\d+)/sign", page.locator("#sign form").get_attribute("action")).group(1)
        to_sign = page.request.get(f"{base}/minutes/{minutes_id}/file/signed").body()
        check_viewer(page, "#sign", to_sign, f"/minutes/{minutes_id}")
        # A wrong PIN gives the same page back with the message and the document; then the right one.
        wrong_pin(page, "#sign", "Ký với tư cách chủ trì")
        check_viewer(page, "#sign", to_sign, f"/minutes/{minutes_id}")
        screenshot(page, "minutes-chair-wrong-pin")
        page.get_by_label("Mã PIN ký số").fill("123456")
        screenshot(page, "minutes-chair-to-sign")
        page.get_by_role("button", name="Ký với tư cách chủ trì").click()
        page.wait_for_url(re.compile(r"/minutes\?ok=1"))
        url = page.url
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "Đã ký và gửi" not in _settled_content(page):
            page.wait_for_timeout(2000)  # the page also reloads itself on the live status event
            try:
                page.goto(url)
            except Exception:  # noqa: BLE001 - a live reload raced this navigation
                pass
        assert "Đã ký và gửi" in _settled_content(page)
        assert re.search(r"\d{2}/BB-HLHPN", page.inner_text("main"))
        screenshot(page, "minutes-chair-signed")
        # The chair manages the tasks her body assigned: reassign, new due date, cancel (phone width).
        page.set_viewport_size(PHONE)
        page.goto(base + "/tasks?view=assigned")
        page.goto(base + page.locator("main a[href^='/tasks/']").first.get_attribute("href"))
        assert page.get_by_role("heading", name="Giao lại hoặc đổi hạn").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "task-manage-phone")
    finally:
        ctx.close()
